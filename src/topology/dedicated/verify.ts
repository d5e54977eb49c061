import { vipOf } from '../../inventory/model.js';
import { HostError } from '../../errors.js';
import { vipHolders } from '../../observe/vip.js';
import { readSeen, SEEN_PATH, seenAfter } from '../../verify/apiservers-seen.js';
import { checkEndpoint, type EndpointCheck } from '../../verify/endpoint.js';
import type { FinalCheck, FinalView } from '../topology.js';

/** Every load balancer in scope records which apiservers have answered, so that a later run tells an outage from a cluster still being built. */
async function recordSeen(view: FinalView, seen: ReadonlySet<string>, check: EndpointCheck): Promise<void> {
  const content = seenAfter(view.inv, seen, check.masters.filter((m) => m.up).map((m) => m.name));
  const hosts = view.inv.lbs.filter((lb) => view.scope.has(lb.name));
  await Promise.all(
    hosts.map(async (lb) => {
      const now = view.facts.get(lb.name)?.files.find((f) => f.path === SEEN_PATH)?.content ?? '';
      if (now !== content) await view.sessions.get(lb.name)!.put(SEEN_PATH, content, { mode: 0o644, owner: 'root', group: 'root' });
    }),
  );
}

/** The VIP holder's haproxy is asked about every apiserver, and the VIP itself is asked for /healthz. */
export const vipReachesEveryMaster: FinalCheck = async (view, stage, progress) => {
  const holder = (await vipHolders(view.inv, view.sessions))[0];
  if (!holder) throw new HostError('cluster', 'verify', `no load balancer holds the VIP ${vipOf(view.inv).address}`);
  progress(`asking haproxy on ${holder.name} about every apiserver; requests to https://${vipOf(view.inv).address}:${view.inv.port}/healthz`);
  const seen = readSeen(view.facts.values());
  const check = await checkEndpoint(view.inv, holder.name, view.sessions.get(holder.name)!, seen);
  await recordSeen(view, seen, check);
  for (const m of check.masters) progress(`${m.name}: ${m.up ? 'UP' : m.found}`);
  if (!check.listening) throw new HostError(holder.name, stage, check.problems[0]!);
  return check;
};
