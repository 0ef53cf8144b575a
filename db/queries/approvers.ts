import { asc, eq } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { first, tablesOf } from '../engine.js';
import type { approvers } from '../schema.js';

export type ApproverRow = typeof approvers.$inferSelect;

/** Everyone who may approve customer-facing updates, by user reference. */
export async function listApproverRows(db: DbOrTx): Promise<ApproverRow[]> {
  const { approvers } = tablesOf(db);
  return db.select().from(approvers).orderBy(asc(approvers.userRef));
}

export async function findApprover(db: DbOrTx, userRef: string): Promise<ApproverRow | undefined> {
  const { approvers } = tablesOf(db);
  return first(db.select().from(approvers).where(eq(approvers.userRef, userRef)));
}

export async function insertApprover(db: DbOrTx, a: { userRef: string; addedBy: string; addedAt: number }): Promise<void> {
  await db.insert(tablesOf(db).approvers).values(a);
}

export async function deleteApprover(db: DbOrTx, userRef: string): Promise<void> {
  const { approvers } = tablesOf(db);
  await db.delete(approvers).where(eq(approvers.userRef, userRef));
}
