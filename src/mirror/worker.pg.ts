import type pg from 'pg';
import { markDead } from '../../db/queries/outbox.js';
import {
  claimHeads,
  claimInTransaction,
  foldedAndPrevious,
  foldInto,
  giveBack,
  overdueCustomerFacing,
  poolOf,
  postponeClaimed,
  reclaimExpired,
  recordDeliveredMany,
  recordRetry,
  waitingBehindAll,
} from '../../db/queries/worker.pg.js';
import type { OutboxRow } from '../../db/queries/outbox.js';
import { splitLane } from '../domain/maintenance.js';
import { attemptDelivery, breakerKeyFor, messageFor, retryDelayFor } from './delivery.js';
import type { BreakerSubject, DeadLetterCause, DeliveryResult, OutboxMessage, Target } from './target.js';
import { TunableWorker, type WorkerDeps, type WorkerOptions } from './worker.js';

// The outbox worker on PostgreSQL, for several replicas on one database: any replica delivers any
// row, and a lane's rows go in order whichever replica sends them (db/queries/worker.pg.ts says how
// claims, leases and outcomes guarantee it). What a row becomes, folding, the notices, the retry
// schedule, dead letters (through the store, so the incident is told), breakers and the
// per-upstream share are decided as by SQLite's worker (src/mirror/worker.ts, src/mirror/delivery.ts,
// src/mirror/policy.ts). Breakers, shares and pacing are this process's, as on SQLite.
//
// A pass claims due lane heads in batches (one short transaction each, on a pooled connection of
// its own, never the store's write lock), judges each (Target, breaker key, share, pace), starts
// those that may go and gives back the others at once, leaving their targets out of the next
// claims until a slot of their upstream frees. A finished attempt's outcome is one conditional
// statement; then the worker looks again, since its lane may have a new head.

interface Started {
  msg: OutboxMessage;
  target: Target;
  key: string;
  leaseUntil: number;
  /** The stored target (a maintenance's lane named in it). */
  stored: string;
}

export class PgOutboxWorker extends TunableWorker {
  private pool: pg.Pool | null = null;
  private started = false;
  private timer: NodeJS.Timeout | null = null;
  private passing: Promise<void> | null = null;
  private again = false;
  private housekeepingDue = true;
  private readonly running = new Map<number, AbortController>();
  private readonly perKey = new Map<string, number>();
  /** Targets left out of claims until a slot of their upstream (or their pace) frees. */
  private readonly blocked = new Map<string, Set<string>>();
  private readonly paceNext = new Map<string, number>();
  private readonly paceTimers = new Map<string, NodeJS.Timeout>();
  private readonly settled = new Set<Promise<void>>();
  private deadLettering = 0;
  /**
   * Deliveries done and not yet recorded. They are recorded together, in one statement, by
   * whichever flush runs next (the group commit of outcomes): a fan-out's hundreds of answers per
   * second cost a few statements instead of one round trip each, on a pool every replica's
   * commands share. A crash before the flush re-sends them with the same delivery id.
   */
  private doneQueue: Array<{ id: number; leaseUntil: number; at: number; remoteRef: string | null; settle: (recorded: boolean | Error) => void }> = [];
  private flushing = false;

  constructor(
    private readonly deps: WorkerDeps,
    options: Partial<WorkerOptions> = {},
  ) {
    super(deps.now, options);
  }

  /** Deliveries currently being attempted by this process. */
  get inFlight(): number {
    return this.running.size;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.housekeepingDue = true;
    this.schedule(0);
  }

  /** Stops claiming, aborts attempts in flight and waits until their outcome is recorded. */
  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const t of this.paceTimers.values()) clearTimeout(t);
    this.paceTimers.clear();
    for (const ac of this.running.values()) ac.abort(new Error('shutting down'));
    await this.passing;
    await Promise.allSettled([...this.settled]);
  }

  /** Look for work soon (a write here, or a change any replica made). */
  kick(): void {
    if (!this.started) return;
    if (this.passing !== null) {
      this.again = true;
      return;
    }
    this.run();
  }

  /** One full pass now: housekeeping, then claims (tests call it; the poll does it every pollMs). */
  async tick(): Promise<void> {
    this.housekeepingDue = true;
    this.kick();
    await this.passing;
  }

  private schedule(ms: number): void {
    if (!this.started) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.housekeepingDue = true;
      this.kick();
      this.schedule(this.options.pollMs);
    }, ms);
    this.timer.unref();
  }

  private run(): void {
    this.passing = (async () => {
      do {
        this.again = false;
        try {
          await this.pass();
        } catch (err) {
          this.deps.log.error({ err }, 'outbox pass failed');
        }
      } while (this.again && this.started);
    })().finally(() => {
      this.passing = null;
    });
  }

  private async pass(): Promise<void> {
    this.pool ??= await poolOf(this.deps.store);
    const now = this.deps.now();
    if (this.housekeepingDue) {
      this.housekeepingDue = false;
      // A breaker's cooldown may have passed: its targets are claimable again (tryAcquire decides).
      for (const [key, set] of this.blocked) if (!this.perKey.has(key) && !this.paceTimers.has(key)) set.clear();
      const reclaimed = await reclaimExpired(this.pool, now, 'outcome unknown: the sending process stopped; re-sending with the same delivery id');
      if (reclaimed) this.deps.log.warn({ count: reclaimed }, 'reclaimed deliveries whose worker stopped mid-send');
      await this.deadLetterOverdue(now);
    }
    if (!this.started) return;
    await this.fill(now);
  }

  private targetFor(target: string): Target | undefined {
    return this.deps.targets.find((t) => t.handles(target));
  }

  private skipList(): string[] {
    const out: string[] = [];
    for (const set of this.blocked.values()) for (const t of set) out.push(t);
    return out;
  }

  private block(key: string, target: string): void {
    let set = this.blocked.get(key);
    if (!set) this.blocked.set(key, (set = new Set()));
    set.add(target);
  }

  /** Claims and starts lane heads until the slots are full or nothing more is due. */
  private async fill(now: number): Promise<void> {
    const pool = this.pool!;
    while (this.started && this.running.size < this.options.concurrency) {
      const room = Math.min(this.options.claimBatch, this.options.concurrency - this.running.size);
      const leaseUntil = now + this.options.leaseMs;
      let rows: OutboxRow[];
      let context: Map<number, { folded: number; previousRef: string | null }>;
      try {
        [rows, context] = await claimInTransaction(pool, async (c) => {
          const heads = await claimHeads(c, now, leaseUntil, room, this.skipList(), this.options.defaultDeadlineMs);
          const folding = heads.filter((h) => h.customerFacing && this.targetFor(splitLane(h.target).target)?.folds);
          const behind = await waitingBehindAll(c, folding);
          const out: OutboxRow[] = [];
          for (const head of heads) {
            let chosen = head;
            const run: number[] = [];
            for (const r of behind.get(head.id) ?? []) {
              if (!r.customerFacing) break;
              run.push(r.id);
            }
            const newest = run.at(-1);
            if (newest !== undefined) chosen = await foldInto(c, [head.id, ...run.slice(0, -1)], newest, leaseUntil);
            out.push(chosen);
          }
          return [out, await foldedAndPrevious(c, out)] as const;
        });
      } catch (err) {
        this.deps.log.error({ err }, 'could not claim deliveries');
        return;
      }
      if (!rows.length) return;
      const back: Array<{ id: number; leaseUntil: number }> = [];
      // What the targets' synchronous hooks need, loaded for the whole batch at once.
      const byTarget = new Map<Target, { names: Set<string>; subjects: BreakerSubject[] }>();
      for (const r of rows) {
        const plain = splitLane(r.target).target;
        const t = this.targetFor(plain);
        if (!t?.lookup) continue;
        const entry = byTarget.get(t) ?? { names: new Set<string>(), subjects: [] };
        entry.names.add(plain);
        entry.subjects.push(plain === r.target ? r : { ...r, target: plain });
        byTarget.set(t, entry);
      }
      await Promise.all([...byTarget].map(([t, { names, subjects }]) => t.lookup!([...names], subjects).catch(() => undefined)));
      for (const row of rows) {
        try {
          if (!(await this.judgeAndStart(row, leaseUntil, now, context.get(row.id)))) back.push({ id: row.id, leaseUntil });
        } catch (err) {
          // A target's hook that throws, or a statement that fails: the row waits for a later pass.
          this.deps.log.error({ err, outboxId: row.id, target: row.target }, 'could not start a delivery');
          // Its target is left out of claims until the next poll.
          back.push({ id: row.id, leaseUntil });
          this.block('\u0000error', row.target);
        }
      }
      try {
        await giveBack(pool, back);
      } catch (err) {
        this.deps.log.error({ err }, 'could not give back claimed deliveries: they are sent after their lease');
        return;
      }
      // Fewer than asked: every due head not held by another replica was claimed. The rows given
      // back are left out of the next claims (their upstream is full), so a full batch goes on.
      if (rows.length < room) return;
    }
  }

  /** Starts a claimed row if its upstream, pace and breaker let it go now (false: give it back). */
  private async judgeAndStart(
    row: OutboxRow,
    leaseUntil: number,
    now: number,
    context: { folded: number; previousRef: string | null } | undefined,
  ): Promise<boolean> {
    const plain = splitLane(row.target).target;
    const target = this.targetFor(plain);
    if (!target) {
      // Kept, not dropped: a target may be configured later.
      await postponeClaimed(this.pool!, row.id, leaseUntil, `nothing delivers to ${row.target} (is it configured?)`, now + 60_000);
      return true; // not given back: already put back
    }
    const subject = plain === row.target ? row : { ...row, target: plain };
    const key = breakerKeyFor(target, subject);
    const share = Math.max(1, Math.min(this.options.concurrency, target.upstreamShare ?? this.options.perUpstream));
    if ((this.perKey.get(key) ?? 0) >= share) {
      this.block(key, row.target);
      return false;
    }
    const pace = target.pace?.(subject);
    if (pace && (this.paceNext.get(pace.key) ?? 0) > now) {
      this.blockForPace(pace.key, row.target, (this.paceNext.get(pace.key) ?? now) - now);
      return false;
    }
    if (!this.breakers.tryAcquire(key)) {
      this.block(key, row.target);
      return false;
    }
    if (pace) this.paceNext.set(pace.key, Math.max(this.paceNext.get(pace.key) ?? 0, this.deps.now() + pace.intervalMs));
    const msg = messageFor(row, context?.folded ?? 0, context?.previousRef ?? null, this.deps.now(), this.options);
    this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
    this.launch({ msg, target, key, leaseUntil, stored: row.target });
    return true;
  }

  private blockForPace(paceKey: string, target: string, waitMs: number): void {
    const key = `pace\u0000${paceKey}`;
    this.block(key, target);
    if (this.paceTimers.has(key)) return;
    const timer = setTimeout(
      () => {
        this.paceTimers.delete(key);
        this.blocked.delete(key);
        this.kick();
      },
      Math.max(1, waitMs),
    );
    timer.unref();
    this.paceTimers.set(key, timer);
  }

  private release(key: string): void {
    const n = (this.perKey.get(key) ?? 1) - 1;
    if (n > 0) this.perKey.set(key, n);
    else this.perKey.delete(key);
    this.blocked.delete(key);
  }

  private launch(s: Started): void {
    const { msg, target } = s;
    const ac = new AbortController();
    this.running.set(msg.id, ac);
    const timeoutMs = this.options.attemptTimeoutMs;
    const timer = setTimeout(() => ac.abort(new Error('timeout')), timeoutMs);
    const started = performance.now();
    const attempt = attemptDelivery(target, msg, ac, timer, timeoutMs, () => this.started);
    const p = (async () => {
      const { result, stopping } = await attempt;
      this.deps.onAttempt?.(msg.target, result.kind, (performance.now() - started) / 1000);
      try {
        await this.record(s, result, stopping);
      } catch (err) {
        this.deps.log.error({ err, deliveryId: msg.deliveryId }, 'delivery outcome not recorded: the row is re-sent with the same delivery id after its lease');
      } finally {
        this.running.delete(msg.id);
        this.release(s.key);
      }
      // Its lane may have a new head, and its slot is free.
      this.kick();
    })().finally(() => this.settled.delete(p));
    this.settled.add(p);
  }

  private async record(s: Started, result: DeliveryResult, stopping: boolean): Promise<void> {
    const pool = this.pool!;
    const { msg, key, target, leaseUntil } = s;
    const now = this.deps.now();
    const fields = { deliveryId: msg.deliveryId, target: msg.target, incidentId: msg.incidentId, attempt: msg.attempts };
    switch (result.kind) {
      case 'delivered':
        this.breakers.success(key);
        if (await this.recordDone(msg.id, leaseUntil, now, result.remoteRef ?? null)) this.notifyWrite();
        if (this.deps.log.isLevelEnabled('debug')) this.deps.log.debug({ ...fields, folded: msg.folded }, 'delivered');
        return;
      case 'retry': {
        if (stopping || result.retryAfterMs !== undefined) this.breakers.neutral(key);
        else this.breakers.failure(key);
        const delay = retryDelayFor(target, msg.attempts, result.retryAfterMs, this.options, stopping);
        if (delay === 'give-up') {
          await this.deadLetter(
            msg.id,
            `failed through the whole retry schedule (${msg.attempts} attempts; last error: ${result.error})`,
            'exhausted',
            'in_flight',
          );
          return;
        }
        await recordRetry(pool, msg.id, leaseUntil, now + delay, result.error);
        this.deps.log.warn({ ...fields, error: result.error, retryInMs: delay }, 'delivery will be retried');
        return;
      }
      case 'failed':
        this.breakers.neutral(key);
        await this.deadLetter(msg.id, result.error, result.gone ? 'gone' : 'failed', 'in_flight');
    }
  }

  /** Records a delivered row with the others that finish meanwhile (see doneQueue). */
  private recordDone(id: number, leaseUntil: number, at: number, remoteRef: string | null): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.doneQueue.push({ id, leaseUntil, at, remoteRef, settle: (r) => (r instanceof Error ? reject(r) : resolve(r)) });
      if (!this.flushing) void this.flushDone();
    });
  }

  private async flushDone(): Promise<void> {
    this.flushing = true;
    try {
      while (this.doneQueue.length) {
        const batch = this.doneQueue.splice(0, 1_000);
        let recorded: Set<number> | Error;
        try {
          recorded = await recordDeliveredMany(this.pool!, batch);
        } catch (err) {
          recorded = err instanceof Error ? err : new Error(String(err));
        }
        for (const d of batch) d.settle(recorded instanceof Error ? recorded : recorded.has(d.id));
      }
    } finally {
      this.flushing = false;
    }
  }

  private notifyWrite(): void {
    this.deps.onWrite?.();
  }

  /** Customer-facing rows past their deadline are dead-lettered and reported, never dropped. */
  private async deadLetterOverdue(now: number): Promise<void> {
    if (this.deadLettering) return;
    const overdue = await overdueCustomerFacing(this.pool!, now, this.options.defaultDeadlineMs);
    if (!overdue.length) return;
    this.deadLettering++;
    try {
      for (const row of overdue) {
        const minutes = Math.round(
          ((row.deadlineAt ?? (row.approvedAt ?? row.createdAt) + this.options.defaultDeadlineMs) - (row.approvedAt ?? row.createdAt)) / 60_000,
        );
        const reason = `not delivered within ${minutes} min${row.lastError ? ` (last error: ${row.lastError})` : row.attempts === 0 ? ' (never attempted: earlier messages to this target were still waiting)' : ''}`;
        await this.deadLetter(row.id, reason, 'deadline', 'pending');
      }
    } finally {
      this.deadLettering--;
    }
  }

  /** Dead-letters one row through the store: the incident is told in the same transaction. */
  private async deadLetter(id: number, reason: string, cause: DeadLetterCause, from: 'pending' | 'in_flight'): Promise<void> {
    const row = await this.deps.store.transaction(async (tx) => {
      const row = await markDead(tx, id, from, reason);
      if (row) await this.deps.onDeadLetter(tx, row, reason, cause);
      return row;
    });
    if (!row) return;
    this.deps.log.warn({ deliveryId: row.deliveryId, incidentId: row.incidentId, target: row.target, reason }, 'delivery dead-lettered');
    this.notifyWrite();
  }
}
