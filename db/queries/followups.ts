import { eq } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { followups } from '../schema.js';

export type FollowupRow = typeof followups.$inferSelect;

/** A new follow-up on an incident, open until marked done. */
export function insertFollowup(db: DbOrTx, f: { incidentId: number; text: string; owner: string | null; createdBy: string; createdAt: number }): FollowupRow {
  return db.insert(followups).values(f).returning().get();
}

export function findFollowup(db: DbOrTx, id: number): FollowupRow | undefined {
  return db.select().from(followups).where(eq(followups.id, id)).get();
}

export function markFollowupDone(db: DbOrTx, id: number, doneAt: number): void {
  db.update(followups).set({ state: 'done', doneAt }).where(eq(followups.id, id)).run();
}
