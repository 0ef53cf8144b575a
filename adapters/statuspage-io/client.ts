// A minimal Statuspage Manage API (v1) client: one request, one classified outcome. Retrying is
// the outbox worker's job, so nothing here loops or sleeps.

export type ApiOutcome =
  | { kind: 'ok'; status: number; json: unknown }
  | { kind: 'retry'; error: string; retryAfterMs?: number }
  | { kind: 'failed'; error: string };

export interface StatuspageClientOptions {
  apiUrl: string;
  apiKey: string;
  /** Per request; the worker's own attempt budget (its AbortSignal) applies on top. */
  timeoutMs?: number;
}

/** Retry-After is either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export class StatuspageClient {
  constructor(private readonly opts: StatuspageClientOptions, private readonly now: () => number = Date.now) {}

  async request(method: 'GET' | 'POST' | 'PATCH' | 'PUT', path: string, body: unknown, signal: AbortSignal): Promise<ApiOutcome> {
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
