import { DateTime } from '../render/luxon.js';
import { worstStatus } from '../domain/components.js';
import { maintenanceDocument, summaryScheduledMaintenances } from './maintenance-json.js';
import type { PublicComponent, PublicIncident, PublicState } from './model.js';
import { API_INCIDENT_LIMIT } from './model.js';

// Statuspage's public API v2 (what every hosted status page serves), shaped field for field like
// shared/reference/statuspage-v2/: clients written for Statuspage read Sitrep unchanged. Names
// and bodies go out raw; escaping is the HTML renderer's job.

/** Statuspage's timestamps: ISO 8601 with milliseconds and the page zone's offset. */
export function apiTime(ms: number, zone: string): string {
  // The same instants are formatted again on every rebuild; luxon is slow per call.
  const key = `${zone}|${ms}`;
  let s = timeCache.get(key);
  if (s === undefined) {
    s = DateTime.fromMillis(ms, { zone }).toISO() ?? new Date(ms).toISOString();
    if (timeCache.size >= 20_000) timeCache.clear();
    timeCache.set(key, s);
  }
  return s;
}
const timeCache = new Map<string, string>();

export function pageJson(s: PublicState) {
  return { id: s.pageId, name: s.orgName, url: s.publicUrl, time_zone: s.zone, updated_at: apiTime(s.updatedAt, s.zone) };
}

const groupId = (name: string) =>
  `group-${name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')}`;

export function componentJson(s: PublicState, c: PublicComponent) {
  return {
    id: c.code,
    name: c.name,
    status: c.status,
    created_at: apiTime(c.createdAt, s.zone),
    updated_at: apiTime(c.updatedAt, s.zone),
    position: c.position,
    description: c.description,
    showcase: true,
    start_date: null,
    group_id: c.group === null ? null : groupId(c.group),
    page_id: s.pageId,
    group: false,
    only_show_if_degraded: false,
  };
}

/**
 * Components in catalogue order; each group appears (as Statuspage does) as a component with
 * `group: true` and the ids of its members, placed where its first member sits.
 */
function componentsJson(s: PublicState) {
  const out: Array<ReturnType<typeof componentJson> | (ReturnType<typeof componentJson> & { components: string[] })> = [];
  const groups = new Map<string, PublicComponent[]>();
  for (const c of s.components) {
    if (c.group === null) continue;
    groups.set(c.group, [...(groups.get(c.group) ?? []), c]);
  }
  const emitted = new Set<string>();
  for (const c of s.components) {
    if (c.group !== null && !emitted.has(c.group)) {
      emitted.add(c.group);
      const members = groups.get(c.group) ?? [];
      out.push({
        id: groupId(c.group),
        name: c.group,
        status: worstStatus(members.map((m) => m.status)),
        created_at: apiTime(Math.min(...members.map((m) => m.createdAt)), s.zone),
        updated_at: apiTime(Math.max(...members.map((m) => m.updatedAt)), s.zone),
        position: c.position,
        description: null,
        showcase: false,
        start_date: null,
        group_id: null,
        page_id: s.pageId,
        group: true,
        only_show_if_degraded: false,
        components: members.map((m) => m.code),
      });
    }
    out.push(componentJson(s, c));
  }
  return out;
}

function incidentJson(s: PublicState, i: PublicIncident) {
  const comps = new Map(s.components.map((c) => [c.id, c]));
  return {
    id: i.ref,
    name: i.title,
    status: i.status,
    created_at: apiTime(i.createdAt, s.zone),
    updated_at: apiTime(i.updatedAt, s.zone),
    monitoring_at: i.monitoringAt === null ? null : apiTime(i.monitoringAt, s.zone),
    resolved_at: i.resolvedAt === null ? null : apiTime(i.resolvedAt, s.zone),
    impact: i.impact,
    shortlink: `${s.publicUrl}/incidents/${i.ref}`,
    started_at: apiTime(i.createdAt, s.zone),
    page_id: s.pageId,
    incident_updates: i.updates.map((u) => ({
      id: u.ref,
      status: u.status,
      body: u.body,
      incident_id: i.ref,
      created_at: apiTime(u.publishedAt, s.zone),
      updated_at: apiTime(u.publishedAt, s.zone),
      display_at: apiTime(u.displayAt, s.zone),
      affected_components: u.affected.map((a) => ({ code: a.code, name: a.name, old_status: a.oldStatus, new_status: a.newStatus })),
      deliver_notifications: true,
      custom_tweet: null,
      tweet_id: null,
    })),
    components: i.componentIds.flatMap((id) => {
      const c = comps.get(id);
      return c ? [componentJson(s, c)] : [];
    }),
  };
}

function statusJson(s: PublicState) {
  return { indicator: s.indicator, description: s.description };
}

export const API_PATHS = [
  'summary.json',
  'status.json',
  'components.json',
  'incidents.json',
  'incidents/unresolved.json',
  'scheduled-maintenances.json',
  'scheduled-maintenances/active.json',
  'scheduled-maintenances/upcoming.json',
] as const;
export type ApiPath = (typeof API_PATHS)[number];

/** The body of /api/v2/<path>. Scheduled maintenance is rendered by maintenance-json.ts. */
export function renderApi(s: PublicState, path: ApiPath): string {
  const page = pageJson(s);
  const unresolved = () => s.incidents.filter((i) => i.status !== 'resolved').map((i) => incidentJson(s, i));
  switch (path) {
    case 'summary.json':
      return JSON.stringify({
        page,
        components: componentsJson(s),
        incidents: unresolved(),
        scheduled_maintenances: summaryScheduledMaintenances(s, s.maintenances),
        status: statusJson(s),
      });
    case 'status.json':
      return JSON.stringify({ page, status: statusJson(s) });
    case 'components.json':
      return JSON.stringify({ page, components: componentsJson(s) });
    case 'incidents.json':
      return JSON.stringify({ page, incidents: s.incidents.slice(0, API_INCIDENT_LIMIT).map((i) => incidentJson(s, i)) });
    case 'incidents/unresolved.json':
      return JSON.stringify({ page, incidents: unresolved() });
    case 'scheduled-maintenances.json':
    case 'scheduled-maintenances/active.json':
    case 'scheduled-maintenances/upcoming.json':
      return JSON.stringify(maintenanceDocument(s, s.maintenances, path));
  }
}
