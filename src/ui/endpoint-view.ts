import { type Inventory, vipOf } from '../inventory/model.js';
import { pendingLine } from '../topology/static-pods/running.js';
import { reached, type EndpointCheck } from '../verify/endpoint.js';

// What apply says about the endpoint at its end, for people: on a first
// build, that it is up and what to run next; on a cluster, who answers.

export function formatEndpoint(inv: Inventory, c: EndpointCheck): string[] {
  const vip = `${vipOf(inv).address}:${inv.port}`;
  const lines: string[] = [];
  if (c.podsPending !== undefined) {
    lines.push(
      `keepalived and haproxy are ${pendingLine(c.podsPending)}. Nothing serves ${vip} until then.`,
      `Next: kha kubeadm ${inv.file} --out kubeadm-config.yaml (it tells kubeadm init to accept the manifests already in place),`,
      `then kubeadm init on ${inv.masters[0]?.name ?? 'the first master'} as it says, then kha apply ${inv.file} again: it checks the endpoint once the pods run.`,
    );
    return lines;
  }
  if (c.firstBuild && c.listening) {
    lines.push(`The endpoint is up: the VIP ${vip} is held by ${c.holder} and haproxy listens on it. No apiserver answers yet, as expected before kubeadm init:`);
    for (const m of c.masters) lines.push(`  ${m.name}: ${m.found}`);
    lines.push(
      `Next: kha kubeadm ${inv.file} --out kubeadm-config.yaml (the configuration for kubeadm init, with this endpoint and its certificate names),`,
      `then kubeadm init on ${inv.masters[0]?.name ?? 'the first master'} as it says, then kha status ${inv.file} --wait.`,
    );
    return lines;
  }
  const r = c.requests;
  if (r) {
    const spread = Object.entries(r.perMaster).map(([m, n]) => `${m} ${n}`).join(', ');
    const everyone = c.masters.every((m) => m.up && reached(r, m.name));
    const held = Object.entries(r.perMaster).filter(([m, n]) => n === 0 && (r.holding[m] ?? 0) > 0).map(([m]) => `${m} holds ${r.holding[m]}`);
    const heldWords = held.length > 0 ? `; ${held.join(', ')} held already, which leastconn weighs` : '';
    lines.push(`VIP ${vip} (held by ${c.holder}) answers: ${r.succeeded}/${r.requests} requests, ${everyone ? 'every master reached' : 'connections per master'} (${spread})${heldWords}`);
  }
  if (c.warnings.length > 0 && c.problems.length === 0) {
    lines.push(`Next: join the masters that have not answered yet (kha kubeadm ${inv.file} shows how), then kha status ${inv.file} --wait.`);
  }
  return lines;
}
