// The port every outgoing integration implements (Slack thread, Teams thread, Statuspage,
// customer channels, webhooks). The outbox worker owns retries, ordering and deadlines; a Target
// only tries once and says what happened.

export type DeliveryResult =
  /** Done. `remoteRef` (a message ts, a Statuspage incident id…) is stored on the outbox row. */
  | { kind: 'delivered'; remoteRef?: string }
  /** Try again later; `retryAfterMs` when the upstream said how long (Retry-After). */
  | { kind: 'retry'; error: string; retryAfterMs?: number }
  /**
   * Will never work as sent (4xx that is not a rate limit, a deleted channel…). `gone`: the
   * endpoint said it is gone for good (HTTP 410): its subscription is disabled, not just this row.
   */
  | { kind: 'failed'; error: string; gone?: boolean };

export interface OutboxMessage {
  id: number;
  /** Stable across retries; sent to the upstream (webhook-id) so repeats can be recognised. */
  deliveryId: string;
  incidentId: number | null;
  /** Set for a scheduled maintenance's message (its incidentId is null): M-<maintenanceId>. */
  maintenanceId?: number | null;
  /** The target, without the maintenance lane's mark (`statuspage`, not `statuspage|M-3`). */
  target: string;
  kind: string;
  payload: Record<string, unknown>;
  attempts: number;
  createdAt: number;
  approvedAt: number | null;
  /** How many earlier messages for the same (incident, target) this one stands for (folding). */
  folded: number;
  /**
   * Set by the worker when a customer-facing message goes out more than SITREP_DELAY_NOTICE_MINUTES
   * after it was approved: "Delayed: originally posted 08:54 PST" (in SITREP_TIMEZONE). A customer
   * channel must show it; absent or null means on time.
   */
  delayNotice?: string | null;
  /** "This message folds in 2 earlier updates." when `folded` > 0, else null. Ready to show. */
  foldNotice?: string | null;
  /** remoteRef of the last delivered message in this (incident, target) lane, for edits/threads. */
  previousRemoteRef?: string | null;
}

export interface Target {
  /** Which outbox `target` values this implementation delivers, e.g. t => t.startsWith('webhook:'). */
  handles(target: string): boolean;
  deliver(message: OutboxMessage, signal: AbortSignal): Promise<DeliveryResult>;
  /**
   * Customer channels fold: when several customer-facing messages of one (incident, target) lane
   * wait, only the newest is sent, carrying `folded`. Status page targets must not fold (every
   * update, in order). Default false.
   */
  readonly folds?: boolean;
  /**
   * Which circuit breaker (and share of the worker's per-upstream slots) a row belongs to: one
   * upstream = one key, e.g. the webhook's host. The row is passed too, because for some targets
   * the upstream is not in the target value (a Teams reply names its serviceUrl in its payload).
   * Default: the part before the first ':' (`slack:…` → `slack`).
   */
  breakerKey?(target: string, message?: BreakerSubject): string;
  /**
   * How many of this target's deliveries may be in flight to one upstream (breaker key) at once.
   * Default: the worker's perUpstream. Larger for an upstream that is one host for many
   * independent destinations whose own limits the target keeps (Slack: every channel).
   */
  upstreamShare?: number;
  /**
   * When attempt `attempts + 1` may start after `attempts` failed ones, in ms from now; 'give-up'
   * when the target's retry schedule is exhausted (the row is then dead-lettered with cause
   * 'exhausted'). `retryAfterMs` is the upstream's Retry-After, which the answer must honour.
   * Default: the worker's exponential backoff, bounded by the row's deadline.
   */
  nextRetryDelayMs?(attempts: number, retryAfterMs: number | undefined, random: () => number): number | 'give-up';
  /**
   * A known upstream rate limit to stay under instead of learning it from 429s: rows with the same
   * `key` start at most one per `intervalMs` (e.g. Slack: one message per second per channel;
   * Statuspage: one request per second per API key). Undefined: no pacing.
   */
  pace?(message: BreakerSubject): { key: string; intervalMs: number } | undefined;
  /**
   * On an engine whose queries are asynchronous (PostgreSQL), the worker awaits this for the
   * targets of a claimed batch (those this Target handles among them) and their rows before
   * calling the synchronous hooks (breakerKey, pace), so they can answer from what it loaded. Not
   * called on SQLite, whose hooks read the database synchronously.
   */
  lookup?(targets: readonly string[], rows: readonly BreakerSubject[]): Promise<void>;
}

/** Why a row was dead-lettered: what the incident thread is told, and whether a subscription goes. */
export type DeadLetterCause =
  /** The target refused it for good (a 4xx, a deleted channel). */
  | 'failed'
  /** The endpoint answered 410 Gone: its subscription is disabled. */
  | 'gone'
  /** The target's whole retry schedule failed (webhooks): its subscription is disabled. */
  | 'exhausted'
  /** Still undelivered at its deadline (chat customer channels, SITREP_DELIVERY_DEADLINE_MINUTES). */
  | 'deadline';

/** What a breaker key may be worked out from: the row about to be attempted. */
export type BreakerSubject = Pick<OutboxMessage, 'target' | 'kind' | 'payload' | 'incidentId'>;

/**
 * For upstream clients that take no AbortSignal (Slack's WebClient, the Bot Connector client):
 * when the worker gives up on an attempt, answer `retry` at once and let the request finish in the
 * background. Targets keep their effects idempotent (a root post that lands late records its
 * reference, and the retry then sees it).
 */
export function raceAbort(attempt: Promise<DeliveryResult>, signal: AbortSignal): Promise<DeliveryResult> {
  if (signal.aborted) return Promise.resolve({ kind: 'retry', error: 'aborted before sending' });
  return new Promise((resolve) => {
    const onAbort = () => resolve({ kind: 'retry', error: `aborted: ${String((signal.reason as Error | undefined)?.message ?? 'timeout')}` });
    signal.addEventListener('abort', onAbort, { once: true });
    void attempt.then((r) => {
      signal.removeEventListener('abort', onAbort);
      resolve(r);
    });
  });
}
