import type { IncidentStatus, Visibility } from './enums.js';

// Cadence reminders as data. Customers judge an incident by how often they hear from it: an open
// incident that has gone SITREP_UPDATE_CADENCE minutes (per severity) without a published
// customer update gets one reminder in its thread, and one in monitoring for
// SITREP_MONITORING_NUDGE_HOURS gets one nudge to resolve. Each reminder belongs to a gap (`since`:
// when the silence began), so it fires once per gap, however often it is asked, and again only
// after an update starts a new gap. Time is a parameter: `at:`-backfilled history counts.

export type ReminderKind = 'cadence' | 'monitoring';

export interface ReminderSubject {
  status: IncidentStatus;
  severity: number;
  visibility: Visibility;
  declaredAt: number;
  monitoringAt: number | null;
  /** When the last published customer update was shown as posted (null: none yet). */
  lastPublishedAt: number | null;
}

export interface ReminderPolicy {
  /** Minutes per severity; a severity without one gets no cadence reminder. */
  cadenceMinutes: Readonly<Record<number, number>>;
  monitoringMs: number;
}

export interface DueReminder {
  kind: ReminderKind;
  /** When the gap began: the reminder's identity, with the incident and kind. */
  since: number;
  /** How long the gap has lasted, in whole minutes. */
  minutes: number;
  /** The allowance it overran, in minutes. */
  allowedMinutes: number;
}

export function dueReminders(inc: ReminderSubject, now: number, policy: ReminderPolicy): DueReminder[] {
  const out: DueReminder[] = [];
  if (inc.status === 'resolved') return out;
  const allowed = policy.cadenceMinutes[inc.severity];
  // A private incident has no customers to tell: nothing can be published for it.
  if (allowed !== undefined && inc.visibility === 'public') {
    const since = inc.lastPublishedAt ?? inc.declaredAt;
    if (now - since >= allowed * 60_000) out.push({ kind: 'cadence', since, minutes: Math.floor((now - since) / 60_000), allowedMinutes: allowed });
  }
  if (inc.status === 'monitoring' && inc.monitoringAt !== null && now - inc.monitoringAt >= policy.monitoringMs) {
    out.push({
      kind: 'monitoring',
      since: inc.monitoringAt,
      minutes: Math.floor((now - inc.monitoringAt) / 60_000),
      allowedMinutes: Math.round(policy.monitoringMs / 60_000),
    });
  }
  return out;
}

/**
 * Whether an incident kept its update cadence over its life: no stretch from its declaration to
 * the first published update, between two of them, or from the last one to its resolution (or to
 * `now`, while open) was longer than `allowedMs`.
 */
export function keptCadence(inc: { declaredAt: number; resolvedAt: number | null; updates: readonly number[] }, allowedMs: number, now: number): boolean {
  let from = inc.declaredAt;
  const end = inc.resolvedAt ?? now;
  for (const at of [...inc.updates].sort((a, b) => a - b)) {
    if (at > end) break;
    if (at - from > allowedMs) return false;
    from = Math.max(from, at);
  }
  return end - from <= allowedMs;
}
