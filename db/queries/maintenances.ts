import { and, asc, eq, inArray, lte, sql } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../client.js';
import { affected, first, tablesOf } from '../engine.js';
import type { maintenanceEvents, maintenances } from '../schema.js';
import type { MaintenanceEventKind, MaintenanceStatus } from '../../src/domain/enums.js';
import { SitrepError } from '../../src/domain/errors.js';
import { maintenanceRef } from '../../src/domain/maintenance.js';
import type { MaintenanceThreadView } from '../../src/render/thread.js';
import { maintenanceTexts } from './drafts.js';

// Scheduled maintenance's rows: the maintenance, the components it holds, its timeline. Status
// changes are conditional on the status they leave, so a change that lost a race (a second
// replica's scheduler, a hand-typed `maintenance start` at the scheduled second) changes nothing
// and says so.

export type MaintenanceRow = typeof maintenances.$inferSelect;
export type MaintenanceEventRow = typeof maintenanceEvents.$inferSelect;

/** A maintenance with the components it puts under maintenance (catalogue order). */
export interface MaintenanceView extends MaintenanceRow {
  ref: string;
  components: Array<{ id: number; slug: string; name: string }>;
}

export type NewMaintenance = Pick<typeof maintenances.$inferInsert, 'title' | 'startsAt' | 'endsAt' | 'createdBy' | 'scheduledAt' | 'recordedAt'>;

export async function insertMaintenance(tx: Tx, m: NewMaintenance, componentIds: readonly number[]): Promise<MaintenanceRow> {
  const { maintenanceComponents, maintenances } = tablesOf(tx);
  const row = await first(
    tx
      .insert(maintenances)
      .values({ ...m, status: 'scheduled', updatedAt: m.recordedAt })
      .returning(),
  );
  if (!row) throw new Error('the new maintenance was not returned');
  if (componentIds.length) {
    await tx.insert(maintenanceComponents).values(componentIds.map((componentId) => ({ maintenanceId: row.id, componentId })));
  }
  return row;
}

export async function findMaintenance(db: DbOrTx, id: number): Promise<MaintenanceRow | undefined> {
  const { maintenances } = tablesOf(db);
  return first(db.select().from(maintenances).where(eq(maintenances.id, id)));
}

export async function getMaintenance(db: DbOrTx, id: number): Promise<MaintenanceRow> {
  const m = await findMaintenance(db, id);
  if (!m) throw new SitrepError('NOT_FOUND', `there is no ${maintenanceRef(id)}; \`maintenance list\` shows scheduled maintenance`);
  return m;
}

/** The components of these maintenances, in catalogue order, by maintenance. */
async function componentsOf(db: DbOrTx, ids: readonly number[]): Promise<Map<number, MaintenanceView['components']>> {
  const out = new Map<number, MaintenanceView['components']>();
  if (!ids.length) return out;
  const { components, maintenanceComponents } = tablesOf(db);
  const rows = await db
    .select({ maintenanceId: maintenanceComponents.maintenanceId, id: components.id, slug: components.slug, name: components.name })
    .from(maintenanceComponents)
    .innerJoin(components, eq(components.id, maintenanceComponents.componentId))
    .where(inArray(maintenanceComponents.maintenanceId, [...ids]))
    .orderBy(asc(components.position), asc(components.id));
  for (const { maintenanceId, ...c } of rows) out.set(maintenanceId, [...(out.get(maintenanceId) ?? []), c]);
  return out;
}

export async function loadMaintenanceView(db: DbOrTx, id: number): Promise<MaintenanceView> {
  const m = await getMaintenance(db, id);
  return { ...m, ref: maintenanceRef(m.id), components: (await componentsOf(db, [m.id])).get(m.id) ?? [] };
}

/** Every maintenance still to come or under way, then the finished ones of the last `recentMs`, by start. */
export async function listMaintenances(db: DbOrTx, opts: { finishedSince: number }): Promise<MaintenanceView[]> {
  const { maintenances } = tablesOf(db);
  const rows = await db
    .select()
    .from(maintenances)
    .where(
      sql`${maintenances.status} in ('scheduled', 'in_progress', 'verifying') or coalesce(${maintenances.completedAt}, ${maintenances.cancelledAt}, 0) >= ${opts.finishedSince}`,
    )
    .orderBy(asc(maintenances.startsAt), asc(maintenances.id));
  const comps = await componentsOf(
    db,
    rows.map((r) => r.id),
  );
  return rows.map((m) => ({ ...m, ref: maintenanceRef(m.id), components: comps.get(m.id) ?? [] }));
}

/**
 * Moves a maintenance from `from` to `to`, dated `at`; false when it is no longer in `from` (someone
 * else moved it first). The first time a status is reached, its column records when.
 */
export async function moveMaintenance(tx: Tx, id: number, from: MaintenanceStatus, to: MaintenanceStatus, at: number, now: number): Promise<boolean> {
  const { maintenances } = tablesOf(tx);
  const stamp =
    to === 'in_progress'
      ? { startedAt: sql`coalesce(${maintenances.startedAt}, ${at})` }
      : to === 'verifying'
        ? { verifyingAt: sql`coalesce(${maintenances.verifyingAt}, ${at})` }
        : to === 'completed'
          ? { completedAt: at }
          : to === 'cancelled'
            ? { cancelledAt: at }
            : {};
  return (
    affected(
      await tx
        .update(maintenances)
        .set({ status: to, updatedAt: now, ...stamp })
        .where(and(eq(maintenances.id, id), eq(maintenances.status, from))),
    ) === 1
  );
}

/** What customers have been told: the status of its last published text, and when it first was. */
export async function setMaintenancePublic(tx: Tx, id: number, status: MaintenanceStatus, at: number): Promise<void> {
  const { maintenances } = tablesOf(tx);
  await tx
    .update(maintenances)
    .set({ publicStatus: status, publishedAt: sql`coalesce(${maintenances.publishedAt}, ${at})`, updatedAt: at })
    .where(eq(maintenances.id, id));
}

/**
 * Maintenances with something due by `now`: scheduled ones with an automatic start whose start has
 * come, and ones under way with an automatic completion whose end has. Two index seeks
 * (maintenances_due_start, maintenances_due_end), however long the history.
 */
export async function dueMaintenanceIds(db: DbOrTx, now: number): Promise<number[]> {
  const { maintenances } = tablesOf(db);
  const starting = await db
    .select({ id: maintenances.id })
    .from(maintenances)
    .where(and(eq(maintenances.status, 'scheduled'), lte(maintenances.startsAt, now), eq(maintenances.autoStart, true)));
  const ending = await db
    .select({ id: maintenances.id })
    .from(maintenances)
    .where(and(inArray(maintenances.status, ['in_progress', 'verifying']), lte(maintenances.endsAt, now), eq(maintenances.autoComplete, true)));
  return [...new Set([...starting, ...ending].map((r) => r.id))].sort((a, b) => a - b);
}

export async function maintenanceComponentIds(db: DbOrTx, id: number): Promise<number[]> {
  const { maintenanceComponents } = tablesOf(db);
  return (await db.select({ id: maintenanceComponents.componentId }).from(maintenanceComponents).where(eq(maintenanceComponents.maintenanceId, id))).map(
    (r) => r.id,
  );
}

// --- its timeline ----------------------------------------------------------------------------------

export interface NewMaintenanceEvent {
  maintenanceId: number;
  kind: MaintenanceEventKind;
  actor: string;
  text: string;
  occurredAt: number;
  recordedAt: number;
  payload?: Record<string, unknown>;
}

export async function insertMaintenanceEvent(tx: Tx, e: NewMaintenanceEvent): Promise<MaintenanceEventRow> {
  const row = await first(
    tx
      .insert(tablesOf(tx).maintenanceEvents)
      .values({ ...e, payload: e.payload ?? {} })
      .returning(),
  );
  if (!row) throw new Error('the new maintenance event was not returned');
  return row;
}

export async function loadMaintenanceEvents(db: DbOrTx, maintenanceId: number): Promise<MaintenanceEventRow[]> {
  const { maintenanceEvents } = tablesOf(db);
  return db
    .select()
    .from(maintenanceEvents)
    .where(eq(maintenanceEvents.maintenanceId, maintenanceId))
    .orderBy(asc(maintenanceEvents.occurredAt), asc(maintenanceEvents.id));
}

/**
 * Whether the maintenance's timeline already says that this subscription was disabled at this
 * time (a null time matches nothing), like hasDisablingNotice for an incident's.
 */
export async function maintenanceHasDisablingNotice(db: DbOrTx, maintenanceId: number, subscriptionId: number, disabledAt: number | null): Promise<boolean> {
  if (disabledAt === null) return false;
  const { maintenanceEvents } = tablesOf(db);
  return (
    await db
      .select({ payload: maintenanceEvents.payload })
      .from(maintenanceEvents)
      .where(and(eq(maintenanceEvents.maintenanceId, maintenanceId), eq(maintenanceEvents.kind, 'delivery_failed')))
  ).some((r) => r.payload.disabledSubscription === subscriptionId && r.payload.disabledAt === disabledAt);
}

/** What a maintenance's root message in the incidents channel shows, read when it is sent. */
export async function loadMaintenanceThreadView(db: DbOrTx, id: number): Promise<MaintenanceThreadView> {
  const m = await loadMaintenanceView(db, id);
  const texts = await maintenanceTexts(db, id);
  let last: (typeof texts)[number] | undefined;
  for (const t of texts) if (t.state === 'published' && (!last || t.displayAt >= last.displayAt)) last = t;
  return {
    id: m.ref,
    title: m.title,
    status: m.status,
    startsAt: m.startsAt,
    endsAt: m.endsAt,
    startedAt: m.startedAt,
    finishedAt: m.completedAt ?? m.cancelledAt,
    components: m.components.map((c) => c.name),
    lastCustomerText: last ? { id: `D-${last.id}`, body: last.body, status: last.maintenanceStatus, at: last.displayAt } : null,
    pendingDrafts: texts.filter((t) => t.state === 'draft').map((t) => ({ id: `D-${t.id}`, author: t.author, status: t.maintenanceStatus, body: t.body })),
  };
}
