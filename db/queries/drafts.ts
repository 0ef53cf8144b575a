import { and, asc, desc, eq } from 'drizzle-orm';
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

export function findDraft(db: DbOrTx, id: number): DraftRow | undefined {
  const row = db.select().from(customerUpdates).where(eq(customerUpdates.id, id)).get();
  return row ? toDraftRow(row) : undefined;
}

export function getDraft(db: DbOrTx, id: number): DraftRow {
  const row = findDraft(db, id);
  if (!row) throw new SitrepError('NOT_FOUND', `there is no D-${id}; drafts are listed in \`show INC-n\``);
  return row;
}

/** The incident's latest published update (by when it is shown), if any. */
export function lastPublishedUpdate(db: DbOrTx, incidentId: number): DraftRow | undefined {
  const row = db
    .select()
    .from(customerUpdates)
    .where(and(eq(customerUpdates.incidentId, incidentId), eq(customerUpdates.state, 'published')))
    .orderBy(desc(customerUpdates.displayAt), desc(customerUpdates.id))
    .get();
  return row ? toDraftRow(row) : undefined;
}

/** The incident's drafts awaiting a decision, oldest first. */
export function pendingDrafts(db: DbOrTx, incidentId: number): DraftRow[] {
  return db
    .select()
    .from(customerUpdates)
    .where(and(eq(customerUpdates.incidentId, incidentId), eq(customerUpdates.state, 'draft')))
    .orderBy(asc(customerUpdates.id))
    .all()
    .map(toDraftRow);
}

/** The incident's published updates, oldest first (by when they were published). */
export function publishedUpdates(db: DbOrTx, incidentId: number): DraftRow[] {
  return db
    .select()
    .from(customerUpdates)
    .where(and(eq(customerUpdates.incidentId, incidentId), eq(customerUpdates.state, 'published')))
    .orderBy(asc(customerUpdates.publishedAt), asc(customerUpdates.id))
    .all()
    .map(toDraftRow);
}
