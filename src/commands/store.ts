import type Database from 'better-sqlite3';
import { and, asc, eq, getTableColumns, inArray, ne, sql } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../../db/client.js';
import {
  approvers,
  componentStatusHistory,
  components,
  customerUpdates,
  incidentComponents,
  incidents,
  settings,
  timelineEvents,
} from '../../db/schema.js';
import type { ComponentStatus, EventKind } from '../domain/enums.js';
import { SitrepError } from '../domain/errors.js';
import { rollUp } from '../domain/components.js';
import type { CommandContext, TimelineRecord } from './context.js';
import type { ComponentChange } from './grammar.js';

export type IncidentRow = typeof incidents.$inferSelect;
export type ComponentRow = typeof components.$inferSelect;

export const incRef = (id: number) => `INC-${id}`;

// The hottest statements (every command on an incident runs them) are prepared once per connection
// instead of being built and prepared by drizzle on every call. They run on the connection the
// drizzle handle (database or transaction) uses, so they take part in the caller's transaction, and
// rows are decoded by the schema's own columns, so callers get exactly what drizzle would return.

type Client = Database.Database;
const statements = new WeakMap<Client, Map<string, Database.Statement>>();

function clientOf(db: DbOrTx): Client {
  return (db as unknown as { session: { client: Client } }).session.client;
}

function prepared(db: DbOrTx, text: string): Database.Statement {
  const client = clientOf(db);
  let cache = statements.get(client);
  if (!cache) statements.set(client, (cache = new Map()));
  let stmt = cache.get(text);
  if (!stmt) cache.set(text, (stmt = client.prepare(text)));
  return stmt;
}

const incidentColumns = Object.entries(getTableColumns(incidents));
const incidentSelect = `select ${incidentColumns.map(([, c]) => `"${c.name}"`).join(', ')} from incidents`;

function incidentRow(raw: unknown[]): IncidentRow {
  const row: Record<string, unknown> = {};
  incidentColumns.forEach(([key, col], i) => {
    const v = raw[i];
    row[key] = v === null || v === undefined ? null : col.mapFromDriverValue(v);
  });
  return row as IncidentRow;
}

function incidentById(db: DbOrTx, id: number): IncidentRow | undefined {
  const raw = prepared(db, `${incidentSelect} where "id" = ?`).raw().get(id) as unknown[] | undefined;
  return raw ? incidentRow(raw) : undefined;
}

export function getIncident(db: DbOrTx, id: number): IncidentRow {
  const row = incidentById(db, id);
  if (!row) throw new SitrepError('NOT_FOUND', `there is no ${incRef(id)}; \`list all\` shows every incident`);
  return row;
}

/**
 * Which incident a command is about: the one named, else the thread's, else the only open one.
 */
export function resolveIncident(
  ctx: CommandContext,
  db: DbOrTx,
  explicit: number | undefined,
  verb: string,
  opts: { latestIfNoneOpen?: boolean } = {},
): IncidentRow {
  if (explicit !== undefined) return getIncident(db, explicit);
  if (ctx.scope.incidentId !== undefined) return getIncident(db, ctx.scope.incidentId);
  const open = (prepared(db, `${incidentSelect} where "status" != 'resolved' order by "id" asc`).raw().all() as unknown[][]).map(incidentRow);
  if (open.length === 1) return open[0]!;
  if (open.length === 0) {
    // Read-only views of "the incident" right after it was resolved mean the latest one.
    const latestRaw = opts.latestIfNoneOpen ? (prepared(db, `${incidentSelect} order by "id" desc limit 1`).raw().get() as unknown[] | undefined) : undefined;
    const latest = latestRaw ? incidentRow(latestRaw) : undefined;
    if (latest) return latest;
    throw new SitrepError('INVALID', `no incident is open; name one (\`${verb} INC-n …\`) or \`declare\` a new one`);
  }
  throw new SitrepError(
    'INVALID',
    `which incident? ${open.length} are open (${open.map((i) => incRef(i.id)).join(', ')}); write \`${verb} ${incRef(open[0]!.id)} …\``,
  );
}

export function isAdmin(ctx: CommandContext): boolean {
  return ctx.policy.admins.length === 0 || ctx.policy.admins.includes(ctx.actor);
}

export function requireAdmin(ctx: CommandContext, what: string): void {
  if (!isAdmin(ctx)) {
    throw new SitrepError('FORBIDDEN', `only admins (SITREP_ADMINS) may ${what}`);
  }
}

export function listApprovers(db: DbOrTx): string[] {
  return db.select().from(approvers).all().map((a) => a.userRef);
}

export function getSetting(db: DbOrTx, key: string): string | undefined {
  return db.select().from(settings).where(eq(settings.key, key)).get()?.value;
}

export function setSetting(tx: Tx, key: string, value: string, by: string, at: number): void {
  tx.insert(settings)
    .values({ key, value, updatedBy: by, updatedAt: at })
    .onConflictDoUpdate({ target: settings.key, set: { value, updatedBy: by, updatedAt: at } })
    .run();
}

/** Looks up catalogue components by slug; unknown slugs are an error naming them. */
export function componentsBySlug(db: DbOrTx, slugs: string[]): Map<string, ComponentRow> {
  const rows = slugs.length ? db.select().from(components).where(inArray(components.slug, slugs)).all() : [];
  const map = new Map(rows.map((r) => [r.slug, r]));
  const missing = slugs.filter((s) => !map.has(s));
  if (missing.length) {
    const known = db.select({ slug: components.slug }).from(components).orderBy(asc(components.position)).all().map((c) => c.slug);
    throw new SitrepError(
      'NOT_FOUND',
      `unknown component${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; ${
        known.length ? `known: ${known.join(', ')}` : 'the catalogue is empty'
      } (add one with \`component add <name>\`)`,
    );
  }
  return map;
}

/** Appends a timeline event and lets every outlet react to it, in the caller's transaction. */
export function recordEvent(
  tx: Tx,
  ctx: CommandContext,
  e: { incidentId: number; kind: EventKind; text: string; occurredAt?: number; payload?: Record<string, unknown>; actor?: string },
): TimelineRecord {
  const now = ctx.now();
  const occurredAt = e.occurredAt ?? now;
  const actor = e.actor ?? ctx.actor;
  // Stored as JSON and handed on as it reads back, as drizzle's insert … returning would.
  const payload = timelineEvents.payload.mapToDriverValue(e.payload ?? {});
  const info = prepared(tx, 'insert into timeline_events (incident_id, occurred_at, recorded_at, actor, kind, text, payload) values (?, ?, ?, ?, ?, ?, ?)').run(
    e.incidentId,
    occurredAt,
    now,
    actor,
    e.kind,
    e.text,
    payload,
  );
  const rec: TimelineRecord = {
    id: Number(info.lastInsertRowid),
    incidentId: e.incidentId,
    occurredAt,
    recordedAt: now,
    actor,
    kind: e.kind,
    text: e.text,
    payload: timelineEvents.payload.mapFromDriverValue(payload) as Record<string, unknown>,
  };
  for (const o of ctx.outlets) o.onEvent?.(tx, rec, ctx);
  return rec;
}

export function touchIncident(tx: Tx, ctx: CommandContext, incidentId: number): void {
  prepared(tx, 'update incidents set updated_at = ? where id = ?').run(ctx.now(), incidentId);
  for (const o of ctx.outlets) o.onIncidentChanged?.(tx, incidentId, ctx);
}

/** Recomputes rolled-up (internal or public) statuses of the given components from open incidents. */
export function recomputeComponents(
  tx: Tx,
  componentIds: number[],
  which: 'internal' | 'public',
  at: number,
  incidentId: number | null,
): void {
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
  const rolled = rollUp(rows.filter((r): r is { componentId: number; status: ComponentStatus } => r.status !== null));
  for (const id of componentIds) {
    const status = rolled.get(id) ?? 'operational';
    const current = tx.select().from(components).where(eq(components.id, id)).get();
    if (!current) continue;
    const before = which === 'internal' ? current.status : current.publicStatus;
    if (which === 'internal') tx.update(components).set({ status, updatedAt: at }).where(eq(components.id, id)).run();
    else tx.update(components).set({ publicStatus: status, updatedAt: at }).where(eq(components.id, id)).run();
    if (before !== status || incidentId !== null) {
      const own = incidentId === null ? null : tx.select().from(incidentComponents)
        .where(and(eq(incidentComponents.incidentId, incidentId), eq(incidentComponents.componentId, id))).get();
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
export function applyComponentChanges(tx: Tx, incidentId: number, changes: ComponentChange[], at: number): Array<{ slug: string; name: string; from: ComponentStatus | null; to: ComponentStatus }> {
  const bySlug = componentsBySlug(tx, changes.map((c) => c.slug));
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
  recomputeComponents(tx, [...bySlug.values()].map((c) => c.id), 'internal', at, incidentId);
  return out;
}

export function incidentComponentRows(db: DbOrTx, incidentId: number) {
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

export function getDraft(db: DbOrTx, id: number) {
  const row = db.select().from(customerUpdates).where(eq(customerUpdates.id, id)).get();
  if (!row) throw new SitrepError('NOT_FOUND', `there is no D-${id}; drafts are listed in \`show INC-n\``);
  return row;
}

export function describeChanges(changes: Array<{ name: string; to: ComponentStatus }>): string {
  return changes.map((c) => `${c.name} → ${c.to.replace(/_/g, ' ')}`).join(', ');
}
