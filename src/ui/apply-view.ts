import type { ApplyListener } from '../execute/events.js';
import type { Inventory } from '../inventory/model.js';
import { humanRenderer, plainStages } from './apply-human.js';
import { jsonRenderer } from './apply-json.js';
import { ttyStages } from './apply-tty.js';
import type { Streams } from './output.js';

// Which of apply's three renderers a run gets: --json, a live terminal, or
// plain lines (CI, a pipe, a log file).

export type ApplyView = 'tty' | 'plain' | 'json';

export function applyView(json: boolean, env: NodeJS.ProcessEnv, stdout: { isTTY?: boolean } = process.stdout): ApplyView {
  if (json) return 'json';
  return stdout.isTTY && !env.CI ? 'tty' : 'plain';
}

export function applyRenderer(view: ApplyView, inv: Inventory, streams: Streams): ApplyListener {
  switch (view) {
    case 'json':
      return jsonRenderer(streams);
    case 'tty':
      return humanRenderer(inv, streams, ttyStages());
    case 'plain':
      return humanRenderer(inv, streams, plainStages(streams));
  }
}
