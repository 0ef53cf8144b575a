import type { Db } from '../../db/client.js';
import { markDead } from '../../db/queries/outbox.js';
import {
  deliveredSince,
  foldInto,
  inClaimTransaction,
  overdueCustomerFacing,
  postponePending,
  reclaimExpired,
  workerStatements,
  type OutboxRow,
  type WorkerStatements,
} from '../../db/queries/worker.js';
import type { Store, WriteTx } from '../../db/store.js';
import type { Logger } from '../logger.js';
import { maintenanceLane, splitLane } from '../domain/maintenance.js';
import { CircuitBreakers, DEFAULT_BACKOFF, DEFAULT_BREAKER, type BackoffOptions, type BreakerOptions } from './policy.js';
import { attemptDelivery, delayNoticeFor, foldNoticeFor, messageFor, retryDelayFor } from './delivery.js';
import type { DeadLetterCause, DeliveryResult, OutboxMessage, Target } from './target.js';

export type { OutboxRow };

export interface WorkerOptions {
  /** How often due rows are looked for when nothing wakes the worker earlier. */
  pollMs: number;
  /**
   * Kicks (a write, a change noticed in the database) coalesce: at most one is scheduled at a
   * time, and a kicked pass runs at least this long after the previous one, so a burst of writes
   * costs one look at the lanes, not one per write. The first kick after a quiet spell runs at
   * once; under a stream of commands (thousands a second), passes come at most this often, which
   * is still far below anything a person or a subscriber notices.
   */
  kickGapMs: number;
  /**
   * Deliveries in flight at once, across lanes (one per lane at most). Sized for I/O: an attempt
   * mostly waits on the network, so a big fan-out to endpoints answering in 100 ms needs hundreds
   * in flight to go as fast as the network allows. Each one holds one message and one socket.
   */
  concurrency: number;
  /**
   * At most this many of them to one upstream (breaker key), so a host that hangs for the whole
   * attempt timeout cannot take every slot and hold up other upstreams' lanes.
   */
  perUpstream: number;
  /**
   * Lane heads claimed in one IMMEDIATE transaction. Bounds how long the write lock is held (other
   * writers wait for it) and how many messages are read into memory at once.
   */
  claimBatch: number;
  /**
   * Due lane heads read per look at the lanes. Only their ids and lanes are kept, never a body;
   * further pages are read when these are used up.
   */
  scanPage: number;
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
    kickGapMs: 5,
    concurrency: 1_024,
    perUpstream: 64,
    claimBatch: 64,
    scanPage: 2_048,
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

/** `current` adjusted by `over`; a new attempt timeout brings its lease along unless one is given. */
export function tunedOptions(current: WorkerOptions, over: Partial<WorkerOptions>): WorkerOptions {
  const attemptTimeoutMs = over.attemptTimeoutMs ?? current.attemptTimeoutMs;
  return {
    ...current,
    ...over,
    attemptTimeoutMs,
    leaseMs: over.leaseMs ?? (over.attemptTimeoutMs ? attemptTimeoutMs * 2 + 1_000 : current.leaseMs),
  };
}

/**
 * What both outbox workers (SQLite's here, PostgreSQL's in worker.pg.ts) hold alike: their
 * options, which tests may tune before start, and the circuit breakers those options shape.
 */
export abstract class TunableWorker {
  readonly breakers: CircuitBreakers;
  protected options: WorkerOptions;

  protected constructor(
    private readonly clock: () => number,
    options: Partial<WorkerOptions>,
  ) {
    this.options = defaultWorkerOptions(options);
    this.breakers = new CircuitBreakers(this.options.breaker, clock);
  }

  /** Adjusts timing (tests use short timeouts and backoff). Call before start(). */
  tune(over: Partial<WorkerOptions>): void {
    this.options = tunedOptions(this.options, over);
    (this as { breakers: CircuitBreakers }).breakers = new CircuitBreakers(this.options.breaker, this.clock);
  }

  get settings(): Readonly<WorkerOptions> {
    return this.options;
  }
}

export interface WorkerDeps {
  db: Db;
  /** The store's read-only connection, for the lane scan (the writer when absent). */
  readDb?: Db;
  /** Dead letters are written through the store: telling the incident runs the outlets. */
  store: Store;
  log: Logger;
  now: () => number;
  targets: readonly Target[];
  /**
   * Called in the dead-lettering transaction for every row that goes dead: tells the incident
   * (its timeline, hence its thread) about a customer-facing one, and for 'gone' / 'exhausted'
   * disables the subscription the row was for.
   */
  onDeadLetter(tx: WriteTx, row: OutboxRow, reason: string, cause: DeadLetterCause): Promise<void>;
  /** Called after the worker wrote something other processes' readers may care about. */
  onWrite?(): void;
  /** Told of every attempt as it ends: its target (plain), how it went, and how long it took. */
  onAttempt?(target: string, outcome: DeliveryResult['kind'], seconds: number): void;
}

/**
 * How far back a starting worker looks for rows delivered just before it (by a predecessor that
 * stopped or died), to keep their pace keys' spacing: longer than any pace a target sets.
 */
const PACE_MEMORY_MS = 60_000;

/** The longest a kicked pass waits after kicked passes that started nothing (see pass()). */
const IDLE_KICK_GAP_MS = 50;

/** How long finished attempts are gathered before their outcomes are recorded together. */
const RECORD_GATHER_MS = 5;

const laneOf = (r: { target: string; incidentId: number | null }) => `${r.target}\u0000${r.incidentId ?? ''}`;

// The notices and the message a claimed row becomes are shared with PostgreSQL's worker.
export { delayNoticeFor, foldNoticeFor };

/** A due lane head the worker may try to claim: ids only, so thousands of them cost little memory. */
interface Candidate {
  id: number;
  target: string;
  incidentId: number | null;
  lane: string;
}

/** What the worker worked out about a row once (its Target, breaker key and pace), kept while it waits. */
interface Judgement {
  target: Target;
  key: string;
  /** In-flight deliveries allowed to `key`. */
  share: number;
  pace: { key: string; intervalMs: number } | undefined;
  /** The look at the lanes that last saw the row waiting; older entries are forgotten. */
  seen: number;
}

interface Running {
  ac: AbortController | null;
  key: string;
}

interface Claimed {
  msg: OutboxMessage;
  target: Target;
  key: string;
  lane: string;
}

/** A row claimed in the open transaction, started once it commits. */
interface Reserved extends Claimed {
  /** The pace slot it took, and the key's previous next-start, to give back on a rollback. */
  pace: { key: string; intervalMs: number; before: number | undefined } | undefined;
}

/** What is kept of a message while its attempt runs and until its outcome is recorded. */
type Sent = Pick<OutboxMessage, 'id' | 'deliveryId' | 'target' | 'incidentId' | 'attempts' | 'folded'>;

interface Outcome {
  msg: Sent;
  target: Target;
  result: DeliveryResult;
  key: string;
  lane: string;
  stopping: boolean;
}

/**
 * The outbox worker. A lane is (target, incident): its rows go strictly in id order; different
 * lanes never wait for each other. Claiming is a conditional UPDATE in an IMMEDIATE transaction,
 * so two servers on one database never send the same row at once, without any lock table.
 *
 * Scheduling is built so that its cost per delivery does not grow with the number of lanes:
 * - The lanes are looked at (a recursive index walk, O(waiting lanes)) on the poll, on a kick from
 *   another writer, and when the heads read so far are used up, never per delivery. What it
 *   yields is a list of candidate ids; anything may have changed since, so every claim re-checks
 *   the row in SQL (still pending, due, and the oldest unfinished row of its lane).
 * - Candidates are claimed many per transaction, as slots allow.
 * - When a delivery finishes, its outcome is recorded together with the others that finished
 *   within a few milliseconds, in one transaction that also claims the rows taking their slots;
 *   only the finished lanes are looked at again, for their next row.
 * - A candidate whose upstream has no free slot waits in memory for that upstream's next finished
 *   delivery; one whose pace key has no free slot waits for a timer set to when the slot frees.
 *   Pacing is this process's: two servers on one database each keep their own pace. A starting
 *   worker takes it up from the rows delivered in the moments before (rememberPace).
 */
export class OutboxWorker extends TunableWorker {
  private readonly running = new Map<string, Running>();
  private readonly perKey = new Map<string, number>();
  /** Upstream keys whose target set its own share (upstreamShare); a handful of entries. */
  private readonly shares = new Map<string, number>();
  private readonly settled = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private kickTimer: NodeJS.Timeout | null = null;
  private paceTimer: { at: number; timer: NodeJS.Timeout } | null = null;
  /** The rest of a fill, after the attempts of the batch just claimed have started (see fill). */
  private moreSoon: NodeJS.Immediate | null = null;
  private lastTickAt = -Infinity;
  private started = false;
  private ticking = false;
  private filling = false;
  /** Set while this worker reports its own write, so the kick that comes back does not re-scan. */
  private ownWrite = false;
  /** Another writer changed something: the next pass looks at the lanes afresh. */
  private dirty = true;
  /** The gap before the next kicked pass when kicked passes keep starting nothing (0: kickGapMs). */
  private idleGap = 0;
  private stmts: WorkerStatements | null = null;

  // Candidates: `front` first (ones whose slot just freed, next rows of finished lanes), then the
  // current page of the lane scan, then further pages from `cursor`.
  private front: Candidate[] = [];
  private ready: Candidate[] = [];
  private readyAt = 0;
  private cursor: { at: number; id: number } | null = null;
  private scanNow = 0;
  private generation = 0;
  private readonly judged = new Map<number, Judgement>();
  /** Waiting for a slot of their upstream (breaker key). */
  private readonly parkedByKey = new Map<string, Candidate[]>();
  /** Waiting for the next free start of their pace key. */
  private readonly parkedByPace = new Map<string, Candidate[]>();
  /** When the next row of each pace key may start. */
  private readonly paceNext = new Map<string, number>();
  /** Upstreams that got a slot back since the last fill. */
  private readonly freed = new Set<string>();

  private inTransaction = false;
  /** Dead-letter batches still being written (housekeeping does not start another meanwhile). */
  private deadLettering = 0;
  /** Pending rows past their deadline whose dead-lettering has begun: no claim may send them. */
  private readonly dying = new Set<number>();
  private wroteInTransaction = false;
  private reserved: Reserved[] = [];
  private outcomes: Outcome[] = [];
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly deps: WorkerDeps,
    options: Partial<WorkerOptions> = {},
  ) {
    super(deps.now, options);
  }

  private get q(): WorkerStatements {
    return (this.stmts ??= workerStatements(this.deps.db, this.deps.readDb));
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.dirty = true;
    this.rememberPace(this.deps.now());
    this.schedule(0);
  }

  /**
   * Pacing is kept in memory; a server that restarts (or takes over from one that died) would
   * otherwise post to a channel again at once, within the limit of the post its predecessor made
   * a moment before. So a paced key's next start is taken from the rows delivered in the last
   * moments: one interval after each was delivered (its answer had come by then).
   */
  private rememberPace(now: number): void {
    try {
      for (const row of deliveredSince(this.deps.db, now - PACE_MEMORY_MS)) {
        const plain = splitLane(row.target).target;
        const pace = this.targetFor(plain)?.pace?.(plain === row.target ? row : { ...row, target: plain });
        const at = (row.deliveredAt ?? 0) + (pace?.intervalMs ?? 0);
        if (pace && at > now) this.paceNext.set(pace.key, Math.max(this.paceNext.get(pace.key) ?? 0, at));
      }
    } catch (err) {
      this.deps.log.error({ err }, 'could not read the pace of recent deliveries');
    }
  }

  /** Stops claiming, aborts attempts in flight and waits until their outcome is recorded. */
  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.kickTimer) clearTimeout(this.kickTimer);
    this.kickTimer = null;
    if (this.paceTimer) clearTimeout(this.paceTimer.timer);
    this.paceTimer = null;
    if (this.moreSoon) clearImmediate(this.moreSoon);
    this.moreSoon = null;
    for (const { ac } of this.running.values()) ac?.abort(new Error('shutting down'));
    await Promise.allSettled([...this.settled]);
  }

  /**
   * Look for work soon (after a write in this process, or a change noticed in the database). Only
   * marks the worker dirty: however many kicks arrive, one pass is scheduled. The worker's own
   * writes (reported through onWrite, up to one per batch of outcomes) come back here too; they
   * change nothing it does not know, so they cost no fresh look at the lanes. (Should a listener
   * write outbox rows while being told of one of them, the next poll finds those.)
   */
  kick(): void {
    if (!this.started || this.ownWrite) return;
    this.dirty = true;
    if (this.kickTimer) return;
    const wait = Math.max(0, this.lastTickAt + (this.idleGap || this.options.kickGapMs) - performance.now());
    this.kickTimer = setTimeout(() => {
      this.kickTimer = null;
      this.pass(false);
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
   * One full pass (on the poll timer): housekeeping, a fresh look at the lanes, then claims.
   * Synchronous: every database step is a short synchronous transaction (db/queries/worker.ts).
   */
  tick(): void {
    this.pass(true);
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
        this.forgetStale(now);
      }
      if (!this.started) return;
      if (housekeeping || this.dirty) this.rescan(now);
      const running = this.running.size;
      this.fill(now);
      if (!housekeeping) {
        // A kicked pass that started nothing (the new rows wait behind a paced or running head,
        // e.g. a stream of notes to one thread) makes the next kicked pass wait twice as long, up
        // to IDLE_KICK_GAP_MS; one that started something brings the gap back. After a quiet
        // spell a kick still runs at once.
        const gap = this.idleGap || this.options.kickGapMs;
        this.idleGap = this.running.size > running ? 0 : Math.min(gap * 2, Math.max(IDLE_KICK_GAP_MS, this.options.kickGapMs));
      }
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
    return t.breakerKey ? t.breakerKey(row.target, row) : (row.target.split(':')[0] ?? row.target);
  }

  /** Reports a write of this worker's to the app without taking its own kick back as news. */
  private notifyWrite(): void {
    if (!this.deps.onWrite) return;
    this.ownWrite = true;
    try {
      this.deps.onWrite();
    } finally {
      this.ownWrite = false;
    }
  }

  /** Rows left in flight by a process that died (lease expired) go back to pending. */
  private reclaimExpired(now: number): void {
    const reclaimed = reclaimExpired(this.deps.db, now, 'outcome unknown: the sending process stopped; re-sending with the same delivery id');
    if (reclaimed) {
      this.dirty = true;
      this.deps.log.warn({ count: reclaimed }, 'reclaimed deliveries whose worker stopped mid-send');
    }
  }

  /** Customer-facing rows are never dropped: past their deadline they are dead-lettered and reported. */
  private deadLetterOverdue(now: number): void {
    if (this.deadLettering) return;
    // What the reason needs, not the rows: a wide fan-out past its deadline is not read into
    // memory body and all (each row is read on its own as it is dead-lettered).
    const overdue = overdueCustomerFacing(this.deps.db, now, this.options.defaultDeadlineMs);
    if (!overdue.length) return;
    for (const row of overdue) this.dying.add(row.id);
    const dead = overdue.map((row) => {
      const minutes = Math.round(
        ((row.deadlineAt ?? (row.approvedAt ?? row.createdAt) + this.options.defaultDeadlineMs) - (row.approvedAt ?? row.createdAt)) / 60_000,
      );
      const reason = `not delivered within ${minutes} min${row.lastError ? ` (last error: ${row.lastError})` : row.attempts === 0 ? ' (never attempted: earlier messages to this target were still waiting)' : ''}`;
      return { id: row.id, from: 'pending' as const, reason, cause: 'deadline' as const };
    });
    this.track(this.deadLetterAll(dead));
  }

  /** Keeps `p` among what stop() waits for. */
  private track(p: Promise<void>): void {
    this.settled.add(p);
    void p.finally(() => this.settled.delete(p));
  }

  /**
   * Dead-letters rows one transaction each, through the store: the incident is told in the same
   * transaction (its timeline event and the outlets' rows). A row whose outcome was a dead letter
   * stays in flight until then; a crash in between leaves it to be reclaimed after its lease and
   * tried once more, so the notice is never lost.
   */
  private async deadLetterAll(dead: ReadonlyArray<{ id: number; from: 'pending' | 'in_flight'; reason: string; cause: DeadLetterCause }>): Promise<void> {
    this.deadLettering++;
    try {
      for (const d of dead) {
        try {
          await this.deadLetter(d.id, d.from, d.reason, d.cause);
        } catch (err) {
          this.deps.log.error({ err, outboxId: d.id }, 'could not dead-letter delivery');
        } finally {
          this.dying.delete(d.id);
        }
      }
    } finally {
      this.deadLettering--;
    }
    // The dead rows' lanes have a new head: the kicked pass looks at the lanes afresh.
    if (this.started) this.kick();
  }

  /** Pace keys whose slot is long free, and judgements of rows no longer seen waiting, are dropped. */
  private forgetStale(now: number): void {
    for (const [key, at] of this.paceNext) if (at <= now && !this.parkedByPace.has(key)) this.paceNext.delete(key);
    for (const [id, j] of this.judged) if (j.seen < this.generation - 1) this.judged.delete(id);
  }

  private async deadLetter(id: number, from: 'pending' | 'in_flight', reason: string, cause: DeadLetterCause): Promise<void> {
    const row = await this.deps.store.transaction(async (tx) => {
      const row = await markDead(tx, id, from, reason);
      if (row) await this.deps.onDeadLetter(tx, row, reason, cause);
      return row;
    });
    this.judged.delete(id);
    if (!row) return;
    this.deps.log.warn({ deliveryId: row.deliveryId, incidentId: row.incidentId, target: row.target, reason }, 'delivery dead-lettered');
    this.notifyWrite();
  }

  // --- finding candidates -----------------------------------------------------------------------

  /** Forgets every candidate and reads the first page of due lane heads again. */
  private rescan(now: number): void {
    this.dirty = false;
    this.generation += 1;
    this.front = [];
    this.parkedByKey.clear();
    this.parkedByPace.clear();
    this.freed.clear();
    this.scanNow = now;
    this.cursor = { at: Number.MIN_SAFE_INTEGER, id: 0 };
    this.loadPage();
  }

  /**
   * The next page of due lane heads, oldest due first. A lane's head is its oldest row not yet
   * finished; only a head may be attempted. The oldest pending row of each lane is found by
   * skipping through the (state, target, incident_id, id) index one lane at a time (a recursive
   * CTE: a few index seeks per lane, however long the lane's backlog or history), and a lane whose
   * older row is still in flight is left alone. NULL incidents form one lane, which sorts first
   * in its target. Pages continue from the last head returned (keyset), so candidates that have to
   * wait never hide the lanes behind them.
   */
  private loadPage(): void {
    const c = this.cursor;
    this.ready = [];
    this.readyAt = 0;
    if (!c) return;
    const limit = Math.max(1, this.options.scanPage);
    const rows = this.q.dueHeads(this.scanNow, c.at, c.id, limit);
    for (const [id, target, incidentId] of rows) {
      const cand = { id, target, incidentId, lane: laneOf({ target, incidentId }) };
      if (this.running.has(cand.lane)) continue;
      const j = this.judged.get(id);
      if (j) j.seen = this.generation;
      this.ready.push(cand);
    }
    const last = rows.at(-1);
    this.cursor = rows.length === limit && last ? { at: last[3], id: last[0] } : null;
  }

  private nextCandidate(): Candidate | undefined {
    const f = this.front.shift();
    if (f) return f;
    if (this.readyAt >= this.ready.length && this.cursor) this.loadPage();
    return this.ready[this.readyAt++];
  }

  /** Candidates that waited for an upstream slot or a pace slot, and may go now, go first. */
  private unpark(now: number): void {
    for (const key of this.freed) {
      const parked = this.parkedByKey.get(key);
      let room = this.shareOf(key) - (this.perKey.get(key) ?? 0);
      while (parked?.length && room-- > 0) this.front.push(parked.shift()!);
      if (!parked?.length) this.parkedByKey.delete(key);
    }
    this.freed.clear();
    for (const [key, parked] of this.parkedByPace) {
      if ((this.paceNext.get(key) ?? 0) > now) continue;
      this.front.push(parked.shift()!);
      if (!parked.length) this.parkedByPace.delete(key);
    }
  }

  private park(map: Map<string, Candidate[]>, key: string, c: Candidate): void {
    const list = map.get(key);
    if (list) list.push(c);
    else map.set(key, [c]);
  }

  /**
   * May a row judged `j` start now? If its upstream has no free slot, or its pace key no free
   * start, the candidate is parked until one frees (and false is returned).
   */
  private admit(c: Candidate, j: Judgement, now: number): boolean {
    if ((this.perKey.get(j.key) ?? 0) >= j.share) {
      this.park(this.parkedByKey, j.key, c);
      return false;
    }
    if (j.pace && (this.paceNext.get(j.pace.key) ?? 0) > now) {
      this.park(this.parkedByPace, j.pace.key, c);
      return false;
    }
    return true;
  }

  /** Claims and starts due lane heads until the slots are full or no candidate may go. */
  private fill(now: number): void {
    if (!this.started || this.filling) return;
    this.filling = true;
    try {
      this.unpark(now);
      while (this.running.size < this.options.concurrency) {
        const room = Math.min(this.options.claimBatch, this.options.concurrency - this.running.size);
        const batch: Candidate[] = [];
        const lanes = new Set<string>();
        const counted = new Map<string, number>();
        for (let c = this.nextCandidate(); c; c = batch.length < room ? this.nextCandidate() : undefined) {
          // A lane already running, or twice in one batch: its next row comes back when it finishes.
          if (this.running.has(c.lane) || lanes.has(c.lane)) continue;
          const j = this.judged.get(c.id);
          if (j) {
            // Known upstream: leave it waiting without reading the row when its slots are taken,
            // counting this batch's own picks too.
            const inBatch = counted.get(j.key) ?? 0;
            if ((this.perKey.get(j.key) ?? 0) + inBatch >= j.share) {
              this.park(this.parkedByKey, j.key, c);
              continue;
            }
            if (j.pace && (this.paceNext.get(j.pace.key) ?? 0) > now) {
              this.park(this.parkedByPace, j.pace.key, c);
              continue;
            }
            counted.set(j.key, inBatch + 1);
          }
          lanes.add(c.lane);
          batch.push(c);
        }
        if (!batch.length) break;
        if (!this.claimBatch(batch, now)) break;
        // A full batch, claimed in a transaction of its own: the rest is claimed in a task of its
        // own, once these attempts are under way. Their requests go out in the microtasks after
        // this task, so a wide fan-out's first posts are on the wire (and the upstream busy
        // answering them) while the next batch is claimed, not only after the last one was.
        // Inside a transaction (a flush claiming for the slots it freed) nothing starts before
        // the commit anyway, so that one goes on at once.
        if (!this.inTransaction && batch.length === room && this.running.size < this.options.concurrency) {
          this.fillSoon();
          break;
        }
      }
    } finally {
      this.filling = false;
    }
    this.armPaceTimer(now);
  }

  private fillSoon(): void {
    if (this.moreSoon || !this.started) return;
    this.moreSoon = setImmediate(() => {
      this.moreSoon = null;
      try {
        this.fill(this.deps.now());
      } catch (err) {
        this.deps.log.error({ err }, 'outbox pass failed');
      }
    });
  }

  /** Wakes the worker when the earliest pace slot that a parked candidate waits for frees. */
  private armPaceTimer(now: number): void {
    let at = Infinity;
    for (const key of this.parkedByPace.keys()) at = Math.min(at, this.paceNext.get(key) ?? now);
    if (at === Infinity || !this.started) return;
    if (this.paceTimer && this.paceTimer.at <= at) return;
    if (this.paceTimer) clearTimeout(this.paceTimer.timer);
    const timer = setTimeout(
      () => {
        this.paceTimer = null;
        try {
          this.fill(this.deps.now());
        } catch (err) {
          this.deps.log.error({ err }, 'outbox pass failed');
        }
      },
      Math.max(0, at - now),
    );
    timer.unref();
    this.paceTimer = { at, timer };
  }

  // --- claiming ---------------------------------------------------------------------------------

  /**
   * Runs `fn` in one IMMEDIATE transaction (or inside the one already open). Rows claimed in it
   * are started only once it has committed; when it fails (another writer held the lock past the
   * busy timeout) nothing was claimed, what was reserved for them in memory is given back, and
   * false is returned.
   */
  private atomically(fn: () => void): boolean {
    if (this.inTransaction) {
      fn();
      return true;
    }
    this.inTransaction = true;
    try {
      inClaimTransaction(this.deps.db, fn);
    } catch (err) {
      this.unreserve();
      this.deps.log.error({ err }, 'outbox transaction failed');
      return false;
    } finally {
      this.inTransaction = false;
    }
    const claimed = this.reserved;
    this.reserved = [];
    for (const c of claimed) {
      // A paced key's next start counts from this start, not from when the pass began: however
      // long the batch took, two starts are never closer than the interval.
      if (c.pace) this.paceNext.set(c.pace.key, Math.max(this.paceNext.get(c.pace.key) ?? 0, this.deps.now() + c.pace.intervalMs));
      this.launch(c);
    }
    return true;
  }

  /** Gives back the slots, probes and pace slots of rows whose claim was rolled back. */
  private unreserve(): void {
    for (const c of this.reserved.reverse()) {
      this.running.delete(c.lane);
      this.release(c.key);
      this.breakers.neutral(c.key);
      if (c.pace) {
        if (c.pace.before === undefined) this.paceNext.delete(c.pace.key);
        else this.paceNext.set(c.pace.key, c.pace.before);
      }
    }
    this.reserved = [];
  }

  /**
   * Claims a batch of candidates in one transaction: each row is read, judged (Target, breaker
   * key, pace) if it was not yet, and claimed if its upstream, pace and breaker let it go.
   * False when the transaction failed.
   */
  private claimBatch(batch: Candidate[], now: number): boolean {
    return this.atomically(() => {
      for (const c of batch) {
        try {
          this.claimCandidate(c, now);
        } catch (err) {
          // A target's breakerKey or pace that throws, or a statement that fails: this row waits
          // for a later look at the lanes; the others of the batch go on.
          this.deps.log.error({ err, outboxId: c.id, target: c.target }, 'could not claim a delivery');
        }
      }
    });
  }

  private claimCandidate(c: Candidate, now: number): void {
    const row = this.q.rowById(c.id);
    if (!row) return;
    if (row.state !== 'pending' || row.nextAttemptAt > now) return;
    let j = this.judged.get(c.id);
    if (!j) {
      const plain = splitLane(row.target).target;
      const target = this.targetFor(plain);
      if (!target) {
        this.noTarget(row, now);
        return;
      }
      // A maintenance's lane shares its upstream, breaker and pace with the plain target's.
      const subject = plain === row.target ? row : { ...row, target: plain };
      const key = this.breakerKey(target, subject);
      const share = Math.max(1, Math.min(this.options.concurrency, target.upstreamShare ?? this.options.perUpstream));
      this.shares.set(key, share);
      j = { target, key, share, pace: target.pace?.(subject), seen: this.generation };
      this.judged.set(c.id, j);
    }
    // Checked again here, with the claims made earlier in this batch counted.
    if (!this.admit(c, j, now)) return;
    // Open breaker: the row is left for a later look at the lanes, after the cooldown.
    if (!this.breakers.tryAcquire(j.key)) return;
    const msg = this.claim(row, j.target, now);
    if (!msg) {
      this.breakers.neutral(j.key);
      this.freed.add(j.key);
      return;
    }
    this.running.set(c.lane, { ac: null, key: j.key });
    this.perKey.set(j.key, (this.perKey.get(j.key) ?? 0) + 1);
    let pace: Reserved['pace'];
    if (j.pace) {
      pace = { key: j.pace.key, intervalMs: j.pace.intervalMs, before: this.paceNext.get(j.pace.key) };
      this.paceNext.set(j.pace.key, now + j.pace.intervalMs);
    }
    this.reserved.push({ msg, target: j.target, key: j.key, lane: c.lane, pace });
  }

  /** The in-flight share of an upstream key, as its target set it (perUpstream by default). */
  private shareOf(key: string): number {
    return this.shares.get(key) ?? this.options.perUpstream;
  }

  private release(key: string): void {
    const n = (this.perKey.get(key) ?? 1) - 1;
    if (n > 0) this.perKey.set(key, n);
    else this.perKey.delete(key);
    this.freed.add(key);
  }

  private noTarget(head: OutboxRow, now: number): void {
    // Kept, not dropped: a target may be configured later (credentials added, server restarted).
    // Customer-facing rows still reach their deadline and are reported.
    postponePending(this.deps.db, head.id, `nothing delivers to ${head.target} (is it configured?)`, now + 60_000);
  }

  /**
   * Claims the lane's head (inside the caller's transaction) and, for a folding target, folds the
   * run of waiting customer-facing rows behind it into the newest one, which is then what gets sent.
   */
  private claim(head: OutboxRow, target: Target, now: number): OutboxMessage | null {
    // Past its deadline and about to be dead-lettered (deadLetterAll): not sent late instead.
    if (this.dying.has(head.id)) return null;
    const leaseUntil = now + this.options.leaseMs;
    if (!this.q.claim(leaseUntil, head.id, now)) return null;
    let chosen = head;
    chosen.state = 'in_flight';
    chosen.attempts += 1;
    chosen.claimedUntil = leaseUntil;
    if (target.folds && chosen.customerFacing) {
      const run: number[] = [];
      for (const r of this.q.waitingBehind(chosen.target, chosen.incidentId, chosen.id)) {
        if (!r.customerFacing) break;
        run.push(r.id);
      }
      const newest = run.at(-1);
      if (newest !== undefined) {
        const superseded = [chosen.id, ...run.slice(0, -1)];
        foldInto(this.deps.db, superseded, newest, leaseUntil);
        for (const id of superseded) this.judged.delete(id);
        chosen = this.q.rowById(newest)!;
      }
    }
    const folded = this.q.foldedCount(chosen.id);
    const previousRemoteRef = this.q.previousRef(chosen.target, chosen.incidentId);
    return messageFor(chosen, folded, previousRemoteRef, now, this.options);
  }

  // --- attempts and their outcomes --------------------------------------------------------------

  private launch({ msg, target, key, lane }: Claimed): void {
    const ac = new AbortController();
    this.running.set(lane, { ac, key });
    const timeoutMs = this.options.attemptTimeoutMs;
    const timer = setTimeout(() => ac.abort(new Error('timeout')), timeoutMs);
    const log = this.deps.log;
    if (log.isLevelEnabled('debug')) {
      log.debug({ deliveryId: msg.deliveryId, target: msg.target, incidentId: msg.incidentId, attempt: msg.attempts, folded: msg.folded }, 'delivering');
    }
    // Only these fields are kept while the attempt runs, not the message: its payload (a webhook's
    // whole body) can go as soon as the target has rendered it, so a wide fan-out holds bodies
    // only for attempts being started, not for every one in flight.
    // The stored target: a maintenance's lane is named in it (src/domain/maintenance.ts).
    const stored = msg.maintenanceId == null ? msg.target : maintenanceLane(msg.target, msg.maintenanceId);
    const sent: Sent = { id: msg.id, deliveryId: msg.deliveryId, target: stored, incidentId: msg.incidentId, attempts: msg.attempts, folded: msg.folded };
    const started = performance.now();
    const attempt = attemptDelivery(target, msg, ac, timer, timeoutMs, () => this.started);
    const p = (async () => {
      const { result, stopping } = await attempt;
      this.deps.onAttempt?.(msg.target, result.kind, (performance.now() - started) / 1000);
      await this.settle({ msg: sent, target, result, key, lane, stopping });
    })().finally(() => {
      this.settled.delete(p);
    });
    this.settled.add(p);
  }

  /**
   * Outcomes that arrive close together (within RECORD_GATHER_MS) are recorded in one
   * transaction, which also claims the rows that take their slots; the promise resolves once it
   * has run. Until then the row stays in flight, and a crash in between leaves it to be reclaimed
   * and re-sent with the same delivery id, as a crash mid-attempt does.
   */
  private settle(o: Outcome): Promise<void> {
    this.outcomes.push(o);
    return (this.flushing ??= new Promise<void>((resolve) => {
      setTimeout(() => {
        this.flushing = null;
        try {
          this.flush();
        } catch (err) {
          this.deps.log.error({ err }, 'could not record delivery outcomes');
        } finally {
          resolve();
        }
      }, RECORD_GATHER_MS);
    }));
  }

  private flush(): void {
    const batch = this.outcomes;
    this.outcomes = [];
    if (!batch.length) return;
    const now = this.deps.now();
    // The slots are free whatever happens below: a row whose outcome could not be recorded stays
    // in flight in the database, which keeps its lane closed until its lease runs out.
    for (const o of batch) {
      this.running.delete(o.lane);
      this.release(o.key);
    }
    let wrote = false;
    let delivered = 0;
    const recorded = this.atomically(() => {
      const dead: Array<{ o: Outcome; reason: string; cause: DeadLetterCause }> = [];
      for (const o of batch) {
        try {
          if (this.record(o, now, dead)) {
            wrote = true;
            delivered += 1;
          }
        } catch (err) {
          this.deps.log.error({ err, deliveryId: o.msg.deliveryId, target: o.msg.target }, 'could not record delivery outcome');
        }
      }
      if (dead.length) this.track(this.deadLetterAll(dead.map(({ o, reason, cause }) => ({ id: o.msg.id, from: 'in_flight' as const, reason, cause }))));
      if (!this.started) return;
      // Only the finished lanes are looked at again: a lane's next row becomes a candidate at
      // once when it is due (a retry due later is found by the poll).
      for (const o of batch) {
        const next = this.q.laneHead(o.msg.target, o.msg.incidentId);
        if (next && next.nextAttemptAt <= now) this.front.push({ id: next.id, target: o.msg.target, incidentId: o.msg.incidentId, lane: o.lane });
      }
      this.fill(now);
    });
    if (!recorded)
      this.deps.log.error({ count: batch.length }, 'delivery outcomes not recorded: the rows are re-sent with the same delivery ids after their lease');
    else if (delivered) this.deps.log.info({ count: delivered }, 'delivered');
    if (recorded && (wrote || this.wroteInTransaction)) this.notifyWrite();
    this.wroteInTransaction = false;
  }

  /** Writes one outcome (inside flush's transaction). True when a row reached its final state. */
  private record(o: Outcome, now: number, dead: Array<{ o: Outcome; reason: string; cause: DeadLetterCause }>): boolean {
    const { msg, result, key, stopping, target } = o;
    const { log } = this.deps;
    const fields = { deliveryId: msg.deliveryId, target: msg.target, incidentId: msg.incidentId, attempt: msg.attempts };
    switch (result.kind) {
      case 'delivered':
        this.breakers.success(key);
        this.q.delivered(now, result.remoteRef ?? null, msg.id);
        this.judged.delete(msg.id);
        // One line per delivery at debug; flush logs how many a batch delivered at info (a
        // 5,000-wide fan-out is a few dozen lines, not 5,000). The outbox row is the record.
        if (log.isLevelEnabled('debug')) log.debug({ ...fields, folded: msg.folded }, 'delivered');
        return true;
      case 'retry': {
        if (stopping || result.retryAfterMs !== undefined) this.breakers.neutral(key);
        else this.breakers.failure(key);
        const delay = retryDelayFor(target, msg.attempts, result.retryAfterMs, this.options, stopping);
        if (delay === 'give-up') {
          dead.push({ o, reason: `failed through the whole retry schedule (${msg.attempts} attempts; last error: ${result.error})`, cause: 'exhausted' });
          return false;
        }
        this.q.retry(now + delay, result.error, msg.id);
        log.warn({ ...fields, error: result.error, retryInMs: delay }, 'delivery will be retried');
        return false;
      }
      case 'failed':
        // A permanent refusal says nothing about the upstream being down: the breaker is not fed.
        this.breakers.neutral(key);
        dead.push({ o, reason: result.error, cause: result.gone ? 'gone' : 'failed' });
        return false;
    }
  }
}
