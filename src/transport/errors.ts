import { HostError } from '../errors.js';

/**
 * The way to a host failed, not a command on it: unreachable, refused host
 * key, authentication, sudo, a timeout or a dropped connection.
 */
export class TransportError extends HostError {
  constructor(host: string, step: string, message: string, options?: { cause?: unknown }) {
    super(host, step, message);
    this.name = 'TransportError';
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}
