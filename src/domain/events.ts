import { COMPONENT_STATUSES, EVENT_KINDS, INCIDENT_STATUSES, ROLES, type ComponentStatus, type EventKind, type IncidentStatus, type Role } from './enums.js';
import type { ComponentStatusChange } from './publication.js';

// The timeline as a typed union: one payload shape per event kind. recordEvent takes a
// TimelineEvent, so a verb cannot write a payload its readers do not expect; what comes back from
// the database goes through parseTimelineEvent, so no reader trusts a stored payload blindly.
// Outlets receive the same union (TimelineRecord), so a payload is read only after narrowing on
// its kind.

/** A component an event moved: its status under this incident before (null: newly affected) and after. */
export type ComponentMove = { slug: string; name: string; from: ComponentStatus | null; to: ComponentStatus };

/** Where a declaration was typed (the command's scope). */
export type EventScope = { platform: 'slack' | 'teams' | 'cli'; channel?: string; threadRef?: string; incidentId?: number; shared?: boolean };

export type DeclaredPayload = {
  title: string;
  severity: number;
  lead: string;
  startedAt: number;
  components: ComponentMove[];
  scope: EventScope;
  /** The incident gets a channel of its own. */
  dedicated?: true;
};
export type StatusUpdatePayload = { body: string; from: IncidentStatus; to: IncidentStatus; components: ComponentMove[] };
export type DeliveryFailedPayload = {
  target?: string;
  reason?: string;
  outboxId?: number;
  deliveryId?: string | null;
  kept?: number[];
  disabledSubscription?: number;
  disabledAt?: number | null;
  cause?: string | null;
};
/** Where a pinned message lives (e.g. { source: 'slack', channel, ts }) and who pinned it. */
export type PinnedPayload = { pinnedBy: string; source?: string; channel?: string; ts?: string };
type Empty = Record<string, never>;

export type TimelineEvent =
  | { kind: 'declared'; payload: DeclaredPayload }
  | { kind: 'status_changed'; payload: StatusUpdatePayload }
  | { kind: 'update'; payload: StatusUpdatePayload }
  | { kind: 'severity_changed'; payload: { from: number; to: number } }
  | { kind: 'role_assigned'; payload: { role: Role; user: string; previous: string | null } }
  | { kind: 'components_changed'; payload: { components: ComponentMove[] } }
  | { kind: 'note'; payload: Empty }
  | { kind: 'draft_created'; payload: { draftId: number; status: IncidentStatus; components: ComponentStatusChange[]; postmortem: boolean } }
  | { kind: 'draft_approved'; payload: { draftId: number; original: string } }
  | { kind: 'draft_rejected'; payload: { draftId: number; author: string; reason: string } }
  | { kind: 'draft_nudged'; payload: { draftId: number; approvers: string[]; author: string } }
  | { kind: 'published'; payload: { draftId: number; status: IncidentStatus; approver: string | null; components: ComponentStatusChange[] } }
  | { kind: 'resolved'; payload: { from: IncidentStatus } }
  | { kind: 'reopened'; payload: Empty }
  | { kind: 'followup_added'; payload: { followupId: number; owner: string | null } }
  | { kind: 'followup_done'; payload: { followupId: number } }
  | { kind: 'reminder'; payload: { reminder: 'cadence' | 'monitoring'; since: number; minutes: number } }
  | { kind: 'paged'; payload: { auto: boolean; text: string | null } }
  | { kind: 'followup_edited'; payload: { followupId: number; previous: string; owner: string | null; previousOwner: string | null } }
  | { kind: 'pinned'; payload: PinnedPayload }
  | { kind: 'postmortem_published'; payload: { draftId: number; approver: string | null } }
  | { kind: 'delivery_failed'; payload: DeliveryFailedPayload };

export type EventPayload<K extends EventKind> = Extract<TimelineEvent, { kind: K }>['payload'];

/** What every stored event has besides its kind and payload. */
export type EventMeta = { id: number; incidentId: number; actor: string; text: string; occurredAt: number; recordedAt: number };

/** A stored timeline event. */
export type EventRecord = EventMeta & TimelineEvent;

/** The events that are about a draft's decision (chat approval cards follow them). */
export function draftIdOf(e: TimelineEvent): number | null {
  switch (e.kind) {
    case 'draft_created':
    case 'draft_approved':
    case 'draft_rejected':
    case 'draft_nudged':
    case 'published':
    case 'postmortem_published':
      return e.payload.draftId;
    case 'declared':
    case 'status_changed':
    case 'update':
    case 'severity_changed':
    case 'role_assigned':
    case 'components_changed':
    case 'note':
    case 'resolved':
    case 'reopened':
    case 'followup_added':
    case 'followup_done':
    case 'followup_edited':
    case 'paged':
    case 'reminder':
    case 'pinned':
    case 'delivery_failed':
      return null;
  }
}

// --- parsing at the boundary (explicit checks: loading a validation library costs every CLI run) --

type Check = (v: unknown) => boolean;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str: Check = (v) => typeof v === 'string';
const num: Check = (v) => typeof v === 'number' && Number.isFinite(v);
const bool: Check = (v) => typeof v === 'boolean';
const nullable =
  (c: Check): Check =>
  (v) =>
    v === null || c(v);
const optional =
  (c: Check): Check =>
  (v) =>
    v === undefined || c(v);
const oneOf =
  (values: readonly unknown[]): Check =>
  (v) =>
    values.includes(v);
const arrayOf =
  (c: Check): Check =>
  (v) =>
    Array.isArray(v) && v.every(c);
const shape =
  (fields: Record<string, Check>): Check =>
  (v) =>
    isObj(v) && Object.entries(fields).every(([k, c]) => c(v[k]));

const incidentStatus = oneOf(INCIDENT_STATUSES);
const componentStatus = oneOf(COMPONENT_STATUSES);
const move = shape({ slug: str, name: str, from: nullable(componentStatus), to: componentStatus });
const change = shape({ slug: str, status: componentStatus });
const statusUpdate = { body: str, from: incidentStatus, to: incidentStatus, components: arrayOf(move) };

const PAYLOADS: Readonly<Record<EventKind, Record<string, Check>>> = {
  declared: {
    title: str,
    severity: num,
    lead: str,
    startedAt: num,
    components: arrayOf(move),
    scope: shape({
      platform: oneOf(['slack', 'teams', 'cli']),
      channel: optional(str),
      threadRef: optional(str),
      incidentId: optional(num),
      shared: optional(bool),
    }),
    dedicated: optional(oneOf([true])),
  },
  status_changed: statusUpdate,
  update: statusUpdate,
  severity_changed: { from: num, to: num },
  role_assigned: { role: oneOf(ROLES), user: str, previous: nullable(str) },
  components_changed: { components: arrayOf(move) },
  note: {},
  draft_created: { draftId: num, status: incidentStatus, components: arrayOf(change), postmortem: bool },
  draft_approved: { draftId: num, original: str },
  draft_rejected: { draftId: num, author: str, reason: str },
  draft_nudged: { draftId: num, approvers: arrayOf(str), author: str },
  published: { draftId: num, status: incidentStatus, approver: nullable(str), components: arrayOf(change) },
  resolved: { from: incidentStatus },
  reopened: {},
  followup_added: { followupId: num, owner: nullable(str) },
  followup_done: { followupId: num },
  paged: { auto: bool, text: nullable(str) },
  reminder: { reminder: oneOf(['cadence', 'monitoring'] as const), since: num, minutes: num },
  followup_edited: { followupId: num, previous: str, owner: nullable(str), previousOwner: nullable(str) },
  pinned: { pinnedBy: str, source: optional(str), channel: optional(str), ts: optional(str) },
  postmortem_published: { draftId: num, approver: nullable(str) },
  delivery_failed: {
    target: optional(str),
    reason: optional(str),
    outboxId: optional(num),
    deliveryId: optional(nullable(str)),
    kept: optional(arrayOf(num)),
    disabledSubscription: optional(num),
    disabledAt: optional(nullable(num)),
    cause: optional(nullable(str)),
  },
};

export function isEventKind(v: unknown): v is EventKind {
  return EVENT_KINDS.some((k) => k === v);
}

/** Whether a kind and payload have the shape that kind promises (checked field by field). */
export function isTimelineEvent(e: { kind: EventKind; payload: Record<string, unknown> }): e is TimelineEvent {
  return Object.entries(PAYLOADS[e.kind]).every(([k, check]) => check(e.payload[k]));
}

/**
 * A stored kind and payload as a TimelineEvent, or null when the payload does not have the shape
 * its kind promises (a row written by an older or newer version). Extra fields are kept.
 */
export function parseTimelineEvent(kind: unknown, payload: unknown): TimelineEvent | null {
  if (!isEventKind(kind) || !isObj(payload)) return null;
  const e = { kind, payload };
  return isTimelineEvent(e) ? e : null;
}
