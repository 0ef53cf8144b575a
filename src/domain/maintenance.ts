import { rollUp } from './components.js';
import type { ComponentStatus, MaintenanceStatus } from './enums.js';
import { SitrepError } from './errors.js';

// Scheduled maintenance as data: its statuses are Statuspage's (scheduled → in_progress →
// verifying (optional) → completed), plus cancelled for work called off before it began. Which
// command moves which status where, what falls due on its own at starts:/ends:, what schedule input
// is acceptable, and how a maintenance in progress joins the component roll-up all live here, so the
// verb, the scheduler, the outlets and the public page ask the same rules.

/** What can happen to a maintenance once it is scheduled. */
export const MAINTENANCE_ACTIONS = ['start', 'verify', 'resume', 'complete', 'cancel', 'update'] as const;
export type MaintenanceAction = (typeof MAINTENANCE_ACTIONS)[number];

/** The transition table: the statuses each action may leave from, and where it goes (null: the status stays). */
export const MAINTENANCE_TRANSITIONS: Readonly<Record<MaintenanceAction, { from: readonly MaintenanceStatus[]; to: MaintenanceStatus | null }>> = {
  start: { from: ['scheduled'], to: 'in_progress' },
  verify: { from: ['in_progress'], to: 'verifying' },
  // Verification found more to do: back to work.
  resume: { from: ['verifying'], to: 'in_progress' },
  complete: { from: ['in_progress', 'verifying'], to: 'completed' },
  // Only work that has not begun can be called off; started work ends with `complete`.
  cancel: { from: ['scheduled'], to: 'cancelled' },
  update: { from: ['scheduled', 'in_progress', 'verifying'], to: null },
};

/** "in progress": how a status reads in a sentence. */
export function maintenanceStatusLabel(s: MaintenanceStatus): string {
  return s.replace(/_/g, ' ');
}

/** Whether the maintenance can still change (neither completed nor cancelled). */
export function isMaintenanceOpen(s: MaintenanceStatus): boolean {
  return s !== 'completed' && s !== 'cancelled';
}

export function canApplyMaintenanceAction(action: MaintenanceAction, from: MaintenanceStatus): boolean {
  return MAINTENANCE_TRANSITIONS[action].from.includes(from);
}

/** The command that performs `action` on `ref`, as it is typed. */
export function maintenanceCommand(action: MaintenanceAction, ref: string): string {
  switch (action) {
    case 'start':
    case 'complete':
    case 'cancel':
      return `maintenance ${action} ${ref}`;
    case 'verify':
      return `maintenance update ${ref} status:verifying <text>`;
    case 'resume':
      return `maintenance update ${ref} status:in_progress <text>`;
    case 'update':
      return `maintenance update ${ref} <text>`;
  }
}

function attempted(action: MaintenanceAction): string {
  switch (action) {
    case 'start':
      return 'start';
    case 'verify':
      return 'go to verifying';
    case 'resume':
      return 'go back to in progress';
    case 'complete':
      return 'complete';
    case 'cancel':
      return 'be cancelled';
    case 'update':
      return 'take updates';
  }
}

/** What may be typed next for a maintenance in `from`, the plain update aside. */
function nextSteps(ref: string, from: MaintenanceStatus): string[] {
  return MAINTENANCE_ACTIONS.filter((a) => a !== 'update' && canApplyMaintenanceAction(a, from)).map((a) => `\`${maintenanceCommand(a, ref)}\``);
}

/**
 * Checks `action` on a maintenance in `from` and returns the status it leads to, or throws
 * CONFLICT with one line saying why not and what to type instead.
 */
export function checkMaintenanceTransition(ref: string, from: MaintenanceStatus, action: MaintenanceAction): MaintenanceStatus {
  const step = MAINTENANCE_TRANSITIONS[action];
  if (step.from.includes(from)) return step.to ?? from;
  if (!isMaintenanceOpen(from)) {
    const was = from === 'cancelled' ? 'was cancelled' : 'is already completed';
    throw new SitrepError('CONFLICT', `${ref} ${was}; nothing more can happen to it (schedule new work with \`maintenance schedule\`)`);
  }
  if (step.to === from) throw new SitrepError('CONFLICT', `${ref} is already ${maintenanceStatusLabel(from)}`);
  const next = nextSteps(ref, from);
  const started = from === 'scheduled' ? `${ref} has not started yet` : `${ref} is ${maintenanceStatusLabel(from)}`;
  throw new SitrepError('CONFLICT', `${started}; it cannot ${attempted(action)} from there (next: ${next.join(' or ')})`);
}

/**
 * The action `maintenance update M-n [status:S] <text>` stands for on a maintenance in `current`:
 * without a status, or with the status it already has, a plain update; otherwise the step to S
 * (back to scheduled is never one: INVALID).
 */
export function updateAction(current: MaintenanceStatus, status?: MaintenanceStatus): MaintenanceAction {
  if (status === undefined || status === current) return 'update';
  switch (status) {
    case 'in_progress':
      return current === 'verifying' ? 'resume' : 'start';
    case 'verifying':
      return 'verify';
    case 'completed':
      return 'complete';
    case 'cancelled':
      return 'cancel';
    case 'scheduled':
      throw new SitrepError('INVALID', 'a maintenance cannot go back to scheduled; to change its times, cancel it and schedule it again');
  }
}

// --- automatic transitions -------------------------------------------------------------------------

export interface MaintenanceTimes {
  status: MaintenanceStatus;
  startsAt: number;
  endsAt: number;
  /** When it actually went in progress (null while scheduled). */
  startedAt: number | null;
  /** Statuspage's scheduled_auto_in_progress and scheduled_auto_completed. */
  autoStart: boolean;
  autoComplete: boolean;
}

export interface DueTransition {
  action: 'start' | 'complete';
  /** The instant it is dated at: the scheduled time, however late the scheduler gets to it. */
  at: number;
  to: MaintenanceStatus;
}

/**
 * Whether automatic completion applies: work started by hand only after its window had ended runs
 * over on purpose, and is completed by hand.
 */
function completesItself(m: MaintenanceTimes, startedAt: number): boolean {
  return m.autoComplete && startedAt < m.endsAt;
}

/**
 * What should happen to the maintenance by `now`, in order. Derived from the stored status alone,
 * so it is safe to ask again after a restart, from any replica, however late: once a transition
 * has been applied the status has moved and it is no longer due. A maintenance whose whole window
 * passed while nothing was running gets both, each dated at its scheduled time.
 */
export function dueTransitions(m: MaintenanceTimes, now: number): DueTransition[] {
  const out: DueTransition[] = [];
  let status = m.status;
  let startedAt = m.startedAt;
  if (status === 'scheduled' && m.autoStart && now >= m.startsAt) {
    out.push({ action: 'start', at: m.startsAt, to: 'in_progress' });
    status = 'in_progress';
    startedAt = m.startsAt;
  }
  if ((status === 'in_progress' || status === 'verifying') && now >= m.endsAt && completesItself(m, startedAt ?? m.startsAt)) {
    out.push({ action: 'complete', at: m.endsAt, to: 'completed' });
  }
  return out;
}

/** The next instant something falls due on its own (null: nothing will), for a scheduler to wait for. */
export function nextDueAt(m: MaintenanceTimes): number | null {
  if (m.status === 'scheduled') return m.autoStart ? m.startsAt : null;
  if (m.status === 'in_progress' || m.status === 'verifying') return completesItself(m, m.startedAt ?? m.startsAt) ? m.endsAt : null;
  return null;
}

/**
 * Statuspage's scheduled_auto_in_progress and scheduled_auto_completed for a maintenance as it
 * stands: whether it will still start, and complete, by itself. Work started by hand after its
 * window ended is completed by hand, so it no longer completes itself; finished work moves no more.
 */
export function autoTransitions(m: MaintenanceTimes): { autoInProgress: boolean; autoCompleted: boolean } {
  switch (m.status) {
    case 'scheduled':
      return { autoInProgress: m.autoStart, autoCompleted: m.autoComplete };
    case 'in_progress':
    case 'verifying':
      return { autoInProgress: false, autoCompleted: completesItself(m, m.startedAt ?? m.startsAt) };
    case 'completed':
    case 'cancelled':
      return { autoInProgress: false, autoCompleted: false };
  }
}

/**
 * The customer-facing text of a transition nobody wrote words for (the automatic start and
 * completion, `maintenance start|complete|cancel`): Statuspage's own wording, fixed, so it needs no
 * approval.
 */
export function noticeFor(action: 'start' | 'complete' | 'cancel'): string {
  switch (action) {
    case 'start':
      return 'Scheduled maintenance is currently in progress. We will provide updates as necessary.';
    case 'complete':
      return 'The scheduled maintenance has been completed.';
    case 'cancel':
      return 'The scheduled maintenance has been cancelled.';
  }
}

// --- scheduling input ----------------------------------------------------------------------------

/** Clocks on laptops and chat servers differ: a start up to a minute ago still counts as now. */
export const SCHEDULE_SLACK_MS = 60_000;

const EXAMPLE = 'e.g. starts:2026-12-07T22:00 ends:2026-12-07T23:30';

/**
 * Checks the window of `maintenance schedule`: both ends given, the end after the start, the start
 * not in the past. Throws INVALID with one line saying what to fix.
 */
export function checkSchedule(p: { startsAt: number | undefined; endsAt: number | undefined; now: number }): { startsAt: number; endsAt: number } {
  const { startsAt, endsAt, now } = p;
  if (startsAt === undefined && endsAt === undefined) {
    throw new SitrepError('INVALID', `maintenance schedule needs starts:<time> and ends:<time>, when the work begins and ends (${EXAMPLE})`);
  }
  if (startsAt === undefined) throw new SitrepError('INVALID', `maintenance schedule needs starts:<time>, when the work begins (${EXAMPLE})`);
  if (endsAt === undefined) throw new SitrepError('INVALID', `maintenance schedule needs ends:<time>, when the work ends (${EXAMPLE})`);
  if (endsAt <= startsAt) {
    throw new SitrepError(
      'INVALID',
      `ends: is ${endsAt === startsAt ? 'the same time as' : 'before'} starts:; a maintenance must end after it begins (${EXAMPLE})`,
    );
  }
  if (startsAt < now - SCHEDULE_SLACK_MS) {
    throw new SitrepError('INVALID', `starts: is in the past; schedule maintenance for a time still to come (${EXAMPLE})`);
  }
  return { startsAt, endsAt };
}

// --- references ----------------------------------------------------------------------------------

export function maintenanceRef(id: number): string {
  return `M-${id}`;
}

/** "M-3" (any case, an optional leading #) → 3; anything else → null. */
export function parseMaintenanceRef(raw: string): number | null {
  const m = /^#?M-(\d{1,9})$/i.exec(raw);
  return m ? Number(m[1]) : null;
}

// --- components and the public API ---------------------------------------------------------------

/** The status a maintenance in `status` gives each of its components. */
export function componentStatusDuring(status: MaintenanceStatus): ComponentStatus {
  switch (status) {
    case 'in_progress':
    case 'verifying':
      return 'under_maintenance';
    case 'scheduled':
    case 'completed':
    case 'cancelled':
      return 'operational';
  }
}

/**
 * What maintenances add to the component roll-up: under_maintenance for each component of one in
 * progress, nothing otherwise. They join the incidents' contributions in rollUp, whose ordering
 * ranks every outage above maintenance, so an outage during maintenance shows as the outage.
 */
export function maintenanceContributions(
  maintenances: Iterable<{ status: MaintenanceStatus; componentIds: readonly number[] }>,
): Array<{ componentId: number; status: ComponentStatus }> {
  const out: Array<{ componentId: number; status: ComponentStatus }> = [];
  for (const m of maintenances) {
    const status = componentStatusDuring(m.status);
    if (status === 'operational') continue;
    for (const componentId of m.componentIds) out.push({ componentId, status });
  }
  return out;
}

/** rollUp over incidents' contributions and maintenances together. */
export function rollUpWithMaintenance(
  contributions: ReadonlyArray<{ componentId: number; status: ComponentStatus }>,
  maintenances: Iterable<{ status: MaintenanceStatus; componentIds: readonly number[] }>,
): Map<number, ComponentStatus> {
  return rollUp([...contributions, ...maintenanceContributions(maintenances)]);
}

/** Statuspage's maintenance statuses: what /api/v2, webhooks and the Statuspage mirror say. */
export type StatuspageMaintenanceStatus = Exclude<MaintenanceStatus, 'cancelled'>;

/** Statuspage has no cancelled: a cancelled maintenance is shown as completed (with its cancellation notice). */
export function statuspageMaintenanceStatus(s: MaintenanceStatus): StatuspageMaintenanceStatus {
  return s === 'cancelled' ? 'completed' : s;
}

/** Listed by scheduled-maintenances/upcoming.json (and summary.json). */
export function isUpcomingMaintenance(s: MaintenanceStatus): boolean {
  return s === 'scheduled';
}

/** Listed by scheduled-maintenances/active.json (and summary.json). */
export function isActiveMaintenance(s: MaintenanceStatus): boolean {
  return s === 'in_progress' || s === 'verifying';
}

// --- outbox lanes ----------------------------------------------------------------------------------

/**
 * The outbox keeps one lane per (incident, target). A maintenance has no incident, so its rows
 * name their lane in the target value: `statuspage|M-3`. Each maintenance then has lanes of its
 * own: its messages keep their order, fold only into each other, and edit or thread under their own
 * earlier messages (a Statuspage scheduled incident, a channel's first notice), never another's.
 * The worker hands a Target the plain target (`statuspage`) and the maintenance's id.
 */
const LANE_MARK = '|M-';

export function maintenanceLane(target: string, maintenanceId: number): string {
  return `${target}${LANE_MARK}${maintenanceId}`;
}

/**
 * Every maintenance lane of `target` starts with this (`webhook:S-3|M-`): a subscription's rows
 * are those of its own lane and of these.
 */
export function maintenanceLanePrefix(target: string): string {
  return `${target}${LANE_MARK}`;
}

/** `statuspage|M-3` → { target: 'statuspage', maintenanceId: 3 }; any other value is its own target. */
export function splitLane(stored: string): { target: string; maintenanceId: number | null } {
  const at = stored.lastIndexOf(LANE_MARK);
  if (at < 0) return { target: stored, maintenanceId: null };
  const n = stored.slice(at + LANE_MARK.length);
  if (!/^\d{1,9}$/.test(n)) return { target: stored, maintenanceId: null };
  return { target: stored.slice(0, at), maintenanceId: Number(n) };
}
