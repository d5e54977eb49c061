import { holdsVip } from '../../facts/derived.js';
import { vipOf } from '../../inventory/model.js';
import type { Task } from '../../tasks/context.js';
import { planFiles } from '../../tasks/files.js';
import { HANDOVER_SCRIPT } from './handover.js';

// A new haproxy manifest makes the kubelet restart haproxy's pod in place.
// On the master holding the VIP that left the VIP without haproxy until
// keepalived's check failed and moved it: a watch held through the VIP
// stalled up to 1.14 s, a request failed now and then. So before that
// master's manifests are written, the VIP goes to another master the way
// the keepalived-stop drill moves it (its held connections reset once the
// new holder has it), and haproxy restarts where nothing arrives. With one
// master there is no other to take it: the restart is the outage either way.

export const moveVipTask: Task = {
  name: 'move-vip',
  purpose: "the VIP is on another master before this one's haproxy pod restarts on a new manifest",
  plan({ inv, facts, files }) {
    if (inv.lbs.length < 2 || !holdsVip(inv, facts)) return [];
    const restarts = planFiles(facts, files.filter((f) => f.spec.id === 'haproxy.yaml')).some((c) => c.kind === 'file.write' && !c.modeOnly);
    if (!restarts) return [];
    return [{ kind: 'vip.handover', vip: vipOf(inv).address, script: HANDOVER_SCRIPT, why: "its new manifest restarts haproxy's pod on this master" }];
  },
};
