import type { Harness } from '../mirror/helpers.js';
import { waitUntil } from '../mirror/helpers.js';

// Webhooks retry on the Standard Webhooks schedule (5 s, 5 min, 30 min … 24 h), so tests pass its
// waits by moving the injected clock instead of sleeping: the worker sees the row due at its next
// poll and tries again at once, while the row's recorded times stay exact.

export interface Clock {
  now(): number;
  advance(ms: number): void;
}

/**
 * A clock that moves only when told: every time the worker records (next attempt, delivered at)
 * is exact, so a test can read the schedule's waits off the rows to the millisecond.
 */
export function frozenClock(start = Date.now()): Clock {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/**
 * The wait until the earliest lane head is due, once no head is in flight (the outcome of the
 * attempt under way is recorded). Rows behind a head wait for it, not for the clock.
 */
function pendingWait(h: Harness, clock: Clock): number | null {
  const heads = new Map<string, ReturnType<Harness['rows']>[number]>();
  for (const r of h.rows()) {
    const lane = `${r.target} ${r.incidentId ?? ''}`;
    if ((r.state === 'pending' || r.state === 'in_flight') && !heads.has(lane)) heads.set(lane, r);
  }
  const live = [...heads.values()];
  if (!live.length || live.some((r) => r.state === 'in_flight')) return null;
  return Math.max(0, Math.min(...live.map((r) => r.nextAttemptAt)) - clock.now());
}

/** Waits for the outcome of the attempt under way, then moves the clock to the next one. Returns the wait skipped. */
export async function skipToNextAttempt(h: Harness, clock: Clock, timeoutMs = 10_000): Promise<number> {
  let wait = 0;
  await waitUntil(
    () => {
      const w = pendingWait(h, clock);
      if (w === null) return false;
      wait = w;
      return true;
    },
    timeoutMs,
    'a row waiting for its next attempt',
  );
  clock.advance(wait);
  return wait;
}

/** Skips every wait of the schedule as it comes, until stopped: each retry follows the last at once. */
export function fastForward(h: Harness, clock: Clock): { stop(): void; skipped: number[] } {
  const skipped: number[] = [];
  const timer = setInterval(() => {
    const w = pendingWait(h, clock);
    if (w !== null && w > 0) {
      skipped.push(w);
      clock.advance(w);
    }
  }, 10);
  return { stop: () => clearInterval(timer), skipped };
}

/** Skips the schedule's waits one at a time until `done()` holds. */
export async function skipUntil(h: Harness, clock: Clock, done: () => boolean, timeoutMs = 20_000): Promise<void> {
  await waitUntil(
    () => {
      if (done()) return true;
      const w = pendingWait(h, clock);
      if (w !== null && w > 0) clock.advance(w);
      return false;
    },
    timeoutMs,
    'the schedule to reach the expected point',
  );
}
