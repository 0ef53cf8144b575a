import { and, asc, desc, eq, isNull, lte } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { customerUpdates } from '../schema.js';
import { COMPONENT_STATUSES } from '../../src/domain/enums.js';
import { SitrepError } from '../../src/domain/errors.js';
import type { ComponentStatusChange } from '../../src/domain/publication.js';

type StoredDraft = typeof customerUpdates.$inferSelect;
/** A customer update (draft or published) with its component changes checked on the way out. */
export type DraftRow = Omit<StoredDraft, 'componentChanges'> & { componentChanges: ComponentStatusChange[] };

/** The stored component changes of a draft, each checked; an entry that is not one is dropped. */
export function toComponentChanges(v: unknown): ComponentStatusChange[] {
  if (!Array.isArray(v)) return [];
  const out: ComponentStatusChange[] = [];
  for (const c of v) {
    if (typeof c !== 'object' || c === null || !('slug' in c) || !('status' in c)) continue;
    const { slug, status } = c;
    const known = COMPONENT_STATUSES.find((s) => s === status);
    if (typeof slug === 'string' && known) out.push({ slug, status: known });
  }
  return out;
}

export function toDraftRow(row: StoredDraft): DraftRow {
  return { ...row, componentChanges: toComponentChanges(row.componentChanges) };
}

export async function findDraft(db: DbOrTx, id: number): Promise<DraftRow | undefined> {
  const row = db.select().from(customerUpdates).where(eq(customerUpdates.id, id)).get();
  return row ? toDraftRow(row) : undefined;
}

/** The answer for a draft that does not exist (or, to whoever may not see its incident, does not). */
export const draftNotFound = (id: number) => new SitrepError('NOT_FOUND', `there is no D-${id}; drafts are listed in \`show INC-n\``);

export async function getDraft(db: DbOrTx, id: number): Promise<DraftRow> {
  const row = await findDraft(db, id);
  if (!row) throw draftNotFound(id);
  return row;
}

/** The incident's latest published update (by when it is shown), if any. */
export async function lastPublishedUpdate(db: DbOrTx, incidentId: number): Promise<DraftRow | undefined> {
  const row = db
    .select()
    .from(customerUpdates)
    .where(and(eq(customerUpdates.incidentId, incidentId), eq(customerUpdates.state, 'published')))
    .orderBy(desc(customerUpdates.displayAt), desc(customerUpdates.id))
    .get();
  return row ? toDraftRow(row) : undefined;
}

/** The incident's drafts awaiting a decision, oldest first. */
export async function pendingDrafts(db: DbOrTx, incidentId: number): Promise<DraftRow[]> {
  return db
    .select()
    .from(customerUpdates)
    .where(and(eq(customerUpdates.incidentId, incidentId), eq(customerUpdates.state, 'draft')))
    .orderBy(asc(customerUpdates.id))
    .all()
    .map(toDraftRow);
}

/** The incident's published updates, oldest first (by when they were published). */
export async function publishedUpdates(db: DbOrTx, incidentId: number): Promise<DraftRow[]> {
  return db
    .select()
    .from(customerUpdates)
    .where(and(eq(customerUpdates.incidentId, incidentId), eq(customerUpdates.state, 'published')))
    .orderBy(asc(customerUpdates.publishedAt), asc(customerUpdates.id))
    .all()
    .map(toDraftRow);
}

/** Drafts still waiting for approval that were created at or before `before` and never nudged. */
export async function unnudgedDraftsBefore(db: DbOrTx, before: number): Promise<DraftRow[]> {
  return db
    .select()
    .from(customerUpdates)
    .where(and(eq(customerUpdates.state, 'draft'), isNull(customerUpdates.nudgedAt), lte(customerUpdates.createdAt, before)))
    .all()
    .map(toDraftRow);
}

/**
 * Marks a waiting draft nudged; false when it was nudged (or decided) already. The condition in the
 * update makes two servers, or a restart, never nudge twice.
 */
export async function claimDraftNudge(tx: DbOrTx, id: number, at: number): Promise<boolean> {
  return (
    tx
      .update(customerUpdates)
      .set({ nudgedAt: at })
      .where(and(eq(customerUpdates.id, id), eq(customerUpdates.state, 'draft'), isNull(customerUpdates.nudgedAt)))
      .run().changes === 1
  );
}

export type NewDraft = Pick<
  typeof customerUpdates.$inferInsert,
  'incidentId' | 'body' | 'status' | 'template' | 'isPostmortem' | 'author' | 'createdAt' | 'displayAt'
> & { componentChanges: ComponentStatusChange[] };

/** Stores customer-facing wording as a draft awaiting approval. */
export async function insertDraft(tx: DbOrTx, d: NewDraft): Promise<DraftRow> {
  return toDraftRow(
    tx
      .insert(customerUpdates)
      .values({ ...d, state: 'draft' })
      .returning()
      .get(),
  );
}

/** Marks a draft published with its final wording and time. */
export async function markDraftPublished(tx: DbOrTx, id: number, p: { body: string; approver: string | null; at: number; displayAt: number }): Promise<void> {
  tx.update(customerUpdates)
    .set({ state: 'published', body: p.body, approver: p.approver, approvedAt: p.at, publishedAt: p.at, displayAt: p.displayAt })
    .where(eq(customerUpdates.id, id))
    .run();
}

/** Marks a draft rejected, with the reason its author is told. */
export async function markDraftRejected(tx: DbOrTx, id: number, p: { reason: string; by: string; at: number }): Promise<void> {
  tx.update(customerUpdates).set({ state: 'rejected', rejectReason: p.reason, approver: p.by, rejectedAt: p.at }).where(eq(customerUpdates.id, id)).run();
}
