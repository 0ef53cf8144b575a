// Enums are `as const` tuples so that drizzle columns, zod schemas and switch statements share
// one source of truth. Changing an entry here is a schema change: update db/schema.ts users too.

export const INCIDENT_STATUSES = ['investigating', 'identified', 'monitoring', 'resolved'] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];
export const OPEN_STATUSES: readonly IncidentStatus[] = ['investigating', 'identified', 'monitoring'];

export const COMPONENT_STATUSES = ['operational', 'under_maintenance', 'degraded_performance', 'partial_outage', 'major_outage'] as const;
export type ComponentStatus = (typeof COMPONENT_STATUSES)[number];

export const COMPONENT_STATUS_ALIASES: Readonly<Record<string, ComponentStatus>> = {
  ok: 'operational',
  operational: 'operational',
  degraded: 'degraded_performance',
  degraded_performance: 'degraded_performance',
  partial: 'partial_outage',
  partial_outage: 'partial_outage',
  major: 'major_outage',
  major_outage: 'major_outage',
  maintenance: 'under_maintenance',
  under_maintenance: 'under_maintenance',
};

export const INCIDENT_STATUS_ALIASES: Readonly<Record<string, IncidentStatus>> = {
  investigating: 'investigating',
  investigate: 'investigating',
  identified: 'identified',
  identify: 'identified',
  monitoring: 'monitoring',
  monitor: 'monitoring',
  resolved: 'resolved',
  resolve: 'resolved',
};

export const SEVERITIES = [1, 2, 3, 4] as const;
export type Severity = (typeof SEVERITIES)[number];

export const ROLES = ['lead', 'commander', 'comms', 'scribe'] as const;
export type Role = (typeof ROLES)[number];

export const IMPACTS = ['none', 'minor', 'major', 'critical'] as const;
export type Impact = (typeof IMPACTS)[number];

export const UPDATE_STATES = ['draft', 'approved', 'rejected', 'published'] as const;
export type UpdateState = (typeof UPDATE_STATES)[number];

export const APPROVAL_POLICIES = ['required', 'self', 'off'] as const;
export type ApprovalPolicy = (typeof APPROVAL_POLICIES)[number];

export const EVENT_KINDS = [
  'declared',
  'status_changed',
  'severity_changed',
  'role_assigned',
  'components_changed',
  'update',
  'note',
  'draft_created',
  'draft_approved',
  'draft_rejected',
  'draft_nudged',
  'published',
  'resolved',
  'reopened',
  'followup_added',
  'followup_done',
  'followup_edited',
  'paged',
  'reminder',
  'pinned',
  'postmortem_published',
  'delivery_failed',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export const OUTBOX_STATES = ['pending', 'in_flight', 'delivered', 'folded', 'dead'] as const;
export type OutboxState = (typeof OUTBOX_STATES)[number];

export const FOLLOWUP_STATES = ['open', 'done'] as const;
export type FollowupState = (typeof FOLLOWUP_STATES)[number];

/** Statuspage's scheduled-maintenance statuses, plus cancelled (which /api/v2 shows as completed). */
export const MAINTENANCE_STATUSES = ['scheduled', 'in_progress', 'verifying', 'completed', 'cancelled'] as const;
export type MaintenanceStatus = (typeof MAINTENANCE_STATUSES)[number];

/** What a maintenance's timeline records (delivery_failed: one of its customer-facing messages was dead-lettered, or a subscription it was for disabled). */
export const MAINTENANCE_EVENT_KINDS = [
  'scheduled',
  'draft_created',
  'draft_approved',
  'draft_rejected',
  'draft_nudged',
  'published',
  'status_changed',
  'note',
  'delivery_failed',
] as const;
export type MaintenanceEventKind = (typeof MAINTENANCE_EVENT_KINDS)[number];

export const MAINTENANCE_STATUS_ALIASES: Readonly<Record<string, MaintenanceStatus>> = {
  scheduled: 'scheduled',
  in_progress: 'in_progress',
  'in-progress': 'in_progress',
  started: 'in_progress',
  verifying: 'verifying',
  verify: 'verifying',
  completed: 'completed',
  complete: 'completed',
  cancelled: 'cancelled',
  canceled: 'cancelled',
  cancel: 'cancelled',
};

/** A private incident never reaches anything public; see src/domain/private.ts for who may see it. */
export const VISIBILITIES = ['public', 'private'] as const;
export type Visibility = (typeof VISIBILITIES)[number];
