import { asc, eq } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { followups } from '../schema.js';

export type FollowupRow = typeof followups.$inferSelect;

/** A new follow-up on an incident, open until marked done. */
export async function insertFollowup(
  db: DbOrTx,
  f: { incidentId: number; text: string; owner: string | null; createdBy: string; createdAt: number },
): Promise<FollowupRow> {
  return db.insert(followups).values(f).returning().get();
}

export async function findFollowup(db: DbOrTx, id: number): Promise<FollowupRow | undefined> {
  return db.select().from(followups).where(eq(followups.id, id)).get();
}

export async function markFollowupDone(db: DbOrTx, id: number, doneAt: number): Promise<void> {
  db.update(followups).set({ state: 'done', doneAt }).where(eq(followups.id, id)).run();
}

export async function incidentFollowups(db: DbOrTx, incidentId: number): Promise<FollowupRow[]> {
  return db.select().from(followups).where(eq(followups.incidentId, incidentId)).orderBy(asc(followups.id)).all();
}

/** Rewords a follow-up or gives it another owner. */
export async function editFollowup(db: DbOrTx, id: number, patch: { text: string; owner: string | null }): Promise<void> {
  db.update(followups).set(patch).where(eq(followups.id, id)).run();
}

/** Follow-ups of one incident or of all, oldest first (by id). */
export async function listFollowups(db: DbOrTx, incidentId?: number): Promise<FollowupRow[]> {
  const q = db.select().from(followups);
  return (incidentId === undefined ? q : q.where(eq(followups.incidentId, incidentId))).orderBy(asc(followups.id)).all();
}
