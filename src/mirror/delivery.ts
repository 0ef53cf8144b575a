import { formatClock, sameDay } from '../render/time.js';
import { splitLane } from '../domain/maintenance.js';
import { nextDelay, type BackoffOptions } from './policy.js';
import type { DeliveryResult, OutboxMessage, Target } from './target.js';

// What both outbox workers (SQLite's src/mirror/worker.ts, PostgreSQL's src/mirror/worker.pg.ts)
// decide the same way about a row: the notices a message carries, the message a claimed row becomes,
// and when a failed attempt is tried again. Only how rows are claimed and recorded differs by engine.

export function foldNoticeFor(folded: number): string | null {
  if (folded <= 0) return null;
  return `This message folds in ${folded} earlier update${folded === 1 ? '' : 's'}.`;
}

export function delayNoticeFor(approvedAt: number | null, sentAt: number, opts: { delayNoticeMs: number; timezone: string }): string | null {
  if (approvedAt === null || sentAt - approvedAt <= opts.delayNoticeMs) return null;
  return `Delayed: originally posted ${formatClock(approvedAt, opts.timezone, !sameDay(approvedAt, sentAt, opts.timezone))}`;
}

/** What of a claimed outbox row the message is built from. */
export interface ClaimedRow {
  id: number;
  deliveryId: string;
  incidentId: number | null;
  target: string;
  kind: string;
  payload: Record<string, unknown>;
  attempts: number;
  createdAt: number;
  approvedAt: number | null;
  customerFacing: boolean;
}

/**
 * The message a Target is handed for a claimed row (the newest of a folded run): the plain target
 * and maintenance of its lane, how many it folds in, and the notices it must show when sent `now`.
 */
export function messageFor(
  row: ClaimedRow,
  folded: number,
  previousRemoteRef: string | null,
  now: number,
  opts: { delayNoticeMs: number; timezone: string },
): OutboxMessage {
  const lane = splitLane(row.target);
  return {
    id: row.id,
    deliveryId: row.deliveryId,
    incidentId: row.incidentId,
    maintenanceId: lane.maintenanceId,
    target: lane.target,
    kind: row.kind,
    payload: row.payload,
    attempts: row.attempts,
    createdAt: row.createdAt,
    approvedAt: row.approvedAt,
    folded,
    foldNotice: foldNoticeFor(folded),
    delayNotice: row.customerFacing ? delayNoticeFor(row.approvedAt, now, opts) : null,
    previousRemoteRef,
  };
}

/**
 * When a row whose attempt number `attempts` failed is tried again, in ms from now: the target's
 * own schedule (webhooks: Standard Webhooks) or the worker's backoff; 0 when the server stopped
 * mid-attempt; 'give-up' when the schedule is exhausted.
 */
export function retryDelayFor(
  target: Target,
  attempts: number,
  retryAfterMs: number | undefined,
  opts: { backoff: BackoffOptions; random: () => number },
  stopping = false,
): number | 'give-up' {
  if (stopping) return 0;
  return target.nextRetryDelayMs ? target.nextRetryDelayMs(attempts, retryAfterMs, opts.random) : nextDelay(attempts, retryAfterMs, opts.backoff, opts.random);
}

/** The breaker key of a row (its upstream): the target's, or the part before the first ':'. */
export function breakerKeyFor(t: Target, row: { target: string; kind: string; payload: Record<string, unknown>; incidentId: number | null }): string {
  return t.breakerKey ? t.breakerKey(row.target, row) : (row.target.split(':')[0] ?? row.target);
}

/**
 * One attempt of `msg` through `target` (started at once, in the caller's task), as both workers
 * record it: a target that throws, an attempt past its timeout, or one cut short because the worker
 * stopped (`running()` false) is a retry that says so.
 */
export async function attemptDelivery(
  target: Target,
  msg: OutboxMessage,
  ac: AbortController,
  timer: ReturnType<typeof setTimeout>,
  timeoutMs: number,
  running: () => boolean,
): Promise<{ result: DeliveryResult; stopping: boolean }> {
  let attempt: Promise<DeliveryResult>;
  try {
    attempt = target.deliver(msg, ac.signal);
  } catch (err) {
    attempt = Promise.reject(err);
  }
  let result: DeliveryResult;
  try {
    result = await attempt;
  } catch (err) {
    result = { kind: 'retry', error: `target failed unexpectedly: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    clearTimeout(timer);
  }
  const stopping = ac.signal.aborted && !running();
  if (ac.signal.aborted && result.kind !== 'delivered') {
    result = stopping
      ? { kind: 'retry', error: 'interrupted: the server stopped during the attempt', retryAfterMs: 0 }
      : { kind: 'retry', error: `no answer within ${Math.round(timeoutMs / 1000)} s` };
  }
  return { result, stopping };
}
