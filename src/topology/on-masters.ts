import { apiserverPortCut, backendDrill, DRILLS, holderOf, partitionDrill, type Drill } from '../drill/drills.js';
import { DEDICATED } from './dedicated/index.js';
import type { Topology } from './topology.js';

// keepalived and haproxy on the masters themselves (source 004). hosts.yaml
// says so by listing each master under lb too. The endpoint is built the
// dedicated way; what differs is the ports (haproxy and the apiserver on one
// host need one each: inventory/semantic.ts; kubeadm is told the
// apiserver's: kubeadm/handoff.ts) and what two drills can break without
// breaking more than they mean to.

const backendDown = backendDrill({
  title: (ctx) => `refuse ${ctx.master.name}'s apiserver port ${ctx.master.apiserverPort} on ${ctx.master.name} (VRRP and etcd between the masters untouched)`,
  cuts: (ctx) => [apiserverPortCut(ctx.master)],
  marked: (ctx) => `${ctx.master.name} refuses ${ctx.master.apiserverPort}`,
});

// Cut off from its peers, a master is also an etcd member cut off from the
// others: in a real cluster it loses quorum and its apiserver stops being
// ready, so its haproxy has nothing to send to while it still holds the VIP.
// The drill judges the VIP and the clients only, and says so.
const partition = partitionDrill(
  (ctx) =>
    `${holderOf(ctx).name} is also an etcd member; cut off, it loses quorum and its apiserver stops being ready, so clients that reach the VIP on ${holderOf(ctx).name} get no apiserver while the partition lasts. This drill judges VRRP and the clients, not etcd`,
);

const DRILLS_ON_MASTERS: readonly Drill[] = DRILLS.map((d) => (d.name === 'backend-down' ? backendDown : d.name === 'partition' ? partition : d));

export const ON_MASTERS: Topology = {
  ...DEDICATED,
  name: 'on-masters',
  drills: DRILLS_ON_MASTERS,
};
