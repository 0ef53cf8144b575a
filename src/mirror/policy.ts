// Delivery policy: how long to wait before the next attempt, and when an upstream is considered
// down. Pure apart from the injected clock and random source, so tests can pin both.

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** 0..1; 0.5 means the delay is drawn from [d/2, d]. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1_000, maxMs: 5 * 60_000, jitter: 0.5 };

/**
 * Retry-After as delta-seconds (a fraction allowed) or an HTTP date, in ms from `now`; undefined
 * when absent or unreadable. Only a header that is there counts (Number(null) is 0): a missing one
 * must never read as "retry in 0 s". Every target reads its upstream's header with this; how long
 * it is obeyed (MAX_RETRY_AFTER_MS) is the worker's business.
 */
export function parseRetryAfter(value: string | readonly string[] | null | undefined, now: number = Date.now()): number | undefined {
  const v = (typeof value === 'string' ? value : value?.[0])?.trim();
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Longest Retry-After we obey; a bogus huge value must not park a delivery past its deadline. */
export const MAX_RETRY_AFTER_MS = 60 * 60_000;

/**
 * Delay before attempt `attempts + 1` after `attempts` failures: exponential with jitter, never
 * shorter than the upstream's Retry-After. Jitter spreads retries of many rows so a recovering
 * upstream is not hit by a burst.
 */
export function nextDelay(attempts: number, retryAfterMs: number | undefined, opts: BackoffOptions, random: () => number): number {
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.max(0, Math.min(30, attempts - 1)));
  const jittered = exp * (1 - opts.jitter * random());
  const floor = retryAfterMs === undefined ? 0 : Math.min(MAX_RETRY_AFTER_MS, Math.max(0, retryAfterMs));
  return Math.max(Math.round(jittered), floor);
}

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  threshold: number;
  /** First open period; doubles on each failed probe up to maxCooldownMs. */
  cooldownMs: number;
  maxCooldownMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = { threshold: 5, cooldownMs: 15_000, maxCooldownMs: 5 * 60_000 };

interface BreakerState {
  failures: number;
  openUntil: number;
  cooldownMs: number;
  probing: boolean;
}

/**
 * One circuit breaker per upstream. Closed: everything goes. After `threshold` consecutive
 * failures it opens: nothing goes until the cooldown ends, then exactly one delivery probes
 * (half-open). A success closes it; a failure reopens it for twice as long. Rate limits
 * (a retry with Retry-After) do not count: the upstream is up and told us when to come back.
 */
export class CircuitBreakers {
  private readonly states = new Map<string, BreakerState>();

  constructor(
    private readonly opts: BreakerOptions,
    private readonly now: () => number,
  ) {}

  /** May a delivery for `key` start now? Reserves the single probe slot when half-open. */
  tryAcquire(key: string): boolean {
    const s = this.states.get(key);
    if (!s || s.failures < this.opts.threshold) return true;
    if (this.now() < s.openUntil || s.probing) return false;
    s.probing = true;
    return true;
  }

  isOpen(key: string): boolean {
    const s = this.states.get(key);
    return !!s && s.failures >= this.opts.threshold;
  }

  success(key: string): void {
    this.states.delete(key);
  }

  /** A delivery that did not count either way (rate limited, aborted at shutdown). */
  neutral(key: string): void {
    const s = this.states.get(key);
    if (s) s.probing = false;
  }

  failure(key: string): void {
    const s = this.states.get(key) ?? { failures: 0, openUntil: 0, cooldownMs: this.opts.cooldownMs, probing: false };
    const wasProbe = s.probing;
    s.failures += 1;
    s.probing = false;
    if (s.failures >= this.opts.threshold) {
      if (wasProbe) s.cooldownMs = Math.min(this.opts.maxCooldownMs, s.cooldownMs * 2);
      s.openUntil = this.now() + s.cooldownMs;
    }
    this.states.set(key, s);
  }

  /** Keys whose breaker is open, for /metrics. */
  openKeys(): string[] {
    return [...this.states.entries()].filter(([, s]) => s.failures >= this.opts.threshold).map(([k]) => k);
  }
}

/**
 * The Standard Webhooks retry schedule: the wait after each failed attempt (the first attempt is
 * immediate), so a webhook is tried 10 times over about three days. Waits are counted from the
 * failure, as the specification does; a receiver down for a weekend still gets its messages.
 */
export const WEBHOOK_RETRY_SCHEDULE_MS: readonly number[] = [
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  14 * 3_600_000,
  20 * 3_600_000,
  24 * 3_600_000,
];

/** ±10%: spreads the retries of a 5,000-subscriber fan-out without moving any step far from its schedule. */
export const SCHEDULE_JITTER = 0.1;

/**
 * The longest Retry-After a scheduled target obeys: its longest step. A receiver may ask for more
 * than the next step (it is honoured), but a bogus huge value must not park a row for ever.
 */
export const MAX_SCHEDULED_RETRY_AFTER_MS = 24 * 3_600_000;

/**
 * Delay before attempt `attempts + 1` after `attempts` failed ones on a fixed schedule, or
 * 'give-up' once every step is used (the row is then dead-lettered as exhausted). The step is
 * jittered by ±`jitter`; Retry-After is a floor: never sooner than the receiver asked.
 */
export function scheduledRetryDelay(
  attempts: number,
  retryAfterMs: number | undefined,
  random: () => number,
  schedule: readonly number[] = WEBHOOK_RETRY_SCHEDULE_MS,
  jitter: number = SCHEDULE_JITTER,
): number | 'give-up' {
  const step = schedule[Math.max(1, Math.floor(attempts)) - 1];
  if (step === undefined) return 'give-up';
  const jittered = Math.round(step * (1 + jitter * (2 * random() - 1)));
  const floor = retryAfterMs === undefined ? 0 : Math.min(MAX_SCHEDULED_RETRY_AFTER_MS, Math.max(0, retryAfterMs));
  return Math.max(jittered, floor);
}

/**
 * `deadline_at` of a row that has no deadline: it follows its target's own retry schedule
 * (webhooks) and ends as 'exhausted', not 'deadline'. A real value rather than NULL, because NULL
 * means "the worker's default deadline".
 */
export const NO_DEADLINE = Number.MAX_SAFE_INTEGER;
