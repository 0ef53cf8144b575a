import { and, asc, desc, eq, inArray, isNotNull, isNull, lte } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { first, affected, tablesOf } from '../engine.js';
import type { customerUpdates } from '../schema.js';
import { COMPONENT_STATUSES, type IncidentStatus, type MaintenanceStatus } from '../../src/domain/enums.js';
import { SitrepError } from '../../src/domain/errors.js';
import type { ComponentStatusChange } from '../../src/domain/publication.js';

type StoredDraft = typeof customerUpdates.$inferSelect;
type Common = Omit<StoredDraft, 'componentChanges' | 'incidentId' | 'status' | 'maintenanceId' | 'maintenanceStatus'>;
/** An incident's customer update (draft or published) with its component changes checked on the way out. */
export type DraftRow = Common & { incidentId: number; status: IncidentStatus; componentChanges: ComponentStatusChange[] };
/** A scheduled maintenance's customer-facing text (its announcement, an update, a notice). */
export type MaintenanceTextRow = Common & { maintenanceId: number; maintenanceStatus: MaintenanceStatus };
/** Any D-n: whose it is decides how it is approved and where it goes. */
export type CustomerText = { owner: 'incident'; row: DraftRow } | { owner: 'maintenance'; row: MaintenanceTextRow };

/** The row an insert … returning() gave back. */
async function one<T>(rows: PromiseLike<T[]>): Promise<T> {
  const row = await first(rows);
  if (!row) throw new Error('the new customer text was not returned');
  return row;
}

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

/** The stored row as what it is; the table's CHECK makes every row exactly one of the two. */
export function toCustomerText(stored: StoredDraft): CustomerText {
  const { incidentId, status, maintenanceId, maintenanceStatus, componentChanges, ...rest } = stored;
  if (incidentId !== null && status !== null)
    return { owner: 'incident', row: { ...rest, incidentId, status, componentChanges: toComponentChanges(componentChanges) } };
  if (maintenanceId !== null && maintenanceStatus !== null) return { owner: 'maintenance', row: { ...rest, maintenanceId, maintenanceStatus } };
  throw new Error(`D-${stored.id} belongs to neither an incident nor a maintenance`);
}

/** A row selected by an incident's id, as an incident's update. */
export function toDraftRow(stored: StoredDraft): DraftRow {
  const t = toCustomerText(stored);
  if (t.owner !== 'incident') throw new Error(`D-${stored.id} is a maintenance's text, not an incident's update`);
  return t.row;
}

export function toMaintenanceTextRow(stored: StoredDraft): MaintenanceTextRow {
  const t = toCustomerText(stored);
  if (t.owner !== 'maintenance') throw new Error(`D-${stored.id} is an incident's update, not a maintenance's text`);
  return t.row;
}

/** Any D-n, incident's or maintenance's. */
export async function findCustomerText(db: DbOrTx, id: number): Promise<CustomerText | undefined> {
  const { customerUpdates } = tablesOf(db);
  const row = await first(db.select().from(customerUpdates).where(eq(customerUpdates.id, id)));
  return row ? toCustomerText(row) : undefined;
}

export async function getCustomerText(db: DbOrTx, id: number): Promise<CustomerText> {
  const t = await findCustomerText(db, id);
  if (!t) throw new SitrepError('NOT_FOUND', `there is no D-${id}; drafts are listed in \`show INC-n\` and \`maintenance list\``);
  return t;
}

/** An incident's D-n (undefined for an unknown id or a maintenance's text). */
export async function findDraft(db: DbOrTx, id: number): Promise<DraftRow | undefined> {
  const t = await findCustomerText(db, id);
  return t?.owner === 'incident' ? t.row : undefined;
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
  const { customerUpdates } = tablesOf(db);
  const row = await first(
    db
      .select()
      .from(customerUpdates)
      .where(and(eq(customerUpdates.incidentId, incidentId), eq(customerUpdates.state, 'published')))
      .orderBy(desc(customerUpdates.displayAt), desc(customerUpdates.id))
      .limit(1),
  );
  return row ? toDraftRow(row) : undefined;
}

/** The incident's drafts awaiting a decision, oldest first. */
export async function pendingDrafts(db: DbOrTx, incidentId: number): Promise<DraftRow[]> {
  const { customerUpdates } = tablesOf(db);
  return (
    await db
      .select()
      .from(customerUpdates)
      .where(and(eq(customerUpdates.incidentId, incidentId), eq(customerUpdates.state, 'draft')))
      .orderBy(asc(customerUpdates.id))
  ).map(toDraftRow);
}

/** The incident's published updates, oldest first (by when they were published). */
export async function publishedUpdates(db: DbOrTx, incidentId: number): Promise<DraftRow[]> {
  const { customerUpdates } = tablesOf(db);
  return (
    await db
      .select()
      .from(customerUpdates)
      .where(and(eq(customerUpdates.incidentId, incidentId), eq(customerUpdates.state, 'published')))
      .orderBy(asc(customerUpdates.publishedAt), asc(customerUpdates.id))
  ).map(toDraftRow);
}

/** Drafts still waiting for approval that were created at or before `before` and never nudged. */
export async function unnudgedDraftsBefore(db: DbOrTx, before: number): Promise<DraftRow[]> {
  return (await unnudgedBefore(db, before, 'incidentId')).map(toDraftRow);
}

/** Maintenance texts still waiting for approval, created at or before `before` and never nudged. */
export async function unnudgedMaintenanceTextsBefore(db: DbOrTx, before: number): Promise<MaintenanceTextRow[]> {
  return (await unnudgedBefore(db, before, 'maintenanceId')).map(toMaintenanceTextRow);
}

/** Waiting, never-nudged texts created at or before `before`, of incidents or of maintenances. */
async function unnudgedBefore(db: DbOrTx, before: number, owner: 'incidentId' | 'maintenanceId') {
  const { customerUpdates } = tablesOf(db);
  return await db
    .select()
    .from(customerUpdates)
    .where(
      and(eq(customerUpdates.state, 'draft'), isNull(customerUpdates.nudgedAt), lte(customerUpdates.createdAt, before), isNotNull(customerUpdates[owner])),
    );
}

/**
 * Marks a waiting draft nudged; false when it was nudged (or decided) already. The condition in the
 * update makes two servers, or a restart, never nudge twice.
 */
export async function claimDraftNudge(tx: DbOrTx, id: number, at: number): Promise<boolean> {
  const { customerUpdates } = tablesOf(tx);
  return (
    affected(
      await tx
        .update(customerUpdates)
        .set({ nudgedAt: at })
        .where(and(eq(customerUpdates.id, id), eq(customerUpdates.state, 'draft'), isNull(customerUpdates.nudgedAt))),
    ) === 1
  );
}

export type NewDraft = Pick<typeof customerUpdates.$inferInsert, 'body' | 'template' | 'isPostmortem' | 'author' | 'createdAt' | 'displayAt'> & {
  incidentId: number;
  status: IncidentStatus;
  componentChanges: ComponentStatusChange[];
};

/** Stores customer-facing wording as a draft awaiting approval. */
export async function insertDraft(tx: DbOrTx, d: NewDraft): Promise<DraftRow> {
  const { customerUpdates } = tablesOf(tx);
  return toDraftRow(
    await one(
      tx
        .insert(customerUpdates)
        .values({ ...d, state: 'draft' })
        .returning(),
    ),
  );
}

export type NewMaintenanceText = Pick<typeof customerUpdates.$inferInsert, 'body' | 'author' | 'createdAt' | 'displayAt' | 'movesStatus'> & {
  maintenanceId: number;
  maintenanceStatus: MaintenanceStatus;
};

/** Stores a maintenance's customer-facing text as a draft awaiting approval. */
export async function insertMaintenanceText(tx: DbOrTx, d: NewMaintenanceText): Promise<MaintenanceTextRow> {
  const { customerUpdates } = tablesOf(tx);
  return toMaintenanceTextRow(
    await one(
      tx
        .insert(customerUpdates)
        .values({ ...d, state: 'draft' })
        .returning(),
    ),
  );
}

/** Stores a maintenance's text that is published as it is written (a fixed notice: nobody's words). */
export async function insertPublishedMaintenanceText(tx: DbOrTx, d: NewMaintenanceText & { publishedAt: number }): Promise<MaintenanceTextRow> {
  const { customerUpdates } = tablesOf(tx);
  return toMaintenanceTextRow(
    await one(
      tx
        .insert(customerUpdates)
        .values({ ...d, state: 'published', approvedAt: d.publishedAt })
        .returning(),
    ),
  );
}

/** Marks a maintenance's draft published with its final wording, status and time. */
export async function markMaintenanceTextPublished(
  tx: DbOrTx,
  id: number,
  p: { body: string; status: MaintenanceStatus; approver: string | null; at: number; displayAt: number },
): Promise<void> {
  const { customerUpdates } = tablesOf(tx);
  await tx
    .update(customerUpdates)
    .set({ state: 'published', body: p.body, maintenanceStatus: p.status, approver: p.approver, approvedAt: p.at, publishedAt: p.at, displayAt: p.displayAt })
    .where(eq(customerUpdates.id, id));
}

/** The maintenance's texts, oldest first; `state` narrows to drafts or published ones. */
export async function maintenanceTexts(db: DbOrTx, maintenanceId: number, state?: 'draft' | 'published'): Promise<MaintenanceTextRow[]> {
  const { customerUpdates } = tablesOf(db);
  return (
    await db
      .select()
      .from(customerUpdates)
      .where(and(eq(customerUpdates.maintenanceId, maintenanceId), state ? eq(customerUpdates.state, state) : undefined))
      .orderBy(asc(customerUpdates.id))
  ).map(toMaintenanceTextRow);
}

/** Marks a draft published with its final wording and time. */
export async function markDraftPublished(tx: DbOrTx, id: number, p: { body: string; approver: string | null; at: number; displayAt: number }): Promise<void> {
  const { customerUpdates } = tablesOf(tx);
  await tx
    .update(customerUpdates)
    .set({ state: 'published', body: p.body, approver: p.approver, approvedAt: p.at, publishedAt: p.at, displayAt: p.displayAt })
    .where(eq(customerUpdates.id, id));
}

/** Marks a draft rejected, with the reason its author is told. */
export async function markDraftRejected(tx: DbOrTx, id: number, p: { reason: string; by: string; at: number }): Promise<void> {
  const { customerUpdates } = tablesOf(tx);
  await tx.update(customerUpdates).set({ state: 'rejected', rejectReason: p.reason, approver: p.by, rejectedAt: p.at }).where(eq(customerUpdates.id, id));
}

/** When each of these incidents' published customer updates was shown as posted (postmortems aside). */
export async function publishedUpdateTimes(db: DbOrTx, incidentIds: readonly number[]): Promise<Map<number, number[]>> {
  const { customerUpdates } = tablesOf(db);
  const out = new Map<number, number[]>();
  if (!incidentIds.length) return out;
  const rows = await db
    .select({ incidentId: customerUpdates.incidentId, at: customerUpdates.displayAt })
    .from(customerUpdates)
    .where(and(inArray(customerUpdates.incidentId, [...incidentIds]), eq(customerUpdates.state, 'published'), eq(customerUpdates.isPostmortem, false)));
  for (const r of rows) if (r.incidentId !== null) out.set(r.incidentId, [...(out.get(r.incidentId) ?? []), r.at]);
  return out;
}
