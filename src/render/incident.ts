import { displayUser } from '../domain/actor.js';
import type { ComponentStatus, EventKind, IncidentStatus } from '../domain/enums.js';
import { formatClock, formatDuration, formatPosted, sameDay, toIso } from './time.js';

// Platform-neutral views of an incident: plain text for the CLI/console and the data every
// renderer (Block Kit, Adaptive Cards, JSON) starts from.

export interface IncidentView {
  id: string;
  number: number;
  title: string;
  status: IncidentStatus;
  severity: number;
  lead: string | null;
  roles: { commander: string | null; comms: string | null; scribe: string | null };
  startedAt: number;
  declaredAt: number;
  identifiedAt: number | null;
  monitoringAt: number | null;
  resolvedAt: number | null;
  publicStatus: IncidentStatus | null;
  components: Array<{ slug: string; name: string; status: ComponentStatus; publicStatus: ComponentStatus | null }>;
  lastCustomerUpdate: { id: string; body: string; status: IncidentStatus; at: number } | null;
  pendingDrafts: Array<{ id: string; author: string; status: IncidentStatus; body: string }>;
}

export interface TimelineEntry {
  kind: EventKind;
  actor: string;
  text: string;
  occurredAt: number;
  recordedAt: number;
}

export const statusLabel = (s: string) => s.replace(/_/g, ' ');

export function toShowJson(v: IncidentView, zone: string) {
  return {
    id: v.id,
    title: v.title,
    status: v.status,
    severity: v.severity,
    lead: v.lead,
    started_at: toIso(v.startedAt, zone),
    declared_at: toIso(v.declaredAt, zone),
    identified_at: v.identifiedAt === null ? null : toIso(v.identifiedAt, zone),
    monitoring_at: v.monitoringAt === null ? null : toIso(v.monitoringAt, zone),
    resolved_at: v.resolvedAt === null ? null : toIso(v.resolvedAt, zone),
    roles: v.roles,
    public_status: v.publicStatus,
    components: v.components.map((c) => ({ slug: c.slug, name: c.name, status: c.status, public_status: c.publicStatus })),
    last_customer_update: v.lastCustomerUpdate
      ? { id: v.lastCustomerUpdate.id, status: v.lastCustomerUpdate.status, body: v.lastCustomerUpdate.body, posted_at: toIso(v.lastCustomerUpdate.at, zone) }
      : null,
    pending_drafts: v.pendingDrafts,
  };
}

/** Time shown with the date when the incident spans more than one day in `zone`. */
function when(ms: number, v: { startedAt: number; resolvedAt: number | null }, zone: string, now: number): string {
  const end = v.resolvedAt ?? now;
  return sameDay(v.startedAt, end, zone) && sameDay(v.startedAt, ms, zone) ? formatClock(ms, zone, false) : formatClock(ms, zone, true);
}

export function renderShow(v: IncidentView, zone: string, now: number): string {
  const lines = [`${v.id} · ${v.title}`, `Status: ${v.status} · Severity: sev${v.severity} · Lead: ${displayUser(v.lead)}`];
  const roles = (['commander', 'comms', 'scribe'] as const).filter((r) => v.roles[r]).map((r) => `${r} ${displayUser(v.roles[r])}`);
  if (roles.length) lines.push(`Roles: ${roles.join(', ')}`);
  lines.push(`Started: ${formatPosted(v.startedAt, zone)}`);
  if (v.declaredAt !== v.startedAt) lines.push(`Declared: ${formatPosted(v.declaredAt, zone)} (detected after ${formatDuration(v.declaredAt - v.startedAt)})`);
  if (v.identifiedAt !== null) lines.push(`Identified: ${when(v.identifiedAt, v, zone, now)} (${formatDuration(v.identifiedAt - v.startedAt)} after start)`);
  if (v.monitoringAt !== null) lines.push(`Monitoring: ${when(v.monitoringAt, v, zone, now)}`);
  if (v.resolvedAt !== null) lines.push(`Resolved: ${formatPosted(v.resolvedAt, zone)} · Duration: ${formatDuration(v.resolvedAt - v.startedAt)}`);
  else lines.push(`Duration so far: ${formatDuration(now - v.startedAt)}`);
  if (v.components.length) {
    lines.push('Components:');
    for (const c of v.components) lines.push(`  ${c.name} (${c.slug}): ${statusLabel(c.status)}`);
  } else {
    lines.push('Components: none affected');
  }
  if (v.lastCustomerUpdate) {
    lines.push(
      `Last customer update (${v.lastCustomerUpdate.id}, ${v.lastCustomerUpdate.status}, ${formatPosted(v.lastCustomerUpdate.at, zone)}): ${v.lastCustomerUpdate.body}`,
    );
  } else {
    lines.push('Not public yet: no customer-facing update has been published.');
  }
  for (const d of v.pendingDrafts) lines.push(`Awaiting approval: ${d.id} by ${displayUser(d.author)} (${d.status}): ${d.body}`);
  return lines.join('\n');
}

export function renderTimeline(
  v: { id: string; title: string; startedAt: number; resolvedAt: number | null },
  events: TimelineEntry[],
  zone: string,
  now: number,
): string {
  const lines = [`${v.id} · ${v.title} — timeline (${zone})`];
  for (const e of events) {
    const late = e.recordedAt - e.occurredAt > 120_000 ? ` (recorded ${when(e.recordedAt, v, zone, now)})` : '';
    lines.push(`${when(e.occurredAt, v, zone, now)}  ${e.kind.padEnd(18)} ${displayUser(e.actor)}: ${e.text}${late}`);
  }
  return lines.join('\n');
}

export function renderList(
  rows: Array<{ id: string; title: string; status: IncidentStatus; severity: number; startedAt: number; resolvedAt: number | null }>,
  zone: string,
  now: number,
  filter: string,
): string {
  if (!rows.length) return filter === 'open' ? 'No open incidents.' : 'No incidents.';
  return rows
    .map((r) => {
      const dur = formatDuration((r.resolvedAt ?? now) - r.startedAt);
      return `${r.id.padEnd(7)} sev${r.severity} ${r.status.padEnd(13)} ${r.title} (started ${formatPosted(r.startedAt, zone)}, ${r.resolvedAt ? 'lasted' : 'open for'} ${dur})`;
    })
    .join('\n');
}
