import type { Statement } from 'better-sqlite3';
import type { Db } from '../client.js';

// Outbox retention's queries (src/mirror/retention.ts says what is kept and why). Synchronous, as
// retention runs: each batch is one short IMMEDIATE write transaction on the writer connection,
// with the caller's pause between batches, so the write lock is never held long. Prepared once
// per database: a large backlog goes in many batches.

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

/** Where a pass over delivered rows stands: the last row a batch examined. */
export interface Cursor {
  deliveredAt: number;
  id: number;
}

/**
 * One batch, in one short IMMEDIATE transaction: examines up to `batchSize` delivered rows older
 * than `cutoff` (after `cursor`, in age order), deletes the rows folded into them, and deletes those
 * of them that may go. A row that carries a remote reference stays while `keepsReference(target)`
 * says its lane needs it and no newer delivered row of its lane carries one. Returns how many rows
 * went and the last row examined (null when nothing past the cursor is old enough).
 */
export function pruneDeliveredBatch(
  db: Db,
  cutoff: number,
  batchSize: number,
  keepsReference: (target: string) => boolean,
  cursor: Cursor | null,
): { deleted: number; cursor: Cursor | null } {
  const q = prepare(db);
  return db.transaction(
    () => {
      const from = cursor ?? { deliveredAt: Number.MIN_SAFE_INTEGER, id: Number.MIN_SAFE_INTEGER };
      const rows = q.candidates.all(from.deliveredAt, cutoff, from.deliveredAt, from.id, batchSize);
      const last = rows.at(-1);
      if (!last) return { deleted: 0, cursor: null };
      const doomed = rows.filter((r) => !(r.remoteRef !== null && keepsReference(r.target) && !q.newerReference.get(r.target, r.incidentId, r.id)));
      const folded = q.deleteFolded.run(JSON.stringify(rows.map((r) => r.id))).changes;
      const deleted = doomed.length ? q.deleteRows.run(JSON.stringify(doomed.map((r) => r.id))).changes : 0;
      return { deleted: deleted + folded, cursor: { deliveredAt: last.deliveredAt, id: last.id } };
    },
    { behavior: 'immediate' },
  );
}
