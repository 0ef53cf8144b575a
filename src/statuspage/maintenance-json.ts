import type { ComponentStatus, MaintenanceStatus } from '../domain/enums.js';
import { componentStatusDuring, isActiveMaintenance, isUpcomingMaintenance, statuspageMaintenanceStatus } from '../domain/maintenance.js';
import { apiTime, componentJson, pageJson } from './api-v2.js';
import type { PublicState } from './model.js';
import { API_INCIDENT_LIMIT } from './model.js';

// Scheduled maintenance on Statuspage's public API v2: scheduled-maintenances.json, its upcoming
// and active lists, and summary.json's scheduled_maintenances, shaped field for field like
// shared/reference/statuspage-v2/. A maintenance is an incident there, with `impact: "maintenance"`
// and its window in scheduled_for / scheduled_until. Statuspage has no cancelled: a cancelled
// maintenance leaves upcoming and active and is listed as completed, its cancellation notice last.
// Like incidents, a maintenance is public from its first published text; one with none is not here.

/** One published customer-facing text of a maintenance (its announcement, a notice, an update). */
export interface PublicMaintenanceUpdate {
  id: number;
  ref: string; // D-n
  /** The status it announced. */
  status: MaintenanceStatus;
  body: string;
  displayAt: number;
  publishedAt: number;
}

/** A maintenance as the public may see it: its public status and published texts only. */
export interface PublicMaintenance {
  id: number;
  ref: string; // M-n
  title: string;
  /** What its latest published text said. */
  status: MaintenanceStatus;
  scheduledFor: number;
  scheduledUntil: number;
  /** The components it puts under maintenance (ids of PublicState.components). */
  componentIds: number[];
  /** Newest first. */
  updates: PublicMaintenanceUpdate[];
}

export type MaintenanceApiPath = 'scheduled-maintenances.json' | 'scheduled-maintenances/upcoming.json' | 'scheduled-maintenances/active.json';

type Affected = { code: string; name: string; old_status: ComponentStatus; new_status: ComponentStatus };

/** The maintenance's components in catalogue order, as PublicState has them. */
function componentsOf(s: PublicState, m: PublicMaintenance) {
  const ids = new Set(m.componentIds);
  return s.components.filter((c) => ids.has(c.id));
}

export function maintenanceJson(s: PublicState, m: PublicMaintenance) {
  const comps = componentsOf(s, m);
  // Oldest first to work out each text's old and new component statuses, then newest first.
  const oldestFirst = [...m.updates].sort((a, b) => a.displayAt - b.displayAt || a.id - b.id);
  let before: ComponentStatus = 'operational';
  const affectedBy = new Map<number, Affected[]>();
  for (const u of oldestFirst) {
    const now = componentStatusDuring(u.status);
    affectedBy.set(
      u.id,
      comps.map((c) => ({ code: c.code, name: c.name, old_status: before, new_status: now })),
    );
    before = now;
  }
  const first = oldestFirst[0];
  const last = oldestFirst.at(-1);
  const verifying = oldestFirst.find((u) => u.status === 'verifying');
  const ended = m.status === 'completed' || m.status === 'cancelled' ? last : undefined;
  return {
    id: m.ref,
    name: m.title,
    status: statuspageMaintenanceStatus(m.status),
    created_at: apiTime(first?.displayAt ?? m.scheduledFor, s.zone),
    updated_at: apiTime(last?.displayAt ?? m.scheduledFor, s.zone),
    monitoring_at: verifying ? apiTime(verifying.displayAt, s.zone) : null,
    resolved_at: ended ? apiTime(ended.displayAt, s.zone) : null,
    impact: 'maintenance' as const,
    shortlink: `${s.publicUrl}/maintenances/${m.ref}`,
    started_at: apiTime(first?.displayAt ?? m.scheduledFor, s.zone),
    page_id: s.pageId,
    incident_updates: [...oldestFirst].reverse().map((u) => ({
      id: u.ref,
      status: statuspageMaintenanceStatus(u.status),
      body: u.body,
      incident_id: m.ref,
      created_at: apiTime(u.publishedAt, s.zone),
      updated_at: apiTime(u.publishedAt, s.zone),
      display_at: apiTime(u.displayAt, s.zone),
      affected_components: affectedBy.get(u.id) ?? [],
      deliver_notifications: true,
      custom_tweet: null,
      tweet_id: null,
    })),
    components: comps.map((c) => componentJson(s, c)),
    scheduled_for: apiTime(m.scheduledFor, s.zone),
    scheduled_until: apiTime(m.scheduledUntil, s.zone),
  };
}

const isPublic = (m: PublicMaintenance) => m.updates.length > 0;
const soonestFirst = (a: PublicMaintenance, b: PublicMaintenance) => a.scheduledFor - b.scheduledFor || a.id - b.id;
const latestFirst = (a: PublicMaintenance, b: PublicMaintenance) => b.scheduledFor - a.scheduledFor || b.id - a.id;

/** The maintenances one document lists, in its order. */
export function listedMaintenances(maintenances: readonly PublicMaintenance[], path: MaintenanceApiPath | 'summary.json'): PublicMaintenance[] {
  const shown = maintenances.filter(isPublic);
  switch (path) {
    case 'scheduled-maintenances.json':
      // The 50 most recent, whatever their status (cancelled ones as completed).
      return shown.sort(latestFirst).slice(0, API_INCIDENT_LIMIT);
    case 'scheduled-maintenances/upcoming.json':
      return shown.filter((m) => isUpcomingMaintenance(m.status)).sort(soonestFirst);
    case 'scheduled-maintenances/active.json':
      return shown.filter((m) => isActiveMaintenance(m.status)).sort(soonestFirst);
    case 'summary.json':
      // Upcoming and in progress, as Statuspage's summary lists them.
      return shown.filter((m) => isActiveMaintenance(m.status) || isUpcomingMaintenance(m.status)).sort(soonestFirst);
  }
}

/** summary.json's `scheduled_maintenances`. */
export function summaryScheduledMaintenances(s: PublicState, maintenances: readonly PublicMaintenance[]) {
  return listedMaintenances(maintenances, 'summary.json').map((m) => maintenanceJson(s, m));
}

/** The body of /api/v2/scheduled-maintenances.json, …/upcoming.json or …/active.json. */
export function maintenanceDocument(s: PublicState, maintenances: readonly PublicMaintenance[], path: MaintenanceApiPath) {
  return { page: pageJson(s), scheduled_maintenances: listedMaintenances(maintenances, path).map((m) => maintenanceJson(s, m)) };
}
