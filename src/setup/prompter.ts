// The questions the wizard asks, behind one small interface: on a terminal
// they are @inquirer/prompts; the tests drive the same prompts through
// @inquirer/testing. Ctrl-C in any of them throws ExitPromptError (exit 130).

export type Validate = (value: string) => true | string;

export interface Choice<T extends string> {
  value: T;
  name: string;
  description?: string;
}

export interface Prompter {
  input(q: { message: string; default?: string; validate?: Validate }): Promise<string>;
  select<T extends string>(q: { message: string; choices: readonly Choice<T>[]; default?: T }): Promise<T>;
  confirm(q: { message: string; default: boolean }): Promise<boolean>;
  /** Typed without echo; never shown again. */
  password(q: { message: string; validate?: Validate }): Promise<string>;
}

/** The prompt library is loaded only when a question is asked. */
export async function terminalPrompter(): Promise<Prompter> {
  const p = await import('@inquirer/prompts');
  return {
    input: (q) => p.input(q),
    select: <T extends string>(q: { message: string; choices: readonly Choice<T>[]; default?: T }) => p.select<T>({ ...q, choices: [...q.choices] }),
    confirm: (q) => p.confirm(q),
    password: (q) => p.password({ ...q, mask: true }),
  };
}
