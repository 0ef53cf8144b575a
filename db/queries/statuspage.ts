import { and, asc, desc, eq, gt, gte, isNotNull, sql } from 'drizzle-orm';
import { INCIDENT_STATUSES, type ComponentStatus, type IncidentStatus, type MaintenanceStatus } from '../../src/domain/enums.js';
import type { Db, DbOrTx } from '../client.js';
import { isSqlite, tablesOf, type Tables } from '../engine.js';
import { componentStatusHistory, components, customerUpdates, incidents, maintenanceComponents, maintenances, postmortems } from '../schema.js';
import { prepared, preparedSync, type Result } from './prepared.js';

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

// The same digest in PostgreSQL's words: string_agg for group_concat, booleans, and text casts
// where || joins numbers (PostgreSQL's || wants a text on one side).
const FINGERPRINT_PG = `select
  (select count(*)::text || ':' || coalesce(max(id), 0)::text || ':' || coalesce(sum(display_at % 1000003), 0)::text
     from customer_updates where state = 'published')
  || '|' || (select coalesce(string_agg(id::text || ',' || name || ',' || coalesce(group_name, '') || ',' || coalesce(description, '') || ',' || public_status || ',' || position::text, ';' order by id), '') from components)
  || '|' || (select count(*)::text || ':' || coalesce(max(id), 0)::text from component_status_history where is_public)
  || '|' || (select count(*)::text || ':' || coalesce(max(id), 0)::text || ':' || coalesce(sum(length(title) * id), 0)::text || ':'
     || coalesce(sum(id * (case public_status when 'investigating' then 1 when 'identified' then 2 when 'monitoring' then 3 else 5 end)), 0)::text
     from incidents where published_at is not null and visibility = 'public')
  || '|' || (select count(*)::text || ':' || coalesce(max(published_at), 0)::text || ':' || coalesce(sum(length(public_body)), 0)::text from postmortems where published_at is not null)
  || '|' || (select count(*)::text || ':' || coalesce(max(id), 0)::text || ':' || coalesce(sum(length(title) * id), 0)::text || ':'
     || coalesce(sum((starts_at + ends_at) % 1000003), 0)::text || ':'
     || coalesce(sum(id * (case public_status when 'scheduled' then 1 when 'in_progress' then 2 when 'verifying' then 3 when 'completed' then 4 else 6 end)), 0)::text
     from maintenances where published_at is not null)
  || '|' || (select count(*)::text || ':' || coalesce(sum(mc.component_id * mc.maintenance_id), 0)::text
     from maintenance_components mc join maintenances m on m.id = mc.maintenance_id where m.published_at is not null)
  as f`;

const fingerprintOf = (row: unknown): string => (typeof row === 'object' && row !== null && 'f' in row && typeof row.f === 'string' ? row.f : '');

/**
 * The digest: synchronous on SQLite (prepared once per connection), a promise on PostgreSQL.
 * The same holds for every query below: each returns its rows at once on SQLite, where the status
 * page builds synchronously, and a promise on PostgreSQL (src/statuspage/model.ts runs one
 * builder either way).
 */
export function publicFingerprint(db: DbOrTx): Result<string> {
  if (isSqlite(db)) return fingerprintOf(preparedSync(db, FINGERPRINT).get());
  return Promise.resolve(prepared(db, { sqlite: FINGERPRINT, pg: FINGERPRINT_PG }).get()).then(fingerprintOf);
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

// PostgreSQL's forms of the same queries, built with the handle's tables (db/schema.pg.ts) and
// awaited: the id lists go as one JSON array here too (json_array_elements_text), so one
// statement text serves any number of them.
function pgQueries(db: Db) {
  const t: Tables = tablesOf(db);
  const h = t.componentStatusHistory;
  const cols = { id: h.id, componentId: h.componentId, status: h.rolledUp, at: h.at };
  const idsIn = (col: unknown, ids: string) => sql`${col} in (select value::integer from json_array_elements_text(${ids}::json))`;
  const publicIncident = (col: unknown) => sql`${col} in (select id from ${t.incidents} where ${t.incidents.visibility} = 'public')`;
  const mhead = {
    id: t.maintenances.id,
    title: t.maintenances.title,
    publicStatus: t.maintenances.publicStatus,
    startsAt: t.maintenances.startsAt,
    endsAt: t.maintenances.endsAt,
    publishedAt: t.maintenances.publishedAt,
  };
  return {
    components: async () => db.select().from(t.components).orderBy(asc(t.components.position), asc(t.components.id)),
    history: async (windowStart: number) =>
      db
        .select(cols)
        .from(h)
        .where(and(eq(h.isPublic, true), gte(h.at, windowStart)))
        .orderBy(asc(h.at), asc(h.id)),
    historyAfter: async (afterId: number) =>
      db
        .select(cols)
        .from(h)
        .where(and(eq(h.isPublic, true), gt(h.id, afterId)))
        .orderBy(asc(h.id)),
    historyMaxId: async () => Number((await db.select({ id: sql<number>`coalesce(max(${h.id}), 0)` }).from(h))[0]?.id ?? 0),
    before: async (windowStart: number) =>
      db
        .select(cols)
        .from(h)
        .where(
          sql`${h.id} in (select (select x.id from component_status_history x
                where x.component_id = c.id and x.is_public and x.at < ${windowStart}
                order by x.at desc, x.id desc limit 1) from components c)`,
        ),
    incidents: async () =>
      db
        .select({
          id: t.incidents.id,
          title: t.incidents.title,
          severity: t.incidents.severity,
          publicStatus: t.incidents.publicStatus,
          publishedAt: t.incidents.publishedAt,
          updatedAt: t.incidents.updatedAt,
        })
        .from(t.incidents)
        .where(and(isNotNull(t.incidents.publishedAt), eq(t.incidents.visibility, 'public')))
        .orderBy(desc(t.incidents.publishedAt), desc(t.incidents.id)),
    updates: async (ids: string) =>
      db
        .select({
          id: t.customerUpdates.id,
          incidentId: t.customerUpdates.incidentId,
          status: t.customerUpdates.status,
          body: t.customerUpdates.body,
          componentChanges: t.customerUpdates.componentChanges,
          displayAt: t.customerUpdates.displayAt,
          publishedAt: t.customerUpdates.publishedAt,
          isPostmortem: t.customerUpdates.isPostmortem,
        })
        .from(t.customerUpdates)
        .where(and(eq(t.customerUpdates.state, 'published'), idsIn(t.customerUpdates.incidentId, ids), publicIncident(t.customerUpdates.incidentId)))
        .orderBy(asc(t.customerUpdates.displayAt), asc(t.customerUpdates.id)),
    updateDigests: async (ids: string) =>
      db
        .select({ incidentId: t.customerUpdates.incidentId, digest: sql<string>`count(*)::text || ':' || sum(${t.customerUpdates.id})::text` })
        .from(t.customerUpdates)
        .where(and(eq(t.customerUpdates.state, 'published'), idsIn(t.customerUpdates.incidentId, ids)))
        .groupBy(t.customerUpdates.incidentId),
    postmortems: async (ids: string) =>
      db
        .select({ incidentId: t.postmortems.incidentId, body: t.postmortems.publicBody, publishedAt: t.postmortems.publishedAt })
        .from(t.postmortems)
        .where(
          and(
            isNotNull(t.postmortems.publishedAt),
            isNotNull(t.postmortems.publicBody),
            idsIn(t.postmortems.incidentId, ids),
            publicIncident(t.postmortems.incidentId),
          ),
        ),
    incidentHead: async (id: number) =>
      (
        await db
          .select({ id: t.incidents.id, title: t.incidents.title, severity: t.incidents.severity, publicStatus: t.incidents.publicStatus })
          .from(t.incidents)
          .where(and(eq(t.incidents.id, id), eq(t.incidents.visibility, 'public')))
      )[0],
    maintenances: async () =>
      db.select(mhead).from(t.maintenances).where(isNotNull(t.maintenances.publishedAt)).orderBy(desc(t.maintenances.publishedAt), desc(t.maintenances.id)),
    maintenanceHead: async (id: number) =>
      (
        await db
          .select(mhead)
          .from(t.maintenances)
          .where(and(eq(t.maintenances.id, id), isNotNull(t.maintenances.publishedAt)))
      )[0],
    maintenanceTexts: async (ids: string) =>
      db
        .select({
          id: t.customerUpdates.id,
          maintenanceId: t.customerUpdates.maintenanceId,
          status: t.customerUpdates.maintenanceStatus,
          body: t.customerUpdates.body,
          displayAt: t.customerUpdates.displayAt,
          publishedAt: t.customerUpdates.publishedAt,
        })
        .from(t.customerUpdates)
        .where(and(eq(t.customerUpdates.state, 'published'), idsIn(t.customerUpdates.maintenanceId, ids)))
        .orderBy(asc(t.customerUpdates.displayAt), asc(t.customerUpdates.id)),
    maintenanceComponents: async (ids: string) =>
      db
        .select({ maintenanceId: t.maintenanceComponents.maintenanceId, componentId: t.maintenanceComponents.componentId })
        .from(t.maintenanceComponents)
        .where(idsIn(t.maintenanceComponents.maintenanceId, ids)),
  };
}
const pgFor = new WeakMap<Db, ReturnType<typeof pgQueries>>();

function pgq(db: Db): ReturnType<typeof pgQueries> {
  let q = pgFor.get(db);
  if (!q) {
    q = pgQueries(db);
    pgFor.set(db, q);
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

/** Every component (public columns only are used), in catalogue order. Synchronous on SQLite: see prepare(). */
export function publicComponentRows(db: Db): Result<PublicComponentRow[]> {
  return isSqlite(db) ? queries(db).components.all() : pgq(db).components();
}

/** Public component status changes at or after `windowStart`, oldest first. Synchronous on SQLite: see prepare(). */
export function publicHistorySince(db: Db, windowStart: number): Result<PublicHistoryRow[]> {
  return isSqlite(db) ? queries(db).history.all({ windowStart }) : pgq(db).history(windowStart);
}

/** Public component status changes recorded after the change with id `afterId`, in the order recorded. Synchronous on SQLite: see prepare(). */
export function publicHistoryAfter(db: Db, afterId: number): Result<PublicHistoryRow[]> {
  return isSqlite(db) ? queries(db).historyAfter.all({ afterId }) : pgq(db).historyAfter(afterId);
}

/** The id of the latest component status change, public or not (0 when there is none). Synchronous on SQLite: see prepare(). */
export function historyMaxId(db: Db): Result<number> {
  return isSqlite(db) ? Number(queries(db).historyMaxId.get()?.id ?? 0) : pgq(db).historyMaxId();
}

/** Each component's last public status change before `windowStart` (none for a component without one). Synchronous on SQLite: see prepare(). */
export function publicStatusBefore(db: Db, windowStart: number): Result<PublicHistoryRow[]> {
  return isSqlite(db) ? queries(db).before.all({ windowStart }) : pgq(db).before(windowStart);
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

/** Every published incident, newest publication first. Synchronous on SQLite: see prepare(). */
export function publishedIncidentRows(db: Db): Result<PublishedIncidentRow[]> {
  // Rows as arrays (the statement is this function's alone): no object per row to build and throw away.
  if (isSqlite(db)) return preparedSync(db, PUBLISHED_INCIDENTS).raw(true).all().map(toPublishedIncident);
  return pgq(db)
    .incidents()
    .then((rows) => rows.map((r) => toPublishedIncident([r.id, r.title, r.severity, r.publicStatus, r.publishedAt, r.updatedAt])));
}

/**
 * The published updates (oldest first) and public postmortems of these incidents. The ids go to
 * SQLite as one JSON array (json_each), so one prepared statement serves any number of them.
 * Synchronous on SQLite: see prepare().
 */
export function publishedUpdatesAndPostmortems(
  db: Db,
  incidentIds: readonly number[],
): Result<{ updates: PublishedUpdateRow[]; postmortems: PublicPostmortemRow[] }> {
  const ids = JSON.stringify(incidentIds);
  // Selected by incident id, so every row is an incident's (incident_id and status set).
  const own = (rows: Array<Omit<PublishedUpdateRow, 'incidentId' | 'status'> & { incidentId: number | null; status: IncidentStatus | null }>) =>
    rows.flatMap(({ incidentId, status, ...u }) => (incidentId !== null && status !== null ? [{ ...u, incidentId, status }] : []));
  if (isSqlite(db)) {
    const q = queries(db);
    return { updates: own(q.updates.all({ ids })), postmortems: q.postmortems.all({ ids }) };
  }
  const q = pgq(db);
  return Promise.all([q.updates(ids), q.postmortems(ids)]).then(([u, postmortems]) => ({ updates: own(u), postmortems }));
}

/**
 * For each of these incidents that has published updates, a digest that changes whenever one more
 * of its updates is published (published updates are never edited). Synchronous on SQLite: see prepare().
 */
export function publishedUpdateDigests(db: Db, incidentIds: readonly number[]): Result<Map<number, string>> {
  const toMap = (rows: Array<{ incidentId: number | null; digest: string }>) => {
    const out = new Map<number, string>();
    for (const r of rows) if (r.incidentId !== null) out.set(r.incidentId, String(r.digest));
    return out;
  };
  const ids = JSON.stringify(incidentIds);
  return isSqlite(db) ? toMap(queries(db).updateDigests.all({ ids })) : pgq(db).updateDigests(ids).then(toMap);
}

/** The public postmortems of these incidents. Synchronous on SQLite: see prepare(). */
export function publicPostmortemsOf(db: Db, incidentIds: readonly number[]): Result<PublicPostmortemRow[]> {
  const ids = JSON.stringify(incidentIds);
  return isSqlite(db) ? queries(db).postmortems.all({ ids }) : pgq(db).postmortems(ids);
}

/** One incident's public head (for an archived report), undefined when there is none. Synchronous on SQLite: see prepare(). */
export function publicIncidentHead(db: Db, id: number): Result<Pick<PublishedIncidentRow, 'id' | 'title' | 'severity' | 'publicStatus'> | undefined> {
  if (!isSqlite(db)) return pgq(db).incidentHead(id);
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
 * window and public status only, never its internal status. Synchronous on SQLite: see prepare().
 */
export function publishedMaintenanceHeads(db: Db): Result<PublishedMaintenanceRow[]> {
  return isSqlite(db) ? queries(db).maintenances.all() : pgq(db).maintenances();
}

/** One announced maintenance's public head, undefined when there is none. Synchronous on SQLite: see prepare(). */
export function publishedMaintenanceHead(db: Db, id: number): Result<PublishedMaintenanceRow | undefined> {
  return isSqlite(db) ? queries(db).maintenanceHead.get({ id }) : pgq(db).maintenanceHead(id);
}

/**
 * The published texts (oldest first; never a draft) and the component ids of these maintenances,
 * their ids as one JSON array like publishedUpdatesAndPostmortems. Synchronous on SQLite: see prepare().
 */
export function publishedMaintenanceTextsAndComponents(
  db: Db,
  maintenanceIds: readonly number[],
): Result<{ texts: PublishedMaintenanceTextRow[]; components: Array<{ maintenanceId: number; componentId: number }> }> {
  const ids = JSON.stringify(maintenanceIds);
  // Selected by maintenance id, so every row is a maintenance's (maintenance_id and its status set).
  const own = (
    rows: Array<Omit<PublishedMaintenanceTextRow, 'maintenanceId' | 'status'> & { maintenanceId: number | null; status: MaintenanceStatus | null }>,
  ) => rows.flatMap(({ maintenanceId, status, ...t }) => (maintenanceId !== null && status !== null ? [{ ...t, maintenanceId, status }] : []));
  if (isSqlite(db)) {
    const q = queries(db);
    return { texts: own(q.maintenanceTexts.all({ ids })), components: q.maintenanceComponents.all({ ids }) };
  }
  const q = pgq(db);
  return Promise.all([q.maintenanceTexts(ids), q.maintenanceComponents(ids)]).then(([texts, components]) => ({ texts: own(texts), components }));
}
