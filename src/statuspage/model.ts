import type { Db } from '../../db/client.js';
import {
  publicFingerprint as fingerprintOf,
  historyMaxId,
  publicComponentRows,
  publicHistoryAfter,
  publicHistorySince,
  publicIncidentHead,
  publicStatusBefore,
  publishedIncidentRows,
  publishedMaintenanceHead,
  publishedMaintenanceHeads,
  publishedMaintenanceTextsAndComponents,
  publishedUpdateDigests,
  publishedUpdatesAndPostmortems,
  publicPostmortemsOf,
  type PublicHistoryRow,
  type PublicPostmortemRow,
  type PublishedIncidentRow,
  type PublishedMaintenanceRow,
  type PublishedUpdateRow,
} from '../../db/queries/statuspage.js';
import type { Result } from '../../db/queries/prepared.js';
import { impactForComponentStatus, impactForSeverity, indicatorDescription, overallIndicator } from '../domain/components.js';
import { componentStatusUnder } from '../domain/publication.js';
import { COMPONENT_STATUSES, type ComponentStatus, type Impact, type IncidentStatus, type Severity } from '../domain/enums.js';
import { isMaintenanceOpen } from '../domain/maintenance.js';
import type { PublicMaintenance, PublicMaintenanceUpdate } from './maintenance-json.js';
import { computeUptime, uptimeWindow, type Uptime } from './uptime.js';

// The public read model: everything the built-in page, the v2 API and the feed may show, loaded
// in one go from the public columns only (published updates, public statuses, public history).
// No internal text or status (notes, internal updates, drafts, internal component and incident
// statuses) is ever selected (db/queries/statuspage.ts), which is what keeps it off the page: a
// renderer cannot leak what it never received. (Severity is read only to give an incident that
// names no component an impact.) A private incident is never selected either: the queries read
// public incidents only, whatever else the row says (src/domain/visibility.ts). Scheduled
// maintenance is public from its announcement on, with its public status and published texts only:
// a draft, or a maintenance whose announcement is still waiting for approval, is never loaded.

export const UPTIME_DAYS = 90;
export const HISTORY_DAYS = 14;
export const API_INCIDENT_LIMIT = 50;
/** Resolved incidents kept in every snapshot besides open and recent ones (the API lists 50). */
export const HOT_RECENT = 100;

export interface PublicComponent {
  id: number;
  /** The public id: the slug, stable across renames of the display name. */
  code: string;
  name: string;
  group: string | null;
  position: number;
  description: string | null;
  status: ComponentStatus;
  createdAt: number;
  /** When its public status last changed (never an internal change). */
  updatedAt: number;
  uptime: Uptime;
}

export interface AffectedComponent {
  code: string;
  name: string;
  oldStatus: ComponentStatus;
  newStatus: ComponentStatus;
}

export interface PublicUpdate {
  id: number;
  ref: string; // D-n
  status: IncidentStatus;
  /** "Investigating", or "Update" when the status did not change from the previous update (as the seed). */
  label: string;
  body: string;
  displayAt: number;
  publishedAt: number;
  affected: AffectedComponent[];
}

export interface PublicIncident {
  id: number;
  ref: string; // INC-n
  title: string;
  status: IncidentStatus;
  impact: Impact;
  createdAt: number;
  /** "Dec 07, 2021" in the page's zone: the day it is listed under in past incidents. */
  createdDay: string;
  updatedAt: number;
  monitoringAt: number | null;
  resolvedAt: number | null;
  /** Newest first. */
  updates: PublicUpdate[];
  /** Components this incident's published updates named, in catalogue order. */
  componentIds: number[];
  postmortem: { body: string; publishedAt: number } | null;
}

export interface PublicState {
  builtAt: number;
  /** publicFingerprint() of the data this state was built from. */
  fingerprint: string;
  /** The snapshot is stale after this instant (the next midnight in the zone: bars and history move). */
  validUntil: number;
  orgName: string;
  zone: string;
  publicUrl: string;
  pageId: string;
  updatedAt: number;
  components: PublicComponent[];
  /** Newest first (by first publication): open, recent, and active within the uptime window. */
  incidents: PublicIncident[];
  /** Older public incidents: their reports load on request (loadArchivedIncident). */
  archivedIncidentIds: ReadonlySet<number>;
  /**
   * Announced maintenances, newest announcement first: every one still scheduled or under way, and
   * the HOT_RECENT most recent others.
   */
  maintenances: PublicMaintenance[];
  /** Older finished maintenances: their pages load on request (loadArchivedMaintenance). */
  archivedMaintenanceIds: ReadonlySet<number>;
  indicator: Impact;
  description: string;
  /** Labels ("Dec 07, 2021") of the last HISTORY_DAYS days, newest first. */
  historyDays: string[];
  /** What the next rebuild may reuse of this one (see loadPublicState). */
  readonly reuse?: Reuse;
}

/**
 * An assembled incident depends on its head row, its published updates, its public postmortem,
 * the catalogue (names, slugs, positions) and the day labels. When none of them changed since the
 * last build, the next one keeps the assembled incident instead of loading and assembling it again:
 * a publication during a refresh storm reloads the one incident it touched, not the hundred
 * recent ones every snapshot holds.
 */
interface Reuse {
  /** The catalogue and the day labels the incidents were assembled against. */
  context: string;
  byId: ReadonlyMap<number, { key: string; incident: PublicIncident | null }>;
  /** The window's public history as loaded, and the largest history id seen (public or not). */
  history: { maxId: number; rows: PublicHistoryRow[]; before: PublicHistoryRow[] };
}

export interface LoadOptions {
  now: number;
  zone: string;
  orgName: string;
  publicUrl: string;
}

export const statusTitle = (s: string) => s.charAt(0).toUpperCase() + s.slice(1).replace(/_/g, ' ');

/** A cheap digest of everything the public state is built from (db/queries/statuspage.ts): at once on SQLite, a promise on PostgreSQL. */
export function publicFingerprint(db: Db): Result<string> {
  return fingerprintOf(db);
}

// One builder for both engines. The queries (db/queries/statuspage.ts) answer at once on SQLite
// and with a promise on PostgreSQL; the builders below are generators that hand each answer to
// `yield* ask(…)`, and a driver runs them: runSync on SQLite (no promise, no tick: the status page
// builds its snapshot synchronously on the store's read-only connection, so a page view never
// waits for a writer), runAsync on PostgreSQL (each query awaited in turn).
type Build<T> = Generator<unknown, T, unknown>;

function* ask<T>(value: Result<T>): Build<T> {
  return (yield value) as T;
}

function runSync<T>(build: Build<T>): T {
  let step = build.next();
  while (!step.done) {
    if (step.value instanceof Promise) throw new Error('the status page was built synchronously on a database that answers asynchronously (PostgreSQL)');
    step = build.next(step.value);
  }
  return step.value;
}

async function runAsync<T>(build: Build<T>): Promise<T> {
  let step = build.next();
  while (!step.done) step = build.next(await step.value);
  return step.value;
}

/** The public state as of now, synchronously (SQLite): see runSync. */
export function loadPublicState(db: Db, opts: LoadOptions, previous?: PublicState, fingerprint?: string): PublicState {
  return runSync(buildPublicState(db, opts, previous, fingerprint));
}

/** The public state as of now, on a database that answers asynchronously (PostgreSQL); the same state loadPublicState builds. */
export function loadPublicStateAsync(db: Db, opts: LoadOptions, previous?: PublicState, fingerprint?: string): Promise<PublicState> {
  return runAsync(buildPublicState(db, opts, previous, fingerprint));
}

function* buildPublicState(db: Db, opts: LoadOptions, previous?: PublicState, fingerprint?: string): Build<PublicState> {
  // Taken before anything is loaded: a change committed while loading makes the next check differ.
  const digest = fingerprint ?? (yield* ask(publicFingerprint(db)));
  const { now, zone } = opts;
  const win = uptimeWindow(now, zone, UPTIME_DAYS);
  const windowStart = win.dayStarts[0] ?? now;

  const compRows = yield* ask(publicComponentRows(db));
  const bySlug = new Map(compRows.map((c) => [c.slug, c]));
  const context = `${zone}\u0000${windowStart}\u0000${compRows.map((c) => `${c.id}:${c.slug}:${c.position}:${c.name}`).join('\u0000')}`;
  const kept = previous?.reuse?.context === context ? previous.reuse : undefined;

  // The window's public history, and the status in force when it opens (each component's last
  // public change before it). History is append-only: a rebuild in the same window adds what was
  // recorded since, unless a change was recorded as happening before the window opened.
  let history: PublicHistoryRow[];
  let beforeRows: PublicHistoryRow[];
  let historyMax: number;
  const fresh = kept ? yield* ask(publicHistoryAfter(db, kept.history.maxId)) : undefined;
  if (kept && fresh && !fresh.some((r) => r.at < windowStart)) {
    beforeRows = kept.history.before;
    history = fresh.length ? [...kept.history.rows, ...fresh].sort((a, b) => a.at - b.at || a.id - b.id) : kept.history.rows;
    historyMax = fresh.reduce((m, r) => Math.max(m, r.id), kept.history.maxId);
  } else {
    // The statements do not share one read snapshot: a change recorded between them is counted
    // by the largest id of what was actually loaded, so the next rebuild neither misses nor repeats it.
    const maxBefore = yield* ask(historyMaxId(db));
    history = yield* ask(publicHistorySince(db, windowStart));
    beforeRows = yield* ask(publicStatusBefore(db, windowStart));
    historyMax = [...history, ...beforeRows].reduce((m, r) => Math.max(m, r.id), maxBefore);
  }
  const before = new Map<number, ComponentStatus>();
  for (const r of beforeRows) before.set(r.componentId, r.status);
  const lastPublicChange = new Map<number, number>();
  for (const r of [...beforeRows, ...history]) lastPublicChange.set(r.componentId, Math.max(lastPublicChange.get(r.componentId) ?? 0, r.at));

  const historyByComponent = new Map<number, Array<{ at: number; status: ComponentStatus }>>();
  for (const h of history) {
    const list = historyByComponent.get(h.componentId) ?? [];
    list.push(h);
    historyByComponent.set(h.componentId, list);
  }
  const publicComponents: PublicComponent[] = compRows.map((c) => ({
    id: c.id,
    code: c.slug,
    name: c.name,
    group: c.groupName,
    position: c.position,
    description: c.description,
    status: c.publicStatus,
    createdAt: c.createdAt,
    updatedAt: lastPublicChange.get(c.id) ?? c.createdAt,
    uptime: computeUptime(win, before.get(c.id) ?? 'operational', historyByComponent.get(c.id) ?? []),
  }));
  const positionOf = new Map(compRows.map((c) => [c.id, c.position]));

  // Only what the page, the API and the feed list is loaded on every rebuild: open incidents,
  // those active within the uptime window, and the most recent ones. Older reports are loaded
  // when someone asks for one (once per snapshot), so a rebuild does not grow with years of history.
  const incRows = yield* ask(publishedIncidentRows(db));
  const hot: typeof incRows = [];
  const coldIds = new Set<number>();
  incRows.forEach((r, i) => {
    if (i < HOT_RECENT || r.publicStatus !== 'resolved' || r.updatedAt >= windowStart) hot.push(r);
    else coldIds.add(r.id);
  });
  // Incidents older than the window are never listed by day: skip luxon for them.
  const dayLabelOf = (ms: number): string => {
    for (let d = win.dayStarts.length - 1; d >= 0; d--) if (ms >= win.dayStarts[d]!) return win.labels[d]!;
    return '';
  };
  const hotIds = hot.map((r) => r.id);
  const digests = yield* ask(publishedUpdateDigests(db, hotIds));
  const pmRows = yield* ask(publicPostmortemsOf(db, hotIds));
  const pmOf = new Map(pmRows.map((p) => [p.incidentId, p]));
  const reusable = kept?.byId;
  const keyOf = (r: PublishedIncidentRow): string => {
    const pm = pmOf.get(r.id);
    return `${r.title}\u0000${r.severity}\u0000${r.publicStatus}\u0000${digests.get(r.id) ?? ''}\u0000${pm ? `${pm.publishedAt}\u0000${pm.body}` : ''}`;
  };
  const byId = new Map<number, { key: string; incident: PublicIncident | null }>();
  const stale: PublishedIncidentRow[] = [];
  for (const r of hot) {
    const key = keyOf(r);
    const kept = reusable?.get(r.id);
    if (kept && kept.key === key) byId.set(r.id, kept);
    else {
      byId.set(r.id, { key, incident: null });
      stale.push(r);
    }
  }
  if (stale.length) {
    const { updates, postmortems } = yield* ask(
      publishedUpdatesAndPostmortems(
        db,
        stale.map((r) => r.id),
      ),
    );
    for (const inc of assembleIncidents(stale, updates, postmortems, { bySlug, positionOf, dayLabelOf })) {
      const entry = byId.get(inc.id);
      if (entry) entry.incident = inc;
    }
  }
  const publicIncidents: PublicIncident[] = [];
  for (const r of hot) {
    const inc = byId.get(r.id)?.incident;
    if (inc) publicIncidents.push(inc);
  }
  publicIncidents.sort((a, b) => b.createdAt - a.createdAt || b.id - a.id);

  // Maintenances the same way: open ones and the most recent in every snapshot, older ones on request.
  const mRows = yield* ask(publishedMaintenanceHeads(db));
  const hotMaintenances: PublishedMaintenanceRow[] = [];
  const coldMaintenanceIds = new Set<number>();
  mRows.forEach((r, i) => {
    if (i < HOT_RECENT || r.publicStatus === null || isMaintenanceOpen(r.publicStatus)) hotMaintenances.push(r);
    else coldMaintenanceIds.add(r.id);
  });
  const publicMaintenances = yield* assembleMaintenances(db, hotMaintenances, positionOf);

  const open = publicIncidents.filter((i) => i.status !== 'resolved');
  const indicator = overallIndicator(
    publicComponents.map((c) => c.status),
    open.map((i) => i.impact),
  );
  const updatedAt = Math.max(
    0,
    ...publicComponents.map((c) => c.updatedAt),
    ...publicIncidents.map((i) => i.updatedAt),
    ...publicMaintenances.map((m) => m.updates[0]?.displayAt ?? 0),
  );
  const historyDays = win.labels.slice(-HISTORY_DAYS).reverse();
  return {
    builtAt: now,
    fingerprint: digest,
    validUntil: win.tomorrow,
    orgName: opts.orgName,
    zone,
    publicUrl: opts.publicUrl,
    pageId: pageIdFor(opts.orgName),
    updatedAt: updatedAt || now,
    components: publicComponents,
    incidents: publicIncidents,
    archivedIncidentIds: coldIds,
    maintenances: publicMaintenances,
    archivedMaintenanceIds: coldMaintenanceIds,
    indicator,
    description: indicatorDescription(indicator),
    historyDays,
    reuse: { context, byId, history: { maxId: historyMax, rows: history, before: beforeRows } },
  };
}

type IncidentRow = Pick<PublishedIncidentRow, 'id' | 'title' | 'severity' | 'publicStatus'>;
type UpdateRow = PublishedUpdateRow;
type PostmortemRow = PublicPostmortemRow;
interface AssembleContext {
  bySlug: ReadonlyMap<string, { id: number; slug: string; name: string }>;
  positionOf: ReadonlyMap<number, number>;
  dayLabelOf: (ms: number) => string;
}

/** Public incidents from their published updates (oldest first in `updRows`), newest first. */
function assembleIncidents(incRows: IncidentRow[], updRows: UpdateRow[], pmRows: PostmortemRow[], ctx: AssembleContext): PublicIncident[] {
  const { bySlug, positionOf, dayLabelOf } = ctx;
  const pmByIncident = new Map<number, { body: string; publishedAt: number }>();
  for (const p of pmRows) pmByIncident.set(p.incidentId, { body: p.body ?? '', publishedAt: p.publishedAt ?? 0 });
  const updatesByIncident = new Map<number, UpdateRow[]>();
  for (const u of updRows) {
    const list = updatesByIncident.get(u.incidentId) ?? [];
    list.push(u);
    updatesByIncident.set(u.incidentId, list);
  }
  const publicIncidents: PublicIncident[] = [];
  for (const inc of incRows) {
    const rows = updatesByIncident.get(inc.id) ?? [];
    const regular = rows.filter((r) => !r.isPostmortem);
    if (!regular.length || !inc.publicStatus) continue;
    // Oldest first to work out labels and old/new component statuses, then reversed.
    const seen = new Map<string, ComponentStatus>();
    const affectedIds = new Set<number>();
    let prevStatus: IncidentStatus | null = null;
    let worst: Impact = 'none';
    let monitoringAt: number | null = null;
    let resolvedAt: number | null = null;
    const updates: PublicUpdate[] = [];
    for (const r of regular) {
      const affected: AffectedComponent[] = [];
      for (const ch of r.componentChanges) {
        const comp = bySlug.get(ch.slug);
        if (!comp) continue;
        // Stored drafts already follow the publication rule; asking it again keeps the page from drifting.
        const newStatus = componentStatusUnder(r.status, toComponentStatus(ch.status));
        affected.push({ code: comp.slug, name: comp.name, oldStatus: seen.get(comp.slug) ?? 'operational', newStatus });
        seen.set(comp.slug, newStatus);
        affectedIds.add(comp.id);
        const imp = impactForComponentStatus(newStatus);
        if (IMPACT_ORDER.indexOf(imp) > IMPACT_ORDER.indexOf(worst)) worst = imp;
      }
      if (r.status === 'monitoring' && monitoringAt === null) monitoringAt = r.displayAt;
      if (r.status === 'resolved') resolvedAt = r.displayAt;
      updates.push({
        id: r.id,
        ref: `D-${r.id}`,
        status: r.status,
        label: prevStatus === r.status ? 'Update' : statusTitle(r.status),
        body: r.body,
        displayAt: r.displayAt,
        publishedAt: r.publishedAt ?? r.displayAt,
        affected,
      });
      prevStatus = r.status;
    }
    updates.reverse();
    const pmUpdate = rows.filter((r) => r.isPostmortem).at(-1);
    const postmortem = pmByIncident.get(inc.id) ?? (pmUpdate ? { body: pmUpdate.body, publishedAt: pmUpdate.displayAt } : null);
    const impact = affectedIds.size ? worst : impactForSeverity(toSeverity(inc.severity));
    let updatedAt = postmortem?.publishedAt ?? 0;
    for (const r of regular) if (r.displayAt > updatedAt) updatedAt = r.displayAt;
    publicIncidents.push({
      id: inc.id,
      ref: `INC-${inc.id}`,
      title: inc.title,
      status: inc.publicStatus,
      impact,
      createdAt: regular[0]!.displayAt,
      createdDay: dayLabelOf(regular[0]!.displayAt),
      updatedAt,
      monitoringAt,
      resolvedAt: inc.publicStatus === 'resolved' ? resolvedAt : null,
      updates,
      componentIds: [...affectedIds].sort((a, b) => (positionOf.get(a) ?? 0) - (positionOf.get(b) ?? 0)),
      postmortem,
    });
  }
  return publicIncidents;
}

/** The report of an incident too old to be in every snapshot (one query set, cached by the caller). */
export function loadArchivedIncident(db: Db, state: PublicState, id: number): PublicIncident | null {
  return runSync(buildArchivedIncident(db, state, id));
}

/** loadArchivedIncident on PostgreSQL. */
export function loadArchivedIncidentAsync(db: Db, state: PublicState, id: number): Promise<PublicIncident | null> {
  return runAsync(buildArchivedIncident(db, state, id));
}

function* buildArchivedIncident(db: Db, state: PublicState, id: number): Build<PublicIncident | null> {
  if (!state.archivedIncidentIds.has(id)) return null;
  const inc = yield* ask(publicIncidentHead(db, id));
  if (!inc) return null;
  const { updates, postmortems } = yield* ask(publishedUpdatesAndPostmortems(db, [id]));
  const bySlug = new Map(state.components.map((c) => [c.code, { id: c.id, slug: c.code, name: c.name }]));
  const positionOf = new Map(state.components.map((c) => [c.id, c.position]));
  return assembleIncidents([inc], updates, postmortems, { bySlug, positionOf, dayLabelOf: () => '' })[0] ?? null;
}

/**
 * Public maintenances from their heads, with their published texts (newest first) and components
 * (catalogue order). One with no published text is left out: nothing of it was approved.
 */
function* assembleMaintenances(db: Db, heads: readonly PublishedMaintenanceRow[], positionOf: ReadonlyMap<number, number>): Build<PublicMaintenance[]> {
  if (!heads.length) return [];
  const { texts, components } = yield* ask(
    publishedMaintenanceTextsAndComponents(
      db,
      heads.map((m) => m.id),
    ),
  );
  const textsOf = new Map<number, PublicMaintenanceUpdate[]>();
  for (const t of texts) {
    const list = textsOf.get(t.maintenanceId) ?? [];
    list.push({ id: t.id, ref: `D-${t.id}`, status: t.status, body: t.body, displayAt: t.displayAt, publishedAt: t.publishedAt ?? t.displayAt });
    textsOf.set(t.maintenanceId, list);
  }
  const componentsOf = new Map<number, number[]>();
  for (const c of components) componentsOf.set(c.maintenanceId, [...(componentsOf.get(c.maintenanceId) ?? []), c.componentId]);
  const out: PublicMaintenance[] = [];
  for (const m of heads) {
    const updates = textsOf.get(m.id) ?? [];
    if (!updates.length || m.publicStatus === null) continue;
    out.push({
      id: m.id,
      ref: `M-${m.id}`,
      title: m.title,
      status: m.publicStatus,
      scheduledFor: m.startsAt,
      scheduledUntil: m.endsAt,
      componentIds: (componentsOf.get(m.id) ?? [])
        .filter((id) => positionOf.has(id))
        .sort((a, b) => (positionOf.get(a) ?? 0) - (positionOf.get(b) ?? 0) || a - b),
      updates: updates.reverse(),
    });
  }
  return out;
}

/** The page of a maintenance too old to be in every snapshot (one query set, cached by the caller). */
export function loadArchivedMaintenance(db: Db, state: PublicState, id: number): PublicMaintenance | null {
  return runSync(buildArchivedMaintenance(db, state, id));
}

/** loadArchivedMaintenance on PostgreSQL. */
export function loadArchivedMaintenanceAsync(db: Db, state: PublicState, id: number): Promise<PublicMaintenance | null> {
  return runAsync(buildArchivedMaintenance(db, state, id));
}

function* buildArchivedMaintenance(db: Db, state: PublicState, id: number): Build<PublicMaintenance | null> {
  if (!state.archivedMaintenanceIds.has(id)) return null;
  const head = yield* ask(publishedMaintenanceHead(db, id));
  if (!head) return null;
  const positionOf = new Map(state.components.map((c) => [c.id, c.position]));
  return (yield* assembleMaintenances(db, [head], positionOf))[0] ?? null;
}

/** One published text of a maintenance, with the maintenance it belongs to: an entry of a feed. */
export interface MaintenanceNotice {
  maintenance: PublicMaintenance;
  update: PublicMaintenanceUpdate;
  /** The maintenance's page. */
  link: string;
}

/**
 * Every published maintenance text in the snapshot (announcements, the start, updates, the
 * completion or cancellation notice), newest first: what a feed lists besides incident updates.
 */
export function publicMaintenanceNotices(s: PublicState): MaintenanceNotice[] {
  const out: MaintenanceNotice[] = [];
  for (const m of s.maintenances) {
    const link = `${s.publicUrl}/maintenances/${m.ref}`;
    for (const update of m.updates) out.push({ maintenance: m, update, link });
  }
  return out.sort((a, b) => b.update.displayAt - a.update.displayAt || b.update.id - a.update.id);
}

const IMPACT_ORDER: readonly Impact[] = ['none', 'minor', 'major', 'critical'];

function pageIdFor(orgName: string): string {
  const s = orgName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return s || 'sitrep';
}

function toComponentStatus(s: string): ComponentStatus {
  return COMPONENT_STATUSES.find((x) => x === s) ?? 'operational';
}

function toSeverity(n: number): Severity {
  return n <= 1 ? 1 : n === 2 ? 2 : n === 3 ? 3 : 4;
}
