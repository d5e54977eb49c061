import { isBackup, waitForVip } from './gates.js';
import type { LoadBalancer } from '../../inventory/model.js';
import { vipHolders } from '../../observe/vip.js';
import type { Gate, HostSet, OrderView } from '../topology.js';

// The words playbooks/apply.yaml orders the load balancers with: host sets
// that follow the VIP, and the gates that confirm each start.

async function vipHolder(view: OrderView): Promise<LoadBalancer | undefined> {
  return (await vipHolders(view.inv, view.sessions))[0];
}

export const HOST_SETS: ReadonlyMap<string, HostSet> = new Map<string, HostSet>([
  ['all', async ({ inv }) => inv.lbs],
  ['lb', async ({ inv }) => inv.lbs],
  // Masters are reached through haproxy only: kha changes nothing on them.
  ['masters', async () => []],
  ['primary-if-vip-unheld', async (view) => ((await vipHolder(view)) ? [] : view.inv.lbs.filter((lb) => lb.primary))],
  [
    'lb-not-holding-vip',
    async (view) => {
      const holder = await vipHolder(view);
      return view.inv.lbs.filter((lb) => lb !== holder);
    },
  ],
  [
    'vip-holder',
    async (view) => {
      const holder = await vipHolder(view);
      return holder ? [holder] : [];
    },
  ],
]);

export const GATES: ReadonlyMap<string, Gate> = new Map<string, Gate>([
  [
    'holds-vip',
    async (view, lb, progress) => {
      progress(`${lb.name}: waiting for the VIP`);
      const ms = await waitForVip(view.sessions.get(lb.name)!, view.inv);
      progress(`${lb.name}: holds the VIP (${ms} ms)`);
    },
  ],
  [
    'is-backup',
    async (view, lb, progress) => {
      progress(`${lb.name}: confirming it joined as backup`);
      const holder = await vipHolder(view);
      await isBackup(view.sessions.get(lb.name)!, view.inv, holder && holder !== lb ? view.sessions.get(holder.name) : undefined);
    },
  ],
]);
