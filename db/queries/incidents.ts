import { and, asc, desc, eq, gte, inArray, isNotNull, ne, sql } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../client.js';
import { componentStatusHistory, components, incidentComponents, incidents } from '../schema.js';
import { rollUp } from '../../src/domain/components.js';
import { INCIDENT_STATUSES, type ComponentStatus, type IncidentStatus, type Role } from '../../src/domain/enums.js';
import { SitrepError } from '../../src/domain/errors.js';
import { incidentNotFound } from '../../src/domain/visibility.js';
import type { ComponentStatusChange } from '../../src/domain/publication.js';
import { prepared } from './prepared.js';
import { maintenanceHolds } from './maintenances.js';
import { maintenanceContributions } from '../../src/domain/maintenance.js';

export type IncidentRow = typeof incidents.$inferSelect;
export type ComponentRow = typeof components.$inferSelect;

export const incRef = (id: number) => `INC-${id}`;

// Columns are named in SQL and each value is checked on the way out, so a row read back is an
// IncidentRow because it was checked, not because it was cast.
const incidentSelect =
  'select id, title, status, severity, lead, commander, comms, scribe, created_by as createdBy, started_at as startedAt, ' +
  'declared_at as declaredAt, identified_at as identifiedAt, monitoring_at as monitoringAt, resolved_at as resolvedAt, ' +
  'visibility, private_channel as privateChannel, ' +
  'recorded_at as recordedAt, public_status as publicStatus, published_at as publishedAt, updated_at as updatedAt from incidents';

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
  const raw: unknown = prepared(db, `${incidentSelect} where id = ?`).get(id);
  return raw === undefined ? undefined : toIncidentRow(raw);
}

export async function getIncident(db: DbOrTx, id: number): Promise<IncidentRow> {
  const row = await findIncident(db, id);
  if (!row) throw incidentNotFound(incRef(id));
  return row;
}

/** Open incidents, oldest first. */
export async function openIncidents(db: DbOrTx): Promise<IncidentRow[]> {
  return prepared(db, `${incidentSelect} where status != 'resolved' order by id asc`).all().map(toIncidentRow);
}

/**
 * Incidents by severity: how many were ever declared and how many are not yet resolved (the
 * sitrep_incidents_declared_total counter and sitrep_incidents_open gauge). Synchronous, as a
 * Prometheus collector is. Counts only: no id or title leaves here.
 */
export function countIncidentsBySeverity(db: DbOrTx): Array<{ severity: number; declared: number; open: number }> {
  return db
    .select({
      severity: incidents.severity,
      declared: sql<number>`count(*)`,
      open: sql<number>`coalesce(sum(${incidents.status} != 'resolved'), 0)`,
    })
    .from(incidents)
    .groupBy(incidents.severity)
    .all();
}

/** The most recently declared incident, open or not. */
export async function latestIncident(db: DbOrTx): Promise<IncidentRow | undefined> {
  const raw: unknown = prepared(db, `${incidentSelect} order by id desc limit 1`).get();
  return raw === undefined ? undefined : toIncidentRow(raw);
}

/** The severities of the incidents shown publicly and not yet resolved there. */
export async function openPublicSeverities(db: DbOrTx): Promise<number[]> {
  return db
    .select({ severity: incidents.severity })
    .from(incidents)
    .where(and(isNotNull(incidents.publicStatus), ne(incidents.publicStatus, 'resolved')))
    .all()
    .map((r) => r.severity);
}

export async function setIncidentSeverity(tx: Tx, incidentId: number, severity: number, at: number): Promise<void> {
  tx.update(incidents).set({ severity, updatedAt: at }).where(eq(incidents.id, incidentId)).run();
}

/** Gives `role` (lead, comms …) of the incident to `user`. */
export async function setIncidentRole(tx: Tx, incidentId: number, role: Role, user: string, at: number): Promise<void> {
  tx.update(incidents)
    .set({ [role]: user, updatedAt: at })
    .where(eq(incidents.id, incidentId))
    .run();
}

export async function touchIncidentRow(tx: Tx, incidentId: number, at: number): Promise<void> {
  prepared(tx, 'update incidents set updated_at = ? where id = ?').run(at, incidentId);
}

/** Looks up catalogue components by slug; unknown slugs are an error naming them. */
export async function componentsBySlug(db: DbOrTx, slugs: string[]): Promise<Map<string, ComponentRow>> {
  const rows = slugs.length ? db.select().from(components).where(inArray(components.slug, slugs)).all() : [];
  const map = new Map(rows.map((r) => [r.slug, r]));
  const missing = slugs.filter((s) => !map.has(s));
  if (missing.length) {
    const known = db
      .select({ slug: components.slug })
      .from(components)
      .orderBy(asc(components.position))
      .all()
      .map((c) => c.slug);
    throw new SitrepError(
      'NOT_FOUND',
      `unknown component${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; ${
        known.length ? `known: ${known.join(', ')}` : 'the catalogue is empty'
      } (add one with \`component add <name>\`)`,
    );
  }
  return map;
}

/** Recomputes rolled-up (internal or public) statuses of the given components from open incidents and maintenance under way. */
export async function recomputeComponents(tx: Tx, componentIds: number[], which: 'internal' | 'public', at: number, incidentId: number | null): Promise<void> {
  if (!componentIds.length) return;
  const rows =
    which === 'internal'
      ? tx
          .select({ componentId: incidentComponents.componentId, status: incidentComponents.status })
          .from(incidentComponents)
          .innerJoin(incidents, eq(incidents.id, incidentComponents.incidentId))
          .where(and(inArray(incidentComponents.componentId, componentIds), ne(incidents.status, 'resolved')))
          .all()
      : tx
          .select({ componentId: incidentComponents.componentId, status: incidentComponents.publicStatus })
          .from(incidentComponents)
          .innerJoin(incidents, eq(incidents.id, incidentComponents.incidentId))
          .where(
            and(
              inArray(incidentComponents.componentId, componentIds),
              sql`${incidents.publicStatus} IS NOT NULL AND ${incidents.publicStatus} != 'resolved'`,
              sql`${incidentComponents.publicStatus} IS NOT NULL`,
            ),
          )
          .all();
  // Maintenance under way holds its components under_maintenance; rollUp ranks any outage above it.
  const held = maintenanceContributions(maintenanceHolds(tx, componentIds, which).map((h) => ({ status: h.status, componentIds: [h.componentId] })));
  const rolled = rollUp([...rows.filter((r): r is { componentId: number; status: ComponentStatus } => r.status !== null), ...held]);
  for (const id of componentIds) {
    const status = rolled.get(id) ?? 'operational';
    const current = tx.select().from(components).where(eq(components.id, id)).get();
    if (!current) continue;
    const before = which === 'internal' ? current.status : current.publicStatus;
    if (which === 'internal') tx.update(components).set({ status, updatedAt: at }).where(eq(components.id, id)).run();
    else tx.update(components).set({ publicStatus: status, updatedAt: at }).where(eq(components.id, id)).run();
    if (before !== status || incidentId !== null) {
      const own =
        incidentId === null
          ? null
          : tx
              .select()
              .from(incidentComponents)
              .where(and(eq(incidentComponents.incidentId, incidentId), eq(incidentComponents.componentId, id)))
              .get();
      tx.insert(componentStatusHistory)
        .values({
          componentId: id,
          incidentId,
          status: (which === 'internal' ? own?.status : own?.publicStatus) ?? status,
          rolledUp: status,
          isPublic: which === 'public',
          at,
        })
        .run();
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
  for (const ch of changes) {
    const comp = bySlug.get(ch.slug)!;
    const prev = tx
      .select()
      .from(incidentComponents)
      .where(and(eq(incidentComponents.incidentId, incidentId), eq(incidentComponents.componentId, comp.id)))
      .get();
    if (prev) {
      tx.update(incidentComponents)
        .set({ status: ch.status, updatedAt: at })
        .where(and(eq(incidentComponents.incidentId, incidentId), eq(incidentComponents.componentId, comp.id)))
        .run();
    } else {
      tx.insert(incidentComponents).values({ incidentId, componentId: comp.id, status: ch.status, updatedAt: at }).run();
    }
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
    .orderBy(asc(components.position))
    .all();
}

export type NewIncident = Pick<
  typeof incidents.$inferInsert,
  'title' | 'severity' | 'lead' | 'createdBy' | 'startedAt' | 'declaredAt' | 'recordedAt' | 'visibility'
>;

/** Opens an incident (status investigating); the stored row. */
export async function insertIncident(tx: Tx, values: NewIncident): Promise<IncidentRow> {
  return tx
    .insert(incidents)
    .values({ ...values, status: 'investigating', updatedAt: values.recordedAt })
    .returning()
    .get();
}

/**
 * Whether the incident is public or private (undefined: no such incident). The chat-thread
 * outlets ask on every event, so the statement is prepared once per connection.
 */
export async function incidentVisibility(db: DbOrTx, incidentId: number): Promise<'public' | 'private' | undefined> {
  const row: unknown = prepared(db, 'select visibility from incidents where id = ?').get(incidentId);
  if (!isRecord(row)) return undefined;
  // Anything but 'public' is kept private: a row read wrong must not leak.
  return row.visibility === 'public' ? 'public' : 'private';
}

/** Remembers the Slack private channel Sitrep created for a private incident (its members may see it). */
export async function setPrivateChannel(db: DbOrTx, incidentId: number, channel: string): Promise<void> {
  prepared(db, 'update incidents set private_channel = ? where id = ?').run(channel, incidentId);
}

/** Incidents for `list`: open ones oldest first, resolved or all newest first. */
export async function listIncidents(db: DbOrTx, filter: 'open' | 'resolved' | 'all'): Promise<IncidentRow[]> {
  const q = db.select().from(incidents);
  return (
    filter === 'open'
      ? q.where(ne(incidents.status, 'resolved')).orderBy(asc(incidents.id))
      : filter === 'resolved'
        ? q.where(eq(incidents.status, 'resolved')).orderBy(desc(incidents.id))
        : q.orderBy(desc(incidents.id))
  ).all();
}

/** Every incident whose impact began at or after `since` (all of them without it). */
export async function incidentsStartedSince(db: DbOrTx, since: number | undefined): Promise<IncidentRow[]> {
  return db
    .select()
    .from(incidents)
    .where(since !== undefined ? gte(incidents.startedAt, since) : undefined)
    .all();
}

export type IncidentPatch = Partial<Pick<IncidentRow, 'status' | 'identifiedAt' | 'monitoringAt' | 'resolvedAt' | 'publicStatus' | 'publishedAt'>>;

/** Changes an incident's status fields. */
export async function patchIncident(tx: Tx, incidentId: number, patch: IncidentPatch, at: number): Promise<void> {
  tx.update(incidents)
    .set({ ...patch, updatedAt: at })
    .where(eq(incidents.id, incidentId))
    .run();
}

/** Sets every component of the incident (internal view) to `status`; the component ids. */
export async function releaseIncidentComponents(tx: Tx, incidentId: number, status: ComponentStatus, at: number): Promise<number[]> {
  tx.update(incidentComponents).set({ status, updatedAt: at }).where(eq(incidentComponents.incidentId, incidentId)).run();
  return incidentComponentIds(tx, incidentId);
}

/** Sets the public status this incident gives one component (adding the component to it if new). */
export async function setIncidentComponentPublicStatus(tx: Tx, incidentId: number, componentId: number, status: ComponentStatus, at: number): Promise<void> {
  const where = and(eq(incidentComponents.incidentId, incidentId), eq(incidentComponents.componentId, componentId));
  const existing = tx.select().from(incidentComponents).where(where).get();
  if (existing) tx.update(incidentComponents).set({ publicStatus: status, updatedAt: at }).where(where).run();
  else tx.insert(incidentComponents).values({ incidentId, componentId, status: 'operational', publicStatus: status, updatedAt: at }).run();
}

/** The ids of the components this incident affects (or affected). */
export async function incidentComponentIds(db: DbOrTx, incidentId: number): Promise<number[]> {
  return db
    .select({ componentId: incidentComponents.componentId })
    .from(incidentComponents)
    .where(eq(incidentComponents.incidentId, incidentId))
    .all()
    .map((r) => r.componentId);
}
