import { asc, eq } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { approvers } from '../schema.js';

export type ApproverRow = typeof approvers.$inferSelect;

/** Everyone who may approve customer-facing updates, by user reference. */
export function listApproverRows(db: DbOrTx): ApproverRow[] {
  return db.select().from(approvers).orderBy(asc(approvers.userRef)).all();
}

export function findApprover(db: DbOrTx, userRef: string): ApproverRow | undefined {
  return db.select().from(approvers).where(eq(approvers.userRef, userRef)).get();
}

export function insertApprover(db: DbOrTx, a: { userRef: string; addedBy: string; addedAt: number }): void {
  db.insert(approvers).values(a).run();
}

export function deleteApprover(db: DbOrTx, userRef: string): void {
  db.delete(approvers).where(eq(approvers.userRef, userRef)).run();
}
