import { and, asc, desc, eq, gte, isNotNull, sql } from 'drizzle-orm';
import type { ComponentStatus, IncidentStatus } from '../../src/domain/enums.js';
import type { Db, DbOrTx } from '../client.js';
import { componentStatusHistory, components, customerUpdates, incidents, postmortems } from '../schema.js';
import { prepared } from './prepared.js';

// The status page's change check: a cheap digest of everything the public state is built from.
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
  as f`;

export function publicFingerprint(db: DbOrTx): string {
  const row: unknown = prepared(db, FINGERPRINT).get();
  return typeof row === 'object' && row !== null && 'f' in row && typeof row.f === 'string' ? row.f : '';
}

// The public read model's queries (src/statuspage/model.ts): the public columns only, so no
// internal text or status ever reaches a renderer. They are synchronous, unlike the store's verbs,
// because the status page builds its snapshot synchronously on the store's read-only connection.
// A rebuild runs on every published change while customers are polling, so they are prepared once
// per database: query building is not paid again each time.
function prepare(db: Db) {
  const windowStart = sql.placeholder('windowStart');
  const ids = sql.placeholder('ids'); // a JSON array of incident ids
  return {
    components: db.select().from(components).orderBy(asc(components.position), asc(components.id)).prepare(),
    history: db
      .select({ componentId: componentStatusHistory.componentId, status: componentStatusHistory.rolledUp, at: componentStatusHistory.at })
      .from(componentStatusHistory)
      .where(and(eq(componentStatusHistory.isPublic, true), gte(componentStatusHistory.at, windowStart)))
      .orderBy(asc(componentStatusHistory.at), asc(componentStatusHistory.id))
      .prepare(),
    // Each component's last public change before the window: one index seek per component
    // (csh_component_at, read backwards from the window's start), not a pass over all history.
    before: db
      .select({ componentId: componentStatusHistory.componentId, status: componentStatusHistory.rolledUp, at: componentStatusHistory.at })
      .from(componentStatusHistory)
      .where(
        sql`${componentStatusHistory.id} in (select (select h.id from ${componentStatusHistory} h
              where h.component_id = c.id and h.is_public = 1 and h.at < ${windowStart}
              order by h.at desc, h.id desc limit 1) from ${components} c)`,
      )
      .prepare(),
    incidents: db
      .select({
        id: incidents.id,
        title: incidents.title,
        severity: incidents.severity,
        publicStatus: incidents.publicStatus,
        publishedAt: incidents.publishedAt,
        updatedAt: incidents.updatedAt,
      })
      .from(incidents)
      // A private incident is never public, whatever else its row says (src/domain/visibility.ts).
      .where(and(isNotNull(incidents.publishedAt), eq(incidents.visibility, 'public')))
      .orderBy(desc(incidents.publishedAt), desc(incidents.id))
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
    postmortems: db
      .select({ incidentId: postmortems.incidentId, body: postmortems.publicBody, publishedAt: postmortems.publishedAt })
      .from(postmortems)
      .where(
        sql`${postmortems.publishedAt} IS NOT NULL AND ${postmortems.publicBody} IS NOT NULL AND ${postmortems.incidentId} in (select value from json_each(${ids}))
            AND ${postmortems.incidentId} in (select id from ${incidents} where ${incidents.visibility} = 'public')`,
      )
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
export type PublicHistoryRow = { componentId: number; status: ComponentStatus; at: number };
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

/** Each component's last public status change before `windowStart` (none for a component without one). Synchronous: see prepare(). */
export function publicStatusBefore(db: Db, windowStart: number): PublicHistoryRow[] {
  return queries(db).before.all({ windowStart });
}

/** Every published incident, newest publication first. Synchronous: see prepare(). */
export function publishedIncidentRows(db: Db): PublishedIncidentRow[] {
  return queries(db).incidents.all();
}

/**
 * The published updates (oldest first) and public postmortems of these incidents. The ids go to
 * SQLite as one JSON array (json_each), so one prepared statement serves any number of them.
 * Synchronous: see prepare().
 */
export function publishedUpdatesAndPostmortems(db: Db, incidentIds: readonly number[]): { updates: PublishedUpdateRow[]; postmortems: PublicPostmortemRow[] } {
  const q = queries(db);
  const ids = JSON.stringify(incidentIds);
  return { updates: q.updates.all({ ids }), postmortems: q.postmortems.all({ ids }) };
}

/** One incident's public head (for an archived report), undefined when there is none. Synchronous: see prepare(). */
export function publicIncidentHead(db: Db, id: number): Pick<PublishedIncidentRow, 'id' | 'title' | 'severity' | 'publicStatus'> | undefined {
  return db
    .select({ id: incidents.id, title: incidents.title, severity: incidents.severity, publicStatus: incidents.publicStatus })
    .from(incidents)
    .where(and(eq(incidents.id, id), eq(incidents.visibility, 'public')))
    .get();
}
