import { and, asc, desc, eq, gte, inArray, isNotNull, ne } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../client.js';
import { first, tablesOf } from '../engine.js';
import type { components, incidents } from '../schema.js';
import { rollUp } from '../../src/domain/components.js';
import { COMPONENT_STATUSES, INCIDENT_STATUSES, type ComponentStatus, type IncidentStatus, type Role } from '../../src/domain/enums.js';
import { SitrepError } from '../../src/domain/errors.js';
import { incidentNotFound } from '../../src/domain/visibility.js';
import type { ComponentStatusChange } from '../../src/domain/publication.js';
import { prepared, preparedSync } from './prepared.js';

export type IncidentRow = typeof incidents.$inferSelect;
export type ComponentRow = typeof components.$inferSelect;

export const incRef = (id: number) => `INC-${id}`;

// Columns are named in SQL and each value is checked on the way out, so a row read back is an
// IncidentRow because it was checked, not because it was cast.
const incidentSelect =
  'select id, title, status, severity, lead, commander, comms, scribe, created_by as "createdBy", started_at as "startedAt", ' +
  'declared_at as "declaredAt", identified_at as "identifiedAt", monitoring_at as "monitoringAt", resolved_at as "resolvedAt", ' +
  'visibility, private_channel as "privateChannel", ' +
  'recorded_at as "recordedAt", public_status as "publicStatus", published_at as "publishedAt", updated_at as "updatedAt" from incidents';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

function bad(field: string): never {
  throw new Error(`incidents row has an unreadable ${field}`);
}
function int(r: Record<string, unknown>, k: string): number {
  const v = r[k];
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : bad(k);
}
function intOrNull(r: Record<string, unknown>, k: string): number | null {
  return r[k] === null || r[k] === undefined ? null : int(r, k);
}
function text(r: Record<string, unknown>, k: string): string {
  const v = r[k];
  return typeof v === 'string' ? v : bad(k);
}
function textOrNull(r: Record<string, unknown>, k: string): string | null {
  return r[k] === null || r[k] === undefined ? null : text(r, k);
}
function incidentStatus(r: Record<string, unknown>, k: string): IncidentStatus {
  return INCIDENT_STATUSES.find((s) => s === r[k]) ?? bad(k);
}

export function toIncidentRow(raw: unknown): IncidentRow {
  if (!isRecord(raw)) return bad('shape');
  return {
    id: int(raw, 'id'),
    title: text(raw, 'title'),
    status: incidentStatus(raw, 'status'),
    severity: int(raw, 'severity'),
    lead: textOrNull(raw, 'lead'),
    commander: textOrNull(raw, 'commander'),
    comms: textOrNull(raw, 'comms'),
    scribe: textOrNull(raw, 'scribe'),
    createdBy: text(raw, 'createdBy'),
    startedAt: int(raw, 'startedAt'),
    declaredAt: int(raw, 'declaredAt'),
    identifiedAt: intOrNull(raw, 'identifiedAt'),
    monitoringAt: intOrNull(raw, 'monitoringAt'),
    resolvedAt: intOrNull(raw, 'resolvedAt'),
    recordedAt: int(raw, 'recordedAt'),
    publicStatus: raw.publicStatus === null || raw.publicStatus === undefined ? null : incidentStatus(raw, 'publicStatus'),
    publishedAt: intOrNull(raw, 'publishedAt'),
    updatedAt: int(raw, 'updatedAt'),
    visibility: raw.visibility === 'private' ? 'private' : raw.visibility === 'public' ? 'public' : bad('visibility'),
    privateChannel: textOrNull(raw, 'privateChannel'),
  };
}

export async function findIncident(db: DbOrTx, id: number): Promise<IncidentRow | undefined> {
  const raw: unknown = await prepared(db, `${incidentSelect} where id = ?`).get(id);
  return raw === undefined ? undefined : toIncidentRow(raw);
}

export async function getIncident(db: DbOrTx, id: number): Promise<IncidentRow> {
  const row = await findIncident(db, id);
  if (!row) throw incidentNotFound(incRef(id));
  return row;
}

/** Open incidents, oldest first. */
export async function openIncidents(db: DbOrTx): Promise<IncidentRow[]> {
  return (await prepared(db, `${incidentSelect} where status != 'resolved' order by id asc`).all()).map(toIncidentRow);
}

/**
 * Incidents by severity: how many were ever declared and how many are not yet resolved (the
 * sitrep_incidents_declared_total counter and sitrep_incidents_open gauge). Synchronous, as a
 * Prometheus collector is: SQLite only. Counts only: no id or title leaves here.
 */
export function countIncidentsBySeverity(db: DbOrTx): Array<{ severity: number; declared: number; open: number }> {
  return preparedSync(db, COUNT_BY_SEVERITY).all() as Array<{ severity: number; declared: number; open: number }>;
}

const COUNT_BY_SEVERITY = `select severity, count(*) as declared, coalesce(sum(case when status != 'resolved' then 1 else 0 end), 0) as open
  from incidents group by severity`;

/** countIncidentsBySeverity on either engine, awaited (PostgreSQL's /metrics refreshes it in the background). */
export async function countIncidentsBySeverityAsync(db: DbOrTx): Promise<Array<{ severity: number; declared: number; open: number }>> {
  const rows = (await prepared(db, COUNT_BY_SEVERITY).all()) as Array<{ severity: unknown; declared: unknown; open: unknown }>;
  return rows.map((r) => ({ severity: Number(r.severity), declared: Number(r.declared), open: Number(r.open) }));
}

/** The most recently declared incident, open or not. */
export async function latestIncident(db: DbOrTx): Promise<IncidentRow | undefined> {
  const raw: unknown = await prepared(db, `${incidentSelect} order by id desc limit 1`).get();
  return raw === undefined ? undefined : toIncidentRow(raw);
}

/** The severities of the incidents shown publicly and not yet resolved there. */
export async function openPublicSeverities(db: DbOrTx): Promise<number[]> {
  const { incidents } = tablesOf(db);
  return (
    await db
      .select({ severity: incidents.severity })
      .from(incidents)
      .where(and(isNotNull(incidents.publicStatus), ne(incidents.publicStatus, 'resolved')))
  ).map((r) => r.severity);
}

export async function setIncidentSeverity(tx: Tx, incidentId: number, severity: number, at: number): Promise<void> {
  const { incidents } = tablesOf(tx);
  await tx.update(incidents).set({ severity, updatedAt: at }).where(eq(incidents.id, incidentId));
}

/** Gives `role` (lead, comms …) of the incident to `user`. */
export async function setIncidentRole(tx: Tx, incidentId: number, role: Role, user: string, at: number): Promise<void> {
  const { incidents } = tablesOf(tx);
  await tx
    .update(incidents)
    .set({ [role]: user, updatedAt: at })
    .where(eq(incidents.id, incidentId));
}

export async function touchIncidentRow(tx: Tx, incidentId: number, at: number): Promise<void> {
  await prepared(tx, 'update incidents set updated_at = ? where id = ?').run(at, incidentId);
}

/** Looks up catalogue components by slug; unknown slugs are an error naming them. */
export async function componentsBySlug(db: DbOrTx, slugs: string[]): Promise<Map<string, ComponentRow>> {
  const { components } = tablesOf(db);
  const rows = slugs.length ? await db.select().from(components).where(inArray(components.slug, slugs)) : [];
  const map = new Map(rows.map((r) => [r.slug, r]));
  const missing = slugs.filter((s) => !map.has(s));
  if (missing.length) {
    const known = (await db.select({ slug: components.slug }).from(components).orderBy(asc(components.position))).map((c) => c.slug);
    throw new SitrepError(
      'NOT_FOUND',
      `unknown component${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; ${
        known.length ? `known: ${known.join(', ')}` : 'the catalogue is empty'
      } (add one with \`component add <name>\`)`,
    );
  }
  return map;
}

// The roll-up runs for every component change of every command (a publish runs it twice), so its
// statements are prepared once per connection; the component ids go in as one JSON array.
const OPEN_STATUSES = INCIDENT_STATUSES.filter((st) => st !== 'resolved')
  .map((st) => `'${st}'`)
  .join(', ');
// Driven from the open incidents (an index seek per status), never from every incident_components
// row: a roll-up must not grow with years of resolved incidents.
const ROLL_UP_SQL = {
  internal: `select ic.component_id as "componentId", ic.status as status from incidents i
    join incident_components ic on ic.incident_id = i.id
    where i.status in (${OPEN_STATUSES}) and ic.component_id in (IDS)
    union all
    select mc.component_id, m.status from maintenance_components mc join maintenances m on m.id = mc.maintenance_id
    where mc.component_id in (IDS) and m.status in ('in_progress', 'verifying')`,
  public: `select ic.component_id as "componentId", ic.public_status as status from incidents i
    join incident_components ic on ic.incident_id = i.id
    where i.public_status in (${OPEN_STATUSES}) and ic.component_id in (IDS)
      and ic.public_status is not null
    union all
    select mc.component_id, m.public_status from maintenance_components mc join maintenances m on m.id = mc.maintenance_id
    where mc.component_id in (IDS) and m.public_status in ('in_progress', 'verifying')`,
} as const;
// The ids of a JSON array parameter, in each engine's words.
const withIds = (text: string) => ({
  sqlite: text.replaceAll('IDS', 'select value from json_each(?)'),
  pg: text.replaceAll('IDS', 'select value::integer from json_array_elements_text(?::json)'),
});
const ROLL_UP = { internal: withIds(ROLL_UP_SQL.internal), public: withIds(ROLL_UP_SQL.public) } as const;
// Maintenance rows of the queries above carry the maintenance's status; these are incidents'.
const MAINTENANCE_HOLD: ReadonlySet<string> = new Set(['in_progress', 'verifying']);
const COMPONENT_STATUS_OF = {
  internal: 'select status as "before" from components where id = ?',
  public: 'select public_status as "before" from components where id = ?',
} as const;
const SET_COMPONENT_STATUS = {
  internal: 'update components set status = ?, updated_at = ? where id = ?',
  public: 'update components set public_status = ?, updated_at = ? where id = ?',
} as const;
const OWN_STATUS = 'select status, public_status as "publicStatus" from incident_components where incident_id = ? and component_id = ?';
const INSERT_HISTORY = 'insert into component_status_history (component_id, incident_id, status, rolled_up, is_public, at) values (?, ?, ?, ?, ?, ?)';

const componentStatus = (v: unknown): ComponentStatus | null => COMPONENT_STATUSES.find((c) => c === v) ?? null;

/** Recomputes rolled-up (internal or public) statuses of the given components from open incidents and maintenance under way. */
export async function recomputeComponents(tx: Tx, componentIds: number[], which: 'internal' | 'public', at: number, incidentId: number | null): Promise<void> {
  if (!componentIds.length) return;
  const ids = JSON.stringify(componentIds);
  const contributions: Array<{ componentId: number; status: ComponentStatus }> = [];
  for (const raw of await prepared(tx, ROLL_UP[which]).all(ids, ids)) {
    if (!isRecord(raw) || typeof raw.componentId !== 'number') continue;
    // A maintenance under way holds its components under_maintenance; rollUp ranks any outage above it.
    const status = MAINTENANCE_HOLD.has(String(raw.status)) ? 'under_maintenance' : componentStatus(raw.status);
    if (status) contributions.push({ componentId: raw.componentId, status });
  }
  const rolled = rollUp(contributions);
  const isPublic = tablesOf(tx).componentStatusHistory.isPublic.mapToDriverValue(which === 'public');
  for (const id of componentIds) {
    const status = rolled.get(id) ?? 'operational';
    const current: unknown = await prepared(tx, COMPONENT_STATUS_OF[which]).get(id);
    if (!isRecord(current)) continue;
    await prepared(tx, SET_COMPONENT_STATUS[which]).run(status, at, id);
    if (current.before !== status || incidentId !== null) {
      const own: unknown = incidentId === null ? undefined : await prepared(tx, OWN_STATUS).get(incidentId, id);
      const ownStatus = isRecord(own) ? componentStatus(which === 'internal' ? own.status : own.publicStatus) : null;
      await prepared(tx, INSERT_HISTORY).run(id, incidentId, ownStatus ?? status, status, isPublic, at);
    }
  }
}

/** Sets the statuses this incident gives its components (internal view) and rolls them up. */
export async function applyComponentChanges(
  tx: Tx,
  incidentId: number,
  changes: readonly ComponentStatusChange[],
  at: number,
): Promise<Array<{ slug: string; name: string; from: ComponentStatus | null; to: ComponentStatus }>> {
  const bySlug = await componentsBySlug(
    tx,
    changes.map((c) => c.slug),
  );
  const out: Array<{ slug: string; name: string; from: ComponentStatus | null; to: ComponentStatus }> = [];
  const { incidentComponents } = tablesOf(tx);
  for (const ch of changes) {
    const comp = bySlug.get(ch.slug)!;
    const where = and(eq(incidentComponents.incidentId, incidentId), eq(incidentComponents.componentId, comp.id));
    const prev = await first(tx.select().from(incidentComponents).where(where));
    if (prev) await tx.update(incidentComponents).set({ status: ch.status, updatedAt: at }).where(where);
    else await tx.insert(incidentComponents).values({ incidentId, componentId: comp.id, status: ch.status, updatedAt: at });
    out.push({ slug: comp.slug, name: comp.name, from: prev?.status ?? null, to: ch.status });
  }
  await recomputeComponents(
    tx,
    [...bySlug.values()].map((c) => c.id),
    'internal',
    at,
    incidentId,
  );
  return out;
}

export async function incidentComponentRows(db: DbOrTx, incidentId: number) {
  const { components, incidentComponents } = tablesOf(db);
  return db
    .select({
      id: components.id,
      slug: components.slug,
      name: components.name,
      group: components.groupName,
      position: components.position,
      status: incidentComponents.status,
      publicStatus: incidentComponents.publicStatus,
      current: components.status,
    })
    .from(incidentComponents)
    .innerJoin(components, eq(components.id, incidentComponents.componentId))
    .where(eq(incidentComponents.incidentId, incidentId))
    .orderBy(asc(components.position));
}

export type NewIncident = Pick<
  typeof incidents.$inferInsert,
  'title' | 'severity' | 'lead' | 'createdBy' | 'startedAt' | 'declaredAt' | 'recordedAt' | 'visibility'
>;

/** Opens an incident (status investigating); the stored row. */
export async function insertIncident(tx: Tx, values: NewIncident): Promise<IncidentRow> {
  const row = await first(
    tx
      .insert(tablesOf(tx).incidents)
      .values({ ...values, status: 'investigating', updatedAt: values.recordedAt })
      .returning(),
  );
  if (!row) throw new Error('the new incident was not returned');
  return row;
}

/**
 * Whether the incident is public or private (undefined: no such incident). The chat-thread
 * outlets ask on every event, so the statement is prepared once per connection.
 */
export async function incidentVisibility(db: DbOrTx, incidentId: number): Promise<'public' | 'private' | undefined> {
  const row: unknown = await prepared(db, 'select visibility from incidents where id = ?').get(incidentId);
  if (!isRecord(row)) return undefined;
  // Anything but 'public' is kept private: a row read wrong must not leak.
  return row.visibility === 'public' ? 'public' : 'private';
}

/** Remembers the Slack private channel Sitrep created for a private incident (its members may see it). */
export async function setPrivateChannel(db: DbOrTx, incidentId: number, channel: string): Promise<void> {
  await prepared(db, 'update incidents set private_channel = ? where id = ?').run(channel, incidentId);
}

/** Incidents for `list`: open ones oldest first, resolved or all newest first. */
export async function listIncidents(db: DbOrTx, filter: 'open' | 'resolved' | 'all'): Promise<IncidentRow[]> {
  const { incidents } = tablesOf(db);
  const q = db.select().from(incidents);
  return filter === 'open'
    ? q.where(ne(incidents.status, 'resolved')).orderBy(asc(incidents.id))
    : filter === 'resolved'
      ? q.where(eq(incidents.status, 'resolved')).orderBy(desc(incidents.id))
      : q.orderBy(desc(incidents.id));
}

/** Every incident whose impact began at or after `since` (all of them without it). */
export async function incidentsStartedSince(db: DbOrTx, since: number | undefined): Promise<IncidentRow[]> {
  const { incidents } = tablesOf(db);
  return db
    .select()
    .from(incidents)
    .where(since !== undefined ? gte(incidents.startedAt, since) : undefined);
}

export type IncidentPatch = Partial<Pick<IncidentRow, 'status' | 'identifiedAt' | 'monitoringAt' | 'resolvedAt' | 'publicStatus' | 'publishedAt'>>;

/** Changes an incident's status fields. */
export async function patchIncident(tx: Tx, incidentId: number, patch: IncidentPatch, at: number): Promise<void> {
  const { incidents } = tablesOf(tx);
  await tx
    .update(incidents)
    .set({ ...patch, updatedAt: at })
    .where(eq(incidents.id, incidentId));
}

/** Sets every component of the incident (internal view) to `status`; the component ids. */
export async function releaseIncidentComponents(tx: Tx, incidentId: number, status: ComponentStatus, at: number): Promise<number[]> {
  const { incidentComponents } = tablesOf(tx);
  await tx.update(incidentComponents).set({ status, updatedAt: at }).where(eq(incidentComponents.incidentId, incidentId));
  return incidentComponentIds(tx, incidentId);
}

/** Sets the public status this incident gives one component (adding the component to it if new). */
export async function setIncidentComponentPublicStatus(tx: Tx, incidentId: number, componentId: number, status: ComponentStatus, at: number): Promise<void> {
  const { incidentComponents } = tablesOf(tx);
  const where = and(eq(incidentComponents.incidentId, incidentId), eq(incidentComponents.componentId, componentId));
  const existing = await first(tx.select().from(incidentComponents).where(where));
  if (existing) await tx.update(incidentComponents).set({ publicStatus: status, updatedAt: at }).where(where);
  else await tx.insert(incidentComponents).values({ incidentId, componentId, status: 'operational', publicStatus: status, updatedAt: at });
}

/** The ids of the components this incident affects (or affected). */
export async function incidentComponentIds(db: DbOrTx, incidentId: number): Promise<number[]> {
  const { incidentComponents } = tablesOf(db);
  return (await db.select({ componentId: incidentComponents.componentId }).from(incidentComponents).where(eq(incidentComponents.incidentId, incidentId))).map(
    (r) => r.componentId,
  );
}
