import type { Statement } from 'better-sqlite3';
import type { Db } from '../../db/client.js';
import type { Logger } from '../logger.js';
import { periodic } from '../periodic.js';

// Outbox retention (SITREP_OUTBOX_RETENTION_DAYS). Delivered rows are history: once older than the
// retention period they are deleted, with the rows folded into them. Dead letters are never
// pruned (they are what `deliveries retry` sends again), nor is anything still waiting.
//
// One exception keeps later deliveries right: the newest delivered row of a lane that carries a
// remote reference (the customer channel's root message, the Statuspage incident id) stays, because
// the next message of that lane edits or threads under it. Targets whose reference means nothing
// later (a webhook's "HTTP 200") pass `keepsReference: false` and lose all their old rows.
//
// Deletes go in small batches, each its own short write transaction, with a pause between them, so
// the write lock is never held long and the event loop keeps serving while a large backlog goes.

export interface RetentionOptions {
  retentionMs: number;
  /** Rows examined per transaction. */
  batchSize: number;
  /** Pause between batches: lets other writers (CLI runs, the worker) take the lock. */
  pauseMs: number;
  /** Whether the newest delivered row of lanes of this target must stay (see above). */
  keepsReference(target: string): boolean;
}

export const DEFAULT_RETENTION: Omit<RetentionOptions, 'retentionMs' | 'keepsReference'> = { batchSize: 500, pauseMs: 5 };

interface Candidate {
  id: number;
  target: string;
  incidentId: number | null;
  remoteRef: string | null;
  deliveredAt: number;
}

interface Statements {
  candidates: Statement<[number, number, number, number, number], Candidate>;
  newerReference: Statement<[string, number | null, number], { one: number }>;
  deleteFolded: Statement<[string]>;
  deleteRows: Statement<[string]>;
}

const statements = new WeakMap<Db, Statements>();

function prepare(db: Db): Statements {
  let s = statements.get(db);
  if (s) return s;
  const c = db.$client;
  s = {
    // Seeks the delivered rows' age index from the cursor: reads only rows past their age. Named,
    // because the planner, without statistics, would rather walk (state, next_attempt_at) and sort
    // every delivered row; and naming it makes this fail to prepare should the index go.
    candidates: c.prepare(`
      select id, target, incident_id as incidentId, remote_ref as remoteRef, delivered_at as deliveredAt from outbox indexed by outbox_delivered_age
      where state = 'delivered' and delivered_at >= ? and delivered_at < ?
        and not (delivered_at = ? and id <= ?)
      order by delivered_at, id
      limit ?`),
    newerReference: c.prepare(`
      select 1 as one from outbox
      where target = ? and incident_id is ? and id > ? and state = 'delivered' and remote_ref is not null
      limit 1`),
    // Ids come from the query above as integers; passed as one JSON array to keep one statement.
    deleteFolded: c.prepare(`delete from outbox where state = 'folded' and folded_into in (select value from json_each(?))`),
    deleteRows: c.prepare(`delete from outbox where state = 'delivered' and id in (select value from json_each(?))`),
  };
  statements.set(db, s);
  return s;
}

export interface Cursor {
  deliveredAt: number;
  id: number;
}

/**
 * One batch: deletes delivered rows older than the cutoff (after `cursor`) and the rows folded into
 * them, in one short transaction. Returns how many rows went and where the next batch starts, or
 * null for the cursor when nothing past it is old enough.
 */
export function pruneBatch(
  db: Db,
  now: number,
  opts: Pick<RetentionOptions, 'retentionMs' | 'batchSize' | 'keepsReference'>,
  cursor: Cursor | null,
): { deleted: number; cursor: Cursor | null } {
  const q = prepare(db);
  const cutoff = now - opts.retentionMs;
  return db.transaction(
    () => {
      const from = cursor ?? { deliveredAt: Number.MIN_SAFE_INTEGER, id: Number.MIN_SAFE_INTEGER };
      const rows = q.candidates.all(from.deliveredAt, cutoff, from.deliveredAt, from.id, opts.batchSize);
      const last = rows.at(-1);
      if (!last) return { deleted: 0, cursor: null };
      const doomed = rows.filter((r) => !(r.remoteRef !== null && opts.keepsReference(r.target) && !q.newerReference.get(r.target, r.incidentId, r.id)));
      const folded = q.deleteFolded.run(JSON.stringify(rows.map((r) => r.id))).changes;
      const deleted = doomed.length ? q.deleteRows.run(JSON.stringify(doomed.map((r) => r.id))).changes : 0;
      return { deleted: deleted + folded, cursor: { deliveredAt: last.deliveredAt, id: last.id } };
    },
    { behavior: 'immediate' },
  );
}

/** Prunes everything past its age, batch by batch; `shouldStop` is checked between batches. */
export async function pruneOutbox(db: Db, now: number, opts: RetentionOptions, shouldStop: () => boolean = () => false): Promise<number> {
  let cursor: Cursor | null = null;
  let total = 0;
  for (;;) {
    const batch = pruneBatch(db, now, opts, cursor);
    total += batch.deleted;
    if (!batch.cursor || shouldStop()) return total;
    cursor = batch.cursor;
    await new Promise((r) => setTimeout(r, opts.pauseMs));
  }
}

/** Background work: prunes at start and then every `intervalMs`; stop() waits for a pass under way. */
export function createOutboxPruner(deps: { db: Db; log: Logger; now: () => number }, opts: RetentionOptions, intervalMs: number) {
  let running: Promise<void> | null = null;
  let stopping = false;
  const pass = () => {
    if (running || stopping) return;
    running = pruneOutbox(deps.db, deps.now(), opts, () => stopping)
      .then(
        (n) => {
          if (n) deps.log.info({ count: n }, 'pruned delivered outbox rows past retention');
        },
        (err: unknown) => deps.log.warn({ err }, 'could not prune the outbox'),
      )
      .finally(() => {
        running = null;
      });
  };
  const timer = periodic(intervalMs, pass, { runAtStart: true });
  return {
    start() {
      stopping = false;
      timer.start();
    },
    async stop() {
      stopping = true;
      await timer.stop();
      await running;
    },
  };
}
