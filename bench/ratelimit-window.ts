// The rate limit the fakes enforce (the fake Slack Web API per channel, the fake Statuspage per API
// key, and the benchmark's own Slack stand-in): at most `limit` accepted requests per key in any
// window of `windowMs`, measured when the request arrives, as the real services count. A refused
// request does not count against the window, and its Retry-After (whole seconds, as both services
// send it) says when the window has room again. Kept apart from the fakes so the tests and the
// benchmark hold Sitrep to the very same rule.

export interface RollingLimitOptions {
  limit: number;
  windowMs: number;
  /** Monotonic milliseconds; injectable so the rule itself can be tested without waiting. */
  now?: () => number;
}

export type Admission = { ok: true } | { ok: false; retryAfterSeconds: number };

export class RollingLimit {
  private readonly accepted = new Map<string, number[]>();
  private readonly now: () => number;
  /** Requests refused with 429, per key. */
  readonly refused = new Map<string, number>();

  constructor(private readonly opts: RollingLimitOptions) {
    this.now = opts.now ?? (() => performance.now());
  }

  /** Whether a request for `key` arriving now fits; does not count it (see `record`). */
  check(key: string): Admission {
    const at = this.now();
    const times = this.recent(key, at);
    if (times.length < this.opts.limit) return { ok: true };
    const freeAt = times[0]! + this.opts.windowMs;
    this.refused.set(key, (this.refused.get(key) ?? 0) + 1);
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((freeAt - at) / 1000)) };
  }

  /** Counts an accepted request (only what the service accepted uses up the window). */
  record(key: string): void {
    const at = this.now();
    const times = this.recent(key, at);
    times.push(at);
    this.accepted.set(key, times);
  }

  /** check + record in one step, for services that count every request they answer. */
  admit(key: string): Admission {
    const a = this.check(key);
    if (a.ok) this.record(key);
    return a;
  }

  get refusedTotal(): number {
    let n = 0;
    for (const v of this.refused.values()) n += v;
    return n;
  }

  private recent(key: string, at: number): number[] {
    const times = (this.accepted.get(key) ?? []).filter((t) => t > at - this.opts.windowMs);
    this.accepted.set(key, times);
    return times;
  }
}
