import { and, asc, desc, eq, gt, gte, isNotNull, sql } from 'drizzle-orm';
import { INCIDENT_STATUSES, type ComponentStatus, type IncidentStatus, type MaintenanceStatus } from '../../src/domain/enums.js';
import type { Db, DbOrTx } from '../client.js';
import { componentStatusHistory, components, customerUpdates, incidents, maintenanceComponents, maintenances, postmortems } from '../schema.js';
import { preparedSync } from './prepared.js';

// The status page's change check: a cheap digest of everything the public state is built from
// (public maintenances included: their heads and components here, their texts with the other
// published customer_updates rows).
// Most writes (deliveries recorded by the outbox worker, internal updates, notes, drafts) change
// none of it; comparing digests lets a change notification skip the full rebuild in the middle of
// a refresh storm. It runs on every change notification, so it is prepared once per connection.
const FINGERPRINT = `select
  (select count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(sum(display_at % 1000003), 0)
     from customer_updates where state = 'published')
  || '|' || (select coalesce(group_concat(id || ',' || name || ',' || coalesce(group_name, '') || ',' || coalesce(description, '') || ',' || public_status || ',' || position, ';'), '') from components)
  || '|' || (select count(*) || ':' || coalesce(max(id), 0) from component_status_history where is_public = 1)
  || '|' || (select count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(sum(length(title) * id), 0) || ':'
     || coalesce(sum(id * (case public_status when 'investigating' then 1 when 'identified' then 2 when 'monitoring' then 3 else 5 end)), 0)
     from incidents where published_at is not null and visibility = 'public')
  || '|' || (select count(*) || ':' || coalesce(max(published_at), 0) || ':' || coalesce(sum(length(public_body)), 0) from postmortems where published_at is not null)
  || '|' || (select count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(sum(length(title) * id), 0) || ':'
     || coalesce(sum((starts_at + ends_at) % 1000003), 0) || ':'
     || coalesce(sum(id * (case public_status when 'scheduled' then 1 when 'in_progress' then 2 when 'verifying' then 3 when 'completed' then 4 else 6 end)), 0)
     from maintenances where published_at is not null)
  || '|' || (select count(*) || ':' || coalesce(sum(mc.component_id * mc.maintenance_id), 0)
     from maintenance_components mc join maintenances m on m.id = mc.maintenance_id where m.published_at is not null)
  as f`;

export function publicFingerprint(db: DbOrTx): string {
  const row: unknown = preparedSync(db, FINGERPRINT).get();
  return typeof row === 'object' && row !== null && 'f' in row && typeof row.f === 'string' ? row.f : '';
}

// The public read model's queries (src/statuspage/model.ts): the public columns only, so no
// internal text or status ever reaches a renderer. They are synchronous, unlike the store's verbs,
// because the status page builds its snapshot synchronously on the store's read-only connection.
// A rebuild runs on every published change while customers are polling, so they are prepared once
// per database: query building is not paid again each time.
/** A public maintenance's head: its public status, never the internal one. */
const maintenanceHeadColumns = {
  id: maintenances.id,
  title: maintenances.title,
  publicStatus: maintenances.publicStatus,
  startsAt: maintenances.startsAt,
  endsAt: maintenances.endsAt,
  publishedAt: maintenances.publishedAt,
};

const historyColumns = {
  id: componentStatusHistory.id,
  componentId: componentStatusHistory.componentId,
  status: componentStatusHistory.rolledUp,
  at: componentStatusHistory.at,
};

function prepare(db: Db) {
  const windowStart = sql.placeholder('windowStart');
  const ids = sql.placeholder('ids'); // a JSON array of incident ids
  return {
    components: db.select().from(components).orderBy(asc(components.position), asc(components.id)).prepare(),
    history: db
      .select(historyColumns)
      .from(componentStatusHistory)
      .where(and(eq(componentStatusHistory.isPublic, true), gte(componentStatusHistory.at, windowStart)))
      .orderBy(asc(componentStatusHistory.at), asc(componentStatusHistory.id))
      .prepare(),
    // History is only ever appended to: what a rebuild did not see yet is what lies past the
    // largest id it saw.
    historyAfter: db
      .select(historyColumns)
      .from(componentStatusHistory)
      // `+is_public` keeps SQLite on the id range (a handful of rows) instead of csh_public_at.
      .where(and(sql`+${componentStatusHistory.isPublic} = 1`, gt(componentStatusHistory.id, sql.placeholder('afterId'))))
      .orderBy(asc(componentStatusHistory.id))
      .prepare(),
    historyMaxId: db
      .select({ id: sql<number>`coalesce(max(${componentStatusHistory.id}), 0)` })
      .from(componentStatusHistory)
      .prepare(),
    // Each component's last public change before the window: one index seek per component
    // (csh_component_at, read backwards from the window's start), not a pass over all history.
    before: db
      .select(historyColumns)
      .from(componentStatusHistory)
      .where(
        sql`${componentStatusHistory.id} in (select (select h.id from ${componentStatusHistory} h
              where h.component_id = c.id and h.is_public = 1 and h.at < ${windowStart}
              order by h.at desc, h.id desc limit 1) from ${components} c)`,
      )
      .prepare(),
    updates: db
      .select({
        id: customerUpdates.id,
        incidentId: customerUpdates.incidentId,
        status: customerUpdates.status,
        body: customerUpdates.body,
        componentChanges: customerUpdates.componentChanges,
        displayAt: customerUpdates.displayAt,
        publishedAt: customerUpdates.publishedAt,
        isPostmortem: customerUpdates.isPostmortem,
      })
      .from(customerUpdates)
      .where(
        and(
          eq(customerUpdates.state, 'published'),
          sql`${customerUpdates.incidentId} in (select value from json_each(${ids}))`,
          sql`${customerUpdates.incidentId} in (select id from ${incidents} where ${incidents.visibility} = 'public')`,
        ),
      )
      .orderBy(asc(customerUpdates.displayAt), asc(customerUpdates.id))
      .prepare(),
    // Which published updates each incident has, as a digest: a published update never changes
    // again (only a draft is edited), so the count and the sum of the ids name the set exactly.
    updateDigests: db
      .select({ incidentId: customerUpdates.incidentId, digest: sql<string>`count(*) || ':' || sum(${customerUpdates.id})` })
      .from(customerUpdates)
      .where(and(eq(customerUpdates.state, 'published'), sql`${customerUpdates.incidentId} in (select value from json_each(${ids}))`))
      .groupBy(customerUpdates.incidentId)
      .prepare(),
    postmortems: db
      .select({ incidentId: postmortems.incidentId, body: postmortems.publicBody, publishedAt: postmortems.publishedAt })
      .from(postmortems)
      .where(
        sql`${postmortems.publishedAt} IS NOT NULL AND ${postmortems.publicBody} IS NOT NULL AND ${postmortems.incidentId} in (select value from json_each(${ids}))
            AND ${postmortems.incidentId} in (select id from ${incidents} where ${incidents.visibility} = 'public')`,
      )
      .prepare(),
    // Public maintenances: announced ones (published_at set), their public status only.
    maintenances: db
      .select(maintenanceHeadColumns)
      .from(maintenances)
      .where(isNotNull(maintenances.publishedAt))
      .orderBy(desc(maintenances.publishedAt), desc(maintenances.id))
      .prepare(),
    maintenanceHead: db
      .select(maintenanceHeadColumns)
      .from(maintenances)
      .where(and(eq(maintenances.id, sql.placeholder('id')), isNotNull(maintenances.publishedAt)))
      .prepare(),
    maintenanceTexts: db
      .select({
        id: customerUpdates.id,
        maintenanceId: customerUpdates.maintenanceId,
        status: customerUpdates.maintenanceStatus,
        body: customerUpdates.body,
        displayAt: customerUpdates.displayAt,
        publishedAt: customerUpdates.publishedAt,
      })
      .from(customerUpdates)
      .where(and(eq(customerUpdates.state, 'published'), sql`${customerUpdates.maintenanceId} in (select value from json_each(${ids}))`))
      .orderBy(asc(customerUpdates.displayAt), asc(customerUpdates.id))
      .prepare(),
    maintenanceComponents: db
      .select({ maintenanceId: maintenanceComponents.maintenanceId, componentId: maintenanceComponents.componentId })
      .from(maintenanceComponents)
      .where(sql`${maintenanceComponents.maintenanceId} in (select value from json_each(${ids}))`)
      .prepare(),
  };
}
const preparedFor = new WeakMap<Db, ReturnType<typeof prepare>>();

function queries(db: Db): ReturnType<typeof prepare> {
  let q = preparedFor.get(db);
  if (!q) {
    q = prepare(db);
    preparedFor.set(db, q);
  }
  return q;
}

export type PublicComponentRow = typeof components.$inferSelect;
export type PublicHistoryRow = { id: number; componentId: number; status: ComponentStatus; at: number };
export type PublishedIncidentRow = {
  id: number;
  title: string;
  severity: number;
  publicStatus: IncidentStatus | null;
  publishedAt: number | null;
  updatedAt: number;
};
export type PublishedUpdateRow = {
  id: number;
  incidentId: number;
  status: IncidentStatus;
  body: string;
  componentChanges: Array<{ slug: string; status: string }>;
  displayAt: number;
  publishedAt: number | null;
  isPostmortem: boolean;
};
export type PublicPostmortemRow = { incidentId: number; body: string | null; publishedAt: number | null };

/** Every component (public columns only are used), in catalogue order. Synchronous: see prepare(). */
export function publicComponentRows(db: Db): PublicComponentRow[] {
  return queries(db).components.all();
}

/** Public component status changes at or after `windowStart`, oldest first. Synchronous: see prepare(). */
export function publicHistorySince(db: Db, windowStart: number): PublicHistoryRow[] {
  return queries(db).history.all({ windowStart });
}

/** Public component status changes recorded after the change with id `afterId`, in the order recorded. Synchronous: see prepare(). */
export function publicHistoryAfter(db: Db, afterId: number): PublicHistoryRow[] {
  return queries(db).historyAfter.all({ afterId });
}

/** The id of the latest component status change, public or not (0 when there is none). Synchronous: see prepare(). */
export function historyMaxId(db: Db): number {
  return Number(queries(db).historyMaxId.get()?.id ?? 0);
}

/** Each component's last public status change before `windowStart` (none for a component without one). Synchronous: see prepare(). */
export function publicStatusBefore(db: Db, windowStart: number): PublicHistoryRow[] {
  return queries(db).before.all({ windowStart });
}

// Every rebuild lists every published incident (a year of them, on a busy page): a plain prepared
// statement, its values checked here, costs half of drizzle's row mapping.
const PUBLISHED_INCIDENTS = `select id, title, severity, public_status, published_at, updated_at
  from incidents where published_at is not null and visibility = 'public' order by published_at desc, id desc`;

function toPublishedIncident(raw: unknown): PublishedIncidentRow {
  const [id, title, severity, publicStatus, publishedAt, updatedAt] = Array.isArray(raw) ? raw : [];
  const status = publicStatus === null ? null : INCIDENT_STATUSES.find((s) => s === publicStatus);
  if (typeof id !== 'number' || typeof title !== 'string' || typeof severity !== 'number' || status === undefined)
    throw new Error('incidents row has an unreadable public column');
  if (typeof updatedAt !== 'number' || (publishedAt !== null && typeof publishedAt !== 'number')) throw new Error('incidents row has an unreadable time');
  return { id, title, severity, publicStatus: status, publishedAt, updatedAt };
}

/** Every published incident, newest publication first. Synchronous: see prepare(). */
export function publishedIncidentRows(db: Db): PublishedIncidentRow[] {
  // Rows as arrays (the statement is this function's alone): no object per row to build and throw away.
  return preparedSync(db, PUBLISHED_INCIDENTS).raw(true).all().map(toPublishedIncident);
}

/**
 * The published updates (oldest first) and public postmortems of these incidents. The ids go to
 * SQLite as one JSON array (json_each), so one prepared statement serves any number of them.
 * Synchronous: see prepare().
 */
export function publishedUpdatesAndPostmortems(db: Db, incidentIds: readonly number[]): { updates: PublishedUpdateRow[]; postmortems: PublicPostmortemRow[] } {
  const q = queries(db);
  const ids = JSON.stringify(incidentIds);
  // Selected by incident id, so every row is an incident's (incident_id and status set).
  const updates = q.updates
    .all({ ids })
    .flatMap(({ incidentId, status, ...u }) => (incidentId !== null && status !== null ? [{ ...u, incidentId, status }] : []));
  return { updates, postmortems: q.postmortems.all({ ids }) };
}

/**
 * For each of these incidents that has published updates, a digest that changes whenever one more
 * of its updates is published (published updates are never edited). Synchronous: see prepare().
 */
export function publishedUpdateDigests(db: Db, incidentIds: readonly number[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const r of queries(db).updateDigests.all({ ids: JSON.stringify(incidentIds) })) if (r.incidentId !== null) out.set(r.incidentId, String(r.digest));
  return out;
}

/** The public postmortems of these incidents. Synchronous: see prepare(). */
export function publicPostmortemsOf(db: Db, incidentIds: readonly number[]): PublicPostmortemRow[] {
  return queries(db).postmortems.all({ ids: JSON.stringify(incidentIds) });
}

/** One incident's public head (for an archived report), undefined when there is none. Synchronous: see prepare(). */
export function publicIncidentHead(db: Db, id: number): Pick<PublishedIncidentRow, 'id' | 'title' | 'severity' | 'publicStatus'> | undefined {
  return db
    .select({ id: incidents.id, title: incidents.title, severity: incidents.severity, publicStatus: incidents.publicStatus })
    .from(incidents)
    .where(and(eq(incidents.id, id), eq(incidents.visibility, 'public')))
    .get();
}

export type PublishedMaintenanceRow = {
  id: number;
  title: string;
  publicStatus: MaintenanceStatus | null;
  startsAt: number;
  endsAt: number;
  publishedAt: number | null;
};
export type PublishedMaintenanceTextRow = {
  id: number;
  maintenanceId: number;
  status: MaintenanceStatus;
  body: string;
  displayAt: number;
  publishedAt: number | null;
};

/**
 * Every announced maintenance (its first text published), newest announcement first: title,
 * window and public status only, never its internal status. Synchronous: see prepare().
 */
export function publishedMaintenanceHeads(db: Db): PublishedMaintenanceRow[] {
  return queries(db).maintenances.all();
}

/** One announced maintenance's public head, undefined when there is none. Synchronous: see prepare(). */
export function publishedMaintenanceHead(db: Db, id: number): PublishedMaintenanceRow | undefined {
  return queries(db).maintenanceHead.get({ id });
}

/**
 * The published texts (oldest first; never a draft) and the component ids of these maintenances,
 * their ids as one JSON array like publishedUpdatesAndPostmortems. Synchronous: see prepare().
 */
export function publishedMaintenanceTextsAndComponents(
  db: Db,
  maintenanceIds: readonly number[],
): { texts: PublishedMaintenanceTextRow[]; components: Array<{ maintenanceId: number; componentId: number }> } {
  const q = queries(db);
  const ids = JSON.stringify(maintenanceIds);
  // Selected by maintenance id, so every row is a maintenance's (maintenance_id and its status set).
  const texts = q.maintenanceTexts
    .all({ ids })
    .flatMap(({ maintenanceId, status, ...t }) => (maintenanceId !== null && status !== null ? [{ ...t, maintenanceId, status }] : []));
  return { texts, components: q.maintenanceComponents.all({ ids }) };
}
