import { createHash } from 'node:crypto';
import { parseRetryAfter } from '../../src/mirror/policy.js';

// A minimal Statuspage Manage API (v1) client: one request, one classified outcome. Retrying is
// the outbox worker's job, so nothing here loops; the only wait is for the API key's rate limit.

export type ApiOutcome =
  | { kind: 'ok'; status: number; json: unknown }
  | { kind: 'retry'; error: string; retryAfterMs?: number }
  | { kind: 'failed'; error: string };

export interface StatuspageClientOptions {
  apiUrl: string;
  apiKey: string;
  /** Per request, from when it is sent; the worker's own attempt budget (its AbortSignal) applies on top. */
  timeoutMs?: number;
  /** The API key's bucket (default: one of this client's own at Statuspage's 1 request/s). */
  bucket?: KeyBucket;
}

/** Statuspage: "Each API token is limited to 1 request / second as measured on a 60 second rolling window." */
export const STATUSPAGE_REQUEST_INTERVAL_MS = 1_000;

/**
 * A name for an API key that can be shown (a pace key, a log line) without giving the key away:
 * a truncated SHA-256, enough to tell keys apart, useless for calling the API.
 */
export function keyFingerprint(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex').slice(0, 16);
}

/**
 * The token bucket of one API key: one token, refilled one interval after the answer to the
 * request that spent it. Statuspage counts a request when it arrives and answers after counting
 * it, so starting the next one only after that answer plus the interval keeps any two arrivals at
 * least the interval apart, however long either took on the way; a burst never forms, since the
 * limit is measured over a rolling window and a request over it is refused. Requests wait in
 * arrival order. A 429 (another client on the same key) empties the bucket until its Retry-After.
 */
export class KeyBucket {
  private nextAt = -Infinity;
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly intervalMs = STATUSPAGE_REQUEST_INTERVAL_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Waits for the token; resolves with the function to call once the answer (or failure) is in.
   * Rejects, having sent nothing, if `signal` fires first.
   */
  async take(signal: AbortSignal): Promise<(retryAfterMs?: number) => void> {
    const before = this.tail;
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    this.tail = before.then(() => mine);
    try {
      await abortable(before, signal);
      // A timer may fire a little early by this clock (timers run on a coarser one): check again.
      for (let wait = this.nextAt - this.now(); wait > 0; wait = this.nextAt - this.now()) {
        await abortable(new Promise<void>((r) => setTimeout(r, Math.ceil(wait))), signal);
      }
    } catch (err) {
      release();
      throw err;
    }
    let returned = false;
    return (retryAfterMs) => {
      if (returned) return;
      returned = true;
      // A Retry-After longer than the limit's own window is not believed beyond that window.
      const hold = Math.max(this.intervalMs, Math.min(retryAfterMs ?? 0, 60_000));
      this.nextAt = Math.max(this.nextAt, this.now() + hold);
      release();
    };
  }
}

function abortable(p: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(new Error('aborted'));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    void p.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

export { parseRetryAfter };

export class StatuspageClient {
  private readonly bucket: KeyBucket;

  constructor(
    private readonly opts: StatuspageClientOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.bucket = opts.bucket ?? new KeyBucket();
  }

  async request(method: 'GET' | 'POST' | 'PATCH' | 'PUT', path: string, body: unknown, signal: AbortSignal): Promise<ApiOutcome> {
    let answered: (retryAfterMs?: number) => void;
    try {
      answered = await this.bucket.take(signal);
    } catch {
      return { kind: 'retry', error: `${method} ${path}: not sent (the attempt ended while waiting for the rate limit)` };
    }
    const outcome = await this.send(method, path, body, signal);
    answered(outcome.kind === 'retry' ? outcome.retryAfterMs : undefined);
    return outcome;
  }

  private async send(method: 'GET' | 'POST' | 'PATCH' | 'PUT', path: string, body: unknown, signal: AbortSignal): Promise<ApiOutcome> {
    const timeout = AbortSignal.timeout(this.opts.timeoutMs ?? 15_000);
    const combined = AbortSignal.any([signal, timeout]);
    let res: Response;
    try {
      res = await fetch(`${this.opts.apiUrl}${path}`, {
        method,
        headers: {
          authorization: `OAuth ${this.opts.apiKey}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: combined,
      });
    } catch (e) {
      const aborted = combined.aborted;
      return { kind: 'retry', error: aborted ? `${method} ${path}: no answer in time` : `${method} ${path}: ${e instanceof Error ? e.message : String(e)}` };
    }
    let text = '';
    try {
      text = await res.text();
    } catch (e) {
      return { kind: 'retry', error: `${method} ${path}: answer cut off (${e instanceof Error ? e.message : String(e)})` };
    }
    if (res.status === 420 || res.status === 429) {
      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), this.now());
      return { kind: 'retry', error: `${method} ${path}: rate limited (${res.status})`, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
    }
    if (res.status >= 500 || res.status === 408) return { kind: 'retry', error: `${method} ${path}: Statuspage answered ${res.status}` };
    if (res.status < 200 || res.status >= 300) {
      return { kind: 'failed', error: `${method} ${path}: Statuspage answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}` };
    }
    try {
      return { kind: 'ok', status: res.status, json: text ? JSON.parse(text) : null };
    } catch {
      return { kind: 'retry', error: `${method} ${path}: answer is not JSON` };
    }
  }
}
