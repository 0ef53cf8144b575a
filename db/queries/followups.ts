import { asc, eq } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { first, tablesOf } from '../engine.js';
import type { followups } from '../schema.js';

export type FollowupRow = typeof followups.$inferSelect;

/** A new follow-up on an incident, open until marked done. */
export async function insertFollowup(
  db: DbOrTx,
  f: { incidentId: number; text: string; owner: string | null; createdBy: string; createdAt: number },
): Promise<FollowupRow> {
  const row = await first(db.insert(tablesOf(db).followups).values(f).returning());
  if (!row) throw new Error('the new follow-up was not returned');
  return row;
}

export async function findFollowup(db: DbOrTx, id: number): Promise<FollowupRow | undefined> {
  const { followups } = tablesOf(db);
  return first(db.select().from(followups).where(eq(followups.id, id)));
}

export async function markFollowupDone(db: DbOrTx, id: number, doneAt: number): Promise<void> {
  const { followups } = tablesOf(db);
  await db.update(followups).set({ state: 'done', doneAt }).where(eq(followups.id, id));
}

export async function incidentFollowups(db: DbOrTx, incidentId: number): Promise<FollowupRow[]> {
  const { followups } = tablesOf(db);
  return db.select().from(followups).where(eq(followups.incidentId, incidentId)).orderBy(asc(followups.id));
}

/** Rewords a follow-up or gives it another owner. */
export async function editFollowup(db: DbOrTx, id: number, patch: { text: string; owner: string | null }): Promise<void> {
  const { followups } = tablesOf(db);
  await db.update(followups).set(patch).where(eq(followups.id, id));
}

/** Follow-ups of one incident or of all, oldest first (by id). */
export async function listFollowups(db: DbOrTx, incidentId?: number): Promise<FollowupRow[]> {
  const { followups } = tablesOf(db);
  const q = db.select().from(followups);
  return (incidentId === undefined ? q : q.where(eq(followups.incidentId, incidentId))).orderBy(asc(followups.id));
}
