import { asc, eq } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { approvers } from '../schema.js';

export type ApproverRow = typeof approvers.$inferSelect;

/** Everyone who may approve customer-facing updates, by user reference. */
export async function listApproverRows(db: DbOrTx): Promise<ApproverRow[]> {
  return db.select().from(approvers).orderBy(asc(approvers.userRef)).all();
}

export async function findApprover(db: DbOrTx, userRef: string): Promise<ApproverRow | undefined> {
  return db.select().from(approvers).where(eq(approvers.userRef, userRef)).get();
}

export async function insertApprover(db: DbOrTx, a: { userRef: string; addedBy: string; addedAt: number }): Promise<void> {
  db.insert(approvers).values(a).run();
}

export async function deleteApprover(db: DbOrTx, userRef: string): Promise<void> {
  db.delete(approvers).where(eq(approvers.userRef, userRef)).run();
}
