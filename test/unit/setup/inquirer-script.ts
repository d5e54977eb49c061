import { confirm, input, password, select } from '@inquirer/prompts';
import { render } from '@inquirer/testing';
import type { Choice, Prompter } from '../../../src/setup/prompter.js';

// A Prompter that answers from a script through @inquirer/testing: the real
// prompts render and receive keystrokes, so defaults, validation and Ctrl-C
// behave as on a terminal. Each step names the question it expects.

/** `refused`: typed and entered first, and expected to be refused (its screen is kept); then erased and `then` answered. */
export type Answer = string | boolean | { choose: string } | 'ctrl-c' | { enter: true } | { refused: string; then: string };

export interface Step {
  /** The question this answer is for. */
  ask: RegExp;
  answer: Answer;
}

const REFUSED_AFTER_MS = 100;

export class ScriptedPrompter implements Prompter {
  readonly asked: string[] = [];
  /** What each prompt showed when it was answered (validation errors included). */
  readonly screens: string[] = [];
  private next = 0;

  constructor(private readonly steps: readonly Step[]) {}

  private step(message: string): Step {
    this.asked.push(message);
    const s = this.steps[this.next++];
    if (!s) throw new Error(`unscripted question: ${message}`);
    if (!s.ask.test(message)) throw new Error(`expected a question matching ${s.ask}, got: ${message}`);
    return s;
  }

  assertDone(): void {
    if (this.next !== this.steps.length) throw new Error(`unanswered script steps from ${this.steps[this.next]?.ask}`);
  }

  private async answer<T>(rendered: Awaited<ReturnType<typeof render<unknown, T>>>, keys: () => void): Promise<T> {
    keys();
    const timeout = new Promise<'refused'>((r) => setTimeout(() => r('refused'), REFUSED_AFTER_MS));
    const done = await Promise.race([rendered.answer, timeout]);
    this.screens.push(rendered.getScreen());
    if (done === 'refused') throw new Error(`the prompt did not take the answer:\n${rendered.getScreen()}`);
    return done as T;
  }

  private ctrlC(rendered: { events: { keypress: (k: { name: string; ctrl: boolean }) => void }; answer: Promise<unknown> }): Promise<never> {
    rendered.events.keypress({ name: 'c', ctrl: true });
    return rendered.answer as Promise<never>;
  }

  async input(q: { message: string; default?: string; validate?: (v: string) => true | string }): Promise<string> {
    const s = this.step(q.message);
    const r = await render(input, q);
    if (s.answer === 'ctrl-c') return this.ctrlC(r);
    if (typeof s.answer === 'object' && 'refused' in s.answer) {
      const { refused, then } = s.answer;
      const early = await this.answer(r, () => {
        if (refused) r.events.type(refused);
        r.events.keypress('enter');
      }).then(
        (v) => `taken: ${v}`,
        () => undefined,
      );
      if (early !== undefined) throw new Error(`the prompt took ${JSON.stringify(refused)}, which the script expected it to refuse`);
      for (let i = 0; i < refused.length; i++) r.events.keypress('backspace');
      return this.answer(r, () => {
        r.events.type(then);
        r.events.keypress('enter');
      });
    }
    const text = typeof s.answer === 'string' ? s.answer : '';
    return this.answer(r, () => {
      if (text) r.events.type(text);
      r.events.keypress('enter');
    });
  }

  async select<T extends string>(q: { message: string; choices: readonly Choice<T>[]; default?: T }): Promise<T> {
    const s = this.step(q.message);
    const r = await render(select<T>, { ...q, choices: [...q.choices] });
    if (s.answer === 'ctrl-c') return this.ctrlC(r);
    const want = typeof s.answer === 'object' && 'choose' in s.answer ? s.answer.choose : undefined;
    const from = Math.max(0, q.choices.findIndex((c) => c.value === q.default));
    const to = want === undefined ? from : q.choices.findIndex((c) => c.value === want);
    if (to < 0) throw new Error(`no choice ${want} in: ${q.message}`);
    return this.answer(r, () => {
      for (let i = from; i < to; i++) r.events.keypress('down');
      for (let i = from; i > to; i--) r.events.keypress('up');
      r.events.keypress('enter');
    });
  }

  async confirm(q: { message: string; default: boolean }): Promise<boolean> {
    const s = this.step(q.message);
    const r = await render(confirm, q);
    if (s.answer === 'ctrl-c') return this.ctrlC(r);
    return this.answer(r, () => {
      if (typeof s.answer === 'boolean') r.events.type(s.answer ? 'y' : 'n');
      r.events.keypress('enter');
    });
  }

  async password(q: { message: string; validate?: (v: string) => true | string }): Promise<string> {
    const s = this.step(q.message);
    const r = await render(password, { ...q, mask: true });
    if (s.answer === 'ctrl-c') return this.ctrlC(r);
    return this.answer(r, () => {
      r.events.type(String(s.answer));
      r.events.keypress('enter');
    });
  }
}
