import type { summarize, Timeline } from './timeline.js';

export interface Expectation {
  /** Short name shown in the report: "VIP moved to lb2", "outage ≤ 1.0 s". */
  name: string;
  held: boolean;
  /** What was measured, in words and figures. */
  detail: string;
}

/**
 * One host's part of a drill's fault, as the host must undo it on its own:
 * armed there before the fault lands, run by kha after the hold.
 */
export interface Fault {
  host: string;
  /** Undoes the fault, also when it never landed; exits non-zero when it cannot. */
  heal: string;
  /** Exits 0 once the host is whole again. */
  healed: string;
  /** What `healed` checks, in words: "keepalived active". */
  whole: string;
}

export interface DrillResult {
  name: string;
  /** One line saying what the drill does to whom. */
  title: string;
  /** What the drill cannot show on this kind of cluster, when there is something. */
  caveat?: string;
  target: string;
  startedAt: string;
  durationMs: number;
  timeline: Timeline;
  summary: ReturnType<typeof summarize>;
  expectations: Expectation[];
  passed: boolean;
  /** Load balancers, in inventory order, for the report's lanes. */
  lbs: string[];
  /** Hosts kha could not heal: their own timers still have to. */
  notRestored: string[];
}
