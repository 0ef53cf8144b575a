import type { Statement } from 'better-sqlite3';
import { and, asc, eq, getTableColumns, inArray, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.js';
import { outbox } from '../../db/schema.js';
import type { Logger } from '../logger.js';
import { formatClock, sameDay } from '../render/time.js';
import { CircuitBreakers, DEFAULT_BACKOFF, DEFAULT_BREAKER, nextDelay, type BackoffOptions, type BreakerOptions } from './policy.js';
import type { DeadLetterCause, DeliveryResult, OutboxMessage, Target } from './target.js';

export type OutboxRow = typeof outbox.$inferSelect;

export interface WorkerOptions {
  /** How often due rows are looked for when nothing wakes the worker earlier. */
  pollMs: number;
  /**
   * Kicks (a write, a finished delivery) coalesce: at most one tick is scheduled at a time, and a
   * kicked tick runs at least this long after the previous one, so a burst of writes costs one
   * scheduling pass, not one per write.
   */
  kickGapMs: number;
  /** Deliveries in flight at once, across lanes (one per lane at most). */
  concurrency: number;
  /**
   * At most this many of them to one upstream (breaker key), so a host that hangs for the whole
   * attempt timeout cannot take every slot and hold up other upstreams' lanes.
   */
  perUpstream: number;
  /** One attempt's budget; the Target's AbortSignal fires after it (webhooks: 30 s). */
  attemptTimeoutMs: number;
  /**
   * How long a claimed row belongs to this process. Longer than an attempt, so only a row whose
   * worker died is reclaimed (and re-sent with the same deliveryId).
   */
  leaseMs: number;
  backoff: BackoffOptions;
  breaker: BreakerOptions;
  /** A customer-facing message sent later than this after approval carries a "Delayed:" notice. */
  delayNoticeMs: number;
  /** Deadline for customer-facing rows enqueued without one (counted from approval). */
  defaultDeadlineMs: number;
  timezone: string;
  random: () => number;
}

export function defaultWorkerOptions(over: Partial<WorkerOptions> = {}): WorkerOptions {
  const attemptTimeoutMs = over.attemptTimeoutMs ?? 30_000;
  return {
    pollMs: 1_000,
    kickGapMs: 2,
    concurrency: 16,
    perUpstream: 4,
    attemptTimeoutMs,
    leaseMs: over.leaseMs ?? attemptTimeoutMs * 2 + 1_000,
    backoff: DEFAULT_BACKOFF,
    breaker: DEFAULT_BREAKER,
    delayNoticeMs: 5 * 60_000,
    defaultDeadlineMs: 60 * 60_000,
    timezone: 'UTC',
    random: Math.random,
    ...over,
  };
}

export interface WorkerDeps {
  db: Db;
  log: Logger;
  now: () => number;
  targets: readonly Target[];
  /**
   * Called in the dead-lettering transaction for every row that goes dead: tells the incident
   * (its timeline, hence its thread) about a customer-facing one, and for 'gone' / 'exhausted'
   * disables the subscription the row was for.
   */
  onDeadLetter(tx: Tx, row: OutboxRow, reason: string, cause: DeadLetterCause): void;
  /** Called after the worker wrote something other processes' readers may care about. */
  onWrite?(): void;
}

// The statements every delivery runs are prepared once (raw SQL on the worker's connection, rows
// decoded by the schema's own columns, exactly as drizzle would return them); the rare paths
// (folding, dead letters, housekeeping) stay with drizzle.
const outboxColumns = Object.entries(getTableColumns(outbox));
const outboxSelect = outboxColumns.map(([, c]) => `"${c.name}"`).join(', ');

function outboxRow(raw: unknown[]): OutboxRow {
  const row: Record<string, unknown> = {};
  outboxColumns.forEach(([key, col], i) => {
    const v = raw[i];
    row[key] = v === null || v === undefined ? null : col.mapFromDriverValue(v);
  });
  return row as OutboxRow;
}

interface Statements {
  dueHeads: Statement<[number]>;
  rowById: Statement<[number]>;
  claim: Statement<[number, number, number]>;
  foldedCount: Statement<[number], { n: number }>;
  previousRef: Statement<[string, number | null], { remoteRef: string }>;
  delivered: Statement<[number, string | null, number]>;
  retry: Statement<[number, string, number]>;
}

function prepareStatements(client: Db['$client']): Statements {
  return {
    // The heads of due lanes: see OutboxWorker.dueHeads.
    dueHeads: client.prepare(`
      with recursive lanes(id) as (
        select (select id from outbox where state = 'pending' order by state, target, incident_id, id limit 1)
        union all
        select coalesce(
          (select n.id from outbox n
            where n.state = 'pending' and n.target = o.target
              and n.incident_id > coalesce(o.incident_id, -9223372036854775808)
            order by n.state, n.target, n.incident_id, n.id limit 1),
          (select n.id from outbox n
            where n.state = 'pending' and n.target > o.target
            order by n.state, n.target, n.incident_id, n.id limit 1))
        from lanes l join outbox o on o.id = l.id
      )
      select ${outboxColumns.map(([, c]) => `h."${c.name}"`).join(', ')} from lanes l join outbox h on h.id = l.id
      where h.next_attempt_at <= ?
        and not exists (
          select 1 from outbox p
          where p.state = 'in_flight' and p.target = h.target and p.incident_id is h.incident_id and p.id < h.id)
      order by h.next_attempt_at, h.id
      limit 500`),
    rowById: client.prepare(`select ${outboxSelect} from outbox where id = ?`),
    claim: client.prepare(`
      update outbox set state = 'in_flight', attempts = attempts + 1, claimed_until = ?
      where id = ? and state = 'pending' and next_attempt_at <= ?
        and not exists (
          select 1 from outbox p
          where p.target = outbox.target and p.incident_id is outbox.incident_id
            and p.state in ('pending', 'in_flight') and p.id < outbox.id)`),
    foldedCount: client.prepare('select count(*) as n from outbox where folded_into = ?'),
    previousRef: client.prepare(`
      select remote_ref as remoteRef from outbox
      where target = ? and incident_id is ? and state = 'delivered' and remote_ref is not null
      order by id desc limit 1`),
    delivered: client.prepare(
      "update outbox set state = 'delivered', delivered_at = ?, remote_ref = ?, claimed_until = null, last_error = null where id = ? and state = 'in_flight'",
    ),
    retry: client.prepare(
      "update outbox set state = 'pending', next_attempt_at = ?, last_error = ?, claimed_until = null where id = ? and state = 'in_flight'",
    ),
  };
}

const laneOf = (r: { target: string; incidentId: number | null }) => `${r.target}\u0000${r.incidentId ?? ''}`;

/** Rows of the same lane as `r` (same target and incident; NULL incidents form one lane). */
const sameLane = (r: { target: string; incidentId: number | null }) =>
  and(eq(outbox.target, r.target), r.incidentId === null ? sql`${outbox.incidentId} IS NULL` : eq(outbox.incidentId, r.incidentId));

export function foldNoticeFor(folded: number): string | null {
  if (folded <= 0) return null;
  return `This message folds in ${folded} earlier update${folded === 1 ? '' : 's'}.`;
}

export function delayNoticeFor(approvedAt: number | null, sentAt: number, opts: Pick<WorkerOptions, 'delayNoticeMs' | 'timezone'>): string | null {
  if (approvedAt === null || sentAt - approvedAt <= opts.delayNoticeMs) return null;
  return `Delayed: originally posted ${formatClock(approvedAt, opts.timezone, !sameDay(approvedAt, sentAt, opts.timezone))}`;
}

/**
 * The outbox worker. Every tick: reclaim rows whose worker died, dead-letter customer-facing rows
 * past their deadline, then start the head row of each due lane. A lane is (target, incident):
 * its rows go strictly in id order; different lanes never wait for each other. Claiming is a
 * conditional UPDATE in an IMMEDIATE transaction, so two servers on one database never send the
 * same row at once, without any lock table.
 */
export class OutboxWorker {
  readonly breakers: CircuitBreakers;
  private options: WorkerOptions;
  private readonly running = new Map<string, { ac: AbortController; key: string }>();
  private readonly settled = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private kickTimer: NodeJS.Timeout | null = null;
  private lastTickAt = -Infinity;
  private started = false;
  private ticking = false;
  private stmts: Statements | null = null;

  constructor(
    private readonly deps: WorkerDeps,
    options: Partial<WorkerOptions> = {},
  ) {
    this.options = defaultWorkerOptions(options);
    this.breakers = new CircuitBreakers(this.options.breaker, deps.now);
  }

  /** Adjusts timing (tests use short timeouts and backoff). Call before start(). */
  tune(over: Partial<WorkerOptions>): void {
    const attemptTimeoutMs = over.attemptTimeoutMs ?? this.options.attemptTimeoutMs;
    this.options = { ...this.options, ...over, attemptTimeoutMs, leaseMs: over.leaseMs ?? (over.attemptTimeoutMs ? attemptTimeoutMs * 2 + 1_000 : this.options.leaseMs) };
    (this as { breakers: CircuitBreakers }).breakers = new CircuitBreakers(this.options.breaker, this.deps.now);
  }

  private get q(): Statements {
    return (this.stmts ??= prepareStatements(this.deps.db.$client));
  }

  get settings(): Readonly<WorkerOptions> {
    return this.options;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.schedule(0);
  }

  /** Stops claiming, aborts attempts in flight and waits until their outcome is recorded. */
  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.kickTimer) clearTimeout(this.kickTimer);
    this.kickTimer = null;
    for (const { ac } of this.running.values()) ac.abort(new Error('shutting down'));
    await Promise.allSettled([...this.settled]);
  }

  /**
   * Look for work soon (after a write in this process, a finished delivery, or a change noticed in
   * the database). Only marks the worker dirty: however many kicks arrive, one tick is scheduled.
   */
  kick(): void {
    if (!this.started || this.kickTimer) return;
    const wait = Math.max(0, this.lastTickAt + this.options.kickGapMs - performance.now());
    this.kickTimer = setTimeout(() => {
      this.kickTimer = null;
      this.startDueNow();
    }, wait);
    this.kickTimer.unref();
  }

  /** Deliveries currently being attempted by this process. */
  get inFlight(): number {
    return this.running.size;
  }

  private schedule(ms: number): void {
    if (!this.started) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.tick();
      this.schedule(this.options.pollMs);
    }, ms);
    this.timer.unref();
  }

  /**
   * One full pass (on the poll timer): housekeeping, then start due lane heads. Synchronous: every
   * database step is a short better-sqlite3 transaction.
   */
  tick(): void {
    this.pass(true);
  }

  /** A kicked pass: only start due lane heads (leases and deadlines are the poll's business). */
  private startDueNow(): void {
    this.pass(false);
  }

  private pass(housekeeping: boolean): void {
    if (this.ticking) return;
    this.ticking = true;
    this.lastTickAt = performance.now();
    try {
      const now = this.deps.now();
      if (housekeeping) {
        this.reclaimExpired(now);
        this.deadLetterOverdue(now);
      }
      if (this.started) this.startDue(now);
    } catch (err) {
      this.deps.log.error({ err }, 'outbox tick failed');
    } finally {
      this.ticking = false;
    }
  }

  private targetFor(target: string): Target | undefined {
    return this.deps.targets.find((t) => t.handles(target));
  }

  private breakerKey(t: Target, row: OutboxRow): string {
    return t.breakerKey ? t.breakerKey(row.target, row) : row.target.split(':')[0] ?? row.target;
  }

  /** Rows left in flight by a process that died (lease expired) go back to pending. */
  private reclaimExpired(now: number): void {
    const res = this.deps.db
      .update(outbox)
      .set({ state: 'pending', claimedUntil: null, lastError: 'outcome unknown: the sending process stopped; re-sending with the same delivery id' })
      .where(and(eq(outbox.state, 'in_flight'), sql`${outbox.claimedUntil} < ${now}`))
      .run();
    if (res.changes) this.deps.log.warn({ count: res.changes }, 'reclaimed deliveries whose worker stopped mid-send');
  }

  /** Customer-facing rows are never dropped: past their deadline they are dead-lettered and reported. */
  private deadLetterOverdue(now: number): void {
    const deadline = sql`coalesce(${outbox.deadlineAt}, coalesce(${outbox.approvedAt}, ${outbox.createdAt}) + ${this.options.defaultDeadlineMs})`;
    const overdue = this.deps.db
      .select()
      .from(outbox)
      .where(and(eq(outbox.state, 'pending'), eq(outbox.customerFacing, true), sql`${deadline} <= ${now}`))
      .orderBy(asc(outbox.id))
      .all();
    for (const row of overdue) {
      const minutes = Math.round(((row.deadlineAt ?? (row.approvedAt ?? row.createdAt) + this.options.defaultDeadlineMs) - (row.approvedAt ?? row.createdAt)) / 60_000);
      const reason = `not delivered within ${minutes} min${row.lastError ? ` (last error: ${row.lastError})` : row.attempts === 0 ? ' (never attempted: earlier messages to this target were still waiting)' : ''}`;
      this.deadLetter(row.id, 'pending', reason, 'deadline');
    }
  }

  private deadLetter(id: number, from: 'pending' | 'in_flight', reason: string, cause: DeadLetterCause): void {
    let reported = undefined as OutboxRow | undefined;
    this.deps.db.transaction(
      (tx) => {
        const res = tx
          .update(outbox)
          .set({ state: 'dead', lastError: reason, claimedUntil: null })
          .where(and(eq(outbox.id, id), eq(outbox.state, from)))
          .run();
        if (res.changes !== 1) return;
        const row = tx.select().from(outbox).where(eq(outbox.id, id)).get()!;
        reported = row;
        this.deps.onDeadLetter(tx, row, reason, cause);
      },
      { behavior: 'immediate' },
    );
    const row = reported;
    if (!row) return;
    this.deps.log.warn({ deliveryId: row.deliveryId, incidentId: row.incidentId, target: row.target, reason }, 'delivery dead-lettered');
    this.deps.onWrite?.();
  }

  /**
   * The heads of due lanes, oldest due first. A lane's head is its oldest row not yet finished;
   * only a head may be attempted. The oldest pending row of each lane is found by skipping through
   * the (state, target, incident_id, id) index one lane at a time (a recursive CTE: a few index
   * seeks per lane, however long the lane's backlog or history), and a lane whose older row is
   * still in flight is left alone. NULL incidents form one lane, which sorts first in its target.
   */
  private dueHeads(now: number): OutboxRow[] {
    return (this.q.dueHeads.raw().all(now) as unknown[][]).map(outboxRow);
  }

  private startDue(now: number): void {
    if (this.running.size >= this.options.concurrency) return;
    const rows = this.dueHeads(now);
    for (const head of rows) {
      if (this.running.size >= this.options.concurrency) return;
      if (head.state !== 'pending' || head.nextAttemptAt > now) continue;
      const lane = laneOf(head);
      if (this.running.has(lane)) continue;
      const target = this.targetFor(head.target);
      if (!target) {
        this.noTarget(head, now);
        continue;
      }
      const key = this.breakerKey(target, head);
      if ([...this.running.values()].filter((r) => r.key === key).length >= this.options.perUpstream) continue;
      if (!this.breakers.tryAcquire(key)) continue;
      const msg = this.claim(head, target, now);
      if (!msg) {
        this.breakers.neutral(key);
        continue;
      }
      this.launch(msg, target, key, lane);
    }
  }

  private noTarget(head: OutboxRow, now: number): void {
    // Kept, not dropped: a target may be configured later (credentials added, server restarted).
    // Customer-facing rows still reach their deadline and are reported.
    this.deps.db
      .update(outbox)
      .set({ lastError: `nothing delivers to ${head.target} (is it configured?)`, nextAttemptAt: now + 60_000 })
      .where(and(eq(outbox.id, head.id), eq(outbox.state, 'pending')))
      .run();
  }

  /**
   * Claims the lane's head and, for a folding target, folds the run of waiting customer-facing
   * rows behind it into the newest one, which is then what gets sent.
   */
  private claim(head: OutboxRow, target: Target, now: number): OutboxMessage | null {
    const { db } = this.deps;
    const leaseUntil = now + this.options.leaseMs;
    const claimed = db.transaction(
      (tx) => {
        const res = this.q.claim.run(leaseUntil, head.id, now);
        if (res.changes !== 1) return null;
        let chosen = outboxRow(this.q.rowById.raw().get(head.id) as unknown[]);
        if (target.folds && chosen.customerFacing) {
          const waiting = tx
            .select()
            .from(outbox)
            .where(and(sameLane(chosen), eq(outbox.state, 'pending'), sql`${outbox.id} > ${chosen.id}`))
            .orderBy(asc(outbox.id))
            .all();
          const run: OutboxRow[] = [];
          for (const r of waiting) {
            if (!r.customerFacing) break;
            run.push(r);
          }
          const newest = run.at(-1);
          if (newest) {
            const superseded = [chosen.id, ...run.slice(0, -1).map((r) => r.id)];
            tx.update(outbox)
              .set({ state: 'folded', foldedInto: newest.id, claimedUntil: null })
              .where(inArray(outbox.id, superseded))
              .run();
            tx.update(outbox).set({ foldedInto: newest.id }).where(inArray(outbox.foldedInto, superseded)).run();
            tx.update(outbox)
              .set({ state: 'in_flight', attempts: sql`${outbox.attempts} + 1`, claimedUntil: leaseUntil })
              .where(eq(outbox.id, newest.id))
              .run();
            chosen = tx.select().from(outbox).where(eq(outbox.id, newest.id)).get()!;
          }
        }
        const folded = this.q.foldedCount.get(chosen.id)?.n ?? 0;
        const previous = this.q.previousRef.get(chosen.target, chosen.incidentId);
        return { row: chosen, folded, previousRemoteRef: previous?.remoteRef ?? null };
      },
      { behavior: 'immediate' },
    );
    if (!claimed) return null;
    const { row, folded, previousRemoteRef } = claimed;
    return {
      id: row.id,
      deliveryId: row.deliveryId,
      incidentId: row.incidentId,
      target: row.target,
      kind: row.kind,
      payload: row.payload,
      attempts: row.attempts,
      createdAt: row.createdAt,
      approvedAt: row.approvedAt,
      folded,
      foldNotice: foldNoticeFor(folded),
      delayNotice: row.customerFacing ? delayNoticeFor(row.approvedAt, now, this.options) : null,
      previousRemoteRef,
    };
  }

  private launch(msg: OutboxMessage, target: Target, key: string, lane: string): void {
    const ac = new AbortController();
    this.running.set(lane, { ac, key });
    const timeoutMs = this.options.attemptTimeoutMs;
    const timer = setTimeout(() => ac.abort(new Error('timeout')), timeoutMs);
    const log = this.deps.log;
    log.debug({ deliveryId: msg.deliveryId, target: msg.target, incidentId: msg.incidentId, attempt: msg.attempts, folded: msg.folded }, 'delivering');
    const p = (async () => {
      let result: DeliveryResult;
      try {
        result = await target.deliver(msg, ac.signal);
      } catch (err) {
        result = { kind: 'retry', error: `target failed unexpectedly: ${err instanceof Error ? err.message : String(err)}` };
      } finally {
        clearTimeout(timer);
      }
      const stopping = ac.signal.aborted && !this.started;
      if (ac.signal.aborted && result.kind !== 'delivered') {
        result = stopping
          ? { kind: 'retry', error: 'interrupted: the server stopped during the attempt', retryAfterMs: 0 }
          : { kind: 'retry', error: `no answer within ${Math.round(timeoutMs / 1000)} s` };
      }
      try {
        this.record(msg, result, key, stopping);
      } catch (err) {
        log.error({ err, deliveryId: msg.deliveryId, target: msg.target }, 'could not record delivery outcome');
      }
    })().finally(() => {
      this.running.delete(lane);
      this.settled.delete(p);
      this.kick();
    });
    this.settled.add(p);
  }

  private record(msg: OutboxMessage, result: DeliveryResult, key: string, stopping: boolean): void {
    const { log } = this.deps;
    const now = this.deps.now();
    const fields = { deliveryId: msg.deliveryId, target: msg.target, incidentId: msg.incidentId, attempt: msg.attempts };
    switch (result.kind) {
      case 'delivered':
        this.breakers.success(key);
        this.q.delivered.run(now, result.remoteRef ?? null, msg.id);
        log.info({ ...fields, folded: msg.folded }, 'delivered');
        this.deps.onWrite?.();
        return;
      case 'retry': {
        if (stopping || result.retryAfterMs !== undefined) this.breakers.neutral(key);
        else this.breakers.failure(key);
        const target = this.targetFor(msg.target);
        const delay = stopping
          ? 0
          : target?.nextRetryDelayMs
            ? target.nextRetryDelayMs(msg.attempts, result.retryAfterMs, this.options.random)
            : nextDelay(msg.attempts, result.retryAfterMs, this.options.backoff, this.options.random);
        if (delay === 'give-up') {
          this.deadLetter(msg.id, 'in_flight', `failed through the whole retry schedule (${msg.attempts} attempts; last error: ${result.error})`, 'exhausted');
          return;
        }
        this.q.retry.run(now + delay, result.error, msg.id);
        log.warn({ ...fields, error: result.error, retryInMs: delay }, 'delivery will be retried');
        return;
      }
      case 'failed':
        // A permanent refusal says nothing about the upstream being down: the breaker is not fed.
        this.breakers.neutral(key);
        this.deadLetter(msg.id, 'in_flight', result.error, result.gone ? 'gone' : 'failed');
        return;
    }
  }
}
