import type { summarize, Timeline } from './timeline.js';

export interface Expectation {
  /** Short name shown in the report: "VIP moved to lb2", "outage ≤ 1.0 s". */
  name: string;
  held: boolean;
  /** What was measured, in words and figures. */
  detail: string;
}

export interface DrillResult {
  name: string;
  /** One line saying what the drill does to whom. */
  title: string;
  target: string;
  startedAt: string;
  durationMs: number;
  timeline: Timeline;
  summary: ReturnType<typeof summarize>;
  expectations: Expectation[];
  passed: boolean;
  /** Load balancers, in inventory order, for the report's lanes. */
  lbs: string[];
}
