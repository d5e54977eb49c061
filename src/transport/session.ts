// The one interface every remote side effect goes through, so that planning
// and execution can be tested against a scripted fake (fake.ts) and run
// against real hosts over SSH (ssh.ts) without knowing the difference.

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  stdin?: string | Buffer;
  /** Kills the command and throws a TransportError when it runs longer. */
  timeoutMs?: number;
  /** Run as root; defaults to the session's setting (the inventory's `sudo`). */
  sudo?: boolean;
}

export interface PutOptions {
  /** Permission bits, e.g. 0o600; applied before the file becomes visible. */
  mode: number;
  owner?: string;
  group?: string;
}

export interface Session {
  /** The inventory name, for messages. */
  readonly host: string;
  /**
   * Runs `command` in the remote user's shell. A non-zero exit is a result,
   * not an error; a timeout or a lost connection throws TransportError.
   */
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Replaces `path` atomically: a temp file in the same directory, renamed over it. */
  put(path: string, content: string | Buffer, opts: PutOptions): Promise<void>;
  /** The file's bytes, or null when it does not exist. */
  get(path: string): Promise<Buffer | null>;
  close(): Promise<void>;
}
