import { request } from 'node:https';

// One client request as a kubelet would make it: a new TCP+TLS connection to
// VIP:port and GET /healthz. The certificate is not verified here (the VIP
// may be missing from its SANs; `status` reports that separately).

export interface ProbeResult {
  ok: boolean;
  status?: number;
  /** Which master answered, when it says (the lab's stand-in does). */
  master?: string;
  error?: string;
  ms: number;
}

/**
 * `timeoutMs` bounds the whole request; `connectTimeoutMs`, when given, the
 * TCP connect alone: a SYN to a VIP nobody holds is lost, and a client with
 * default settings would wait a second before retrying it.
 */
export function probeHealthz(host: string, port: number, timeoutMs: number, path = '/healthz', connectTimeoutMs?: number): Promise<ProbeResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: Omit<ProbeResult, 'ms'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...r, ms: performance.now() - started });
    };
    const req = request({ host, port, path, method: 'GET', agent: false, rejectUnauthorized: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => {
        const master = res.headers['x-kha-lab-master'];
        const result: Omit<ProbeResult, 'ms'> = { ok: res.statusCode === 200, status: res.statusCode ?? 0 };
        if (typeof master === 'string') result.master = master;
        done(result);
      });
      res.on('error', (e) => done({ ok: false, error: e.message }));
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    if (connectTimeoutMs !== undefined) {
      req.on('socket', (socket) => {
        const connectTimer = setTimeout(() => req.destroy(new Error(`no connection within ${connectTimeoutMs} ms`)), connectTimeoutMs);
        socket.once('connect', () => clearTimeout(connectTimer));
        socket.once('close', () => clearTimeout(connectTimer));
      });
    }
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => done({ ok: false, error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end();
  });
}
