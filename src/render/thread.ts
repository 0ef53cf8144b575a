import type { EventKind, MaintenanceEventKind, MaintenanceStatus } from '../domain/enums.js';

// What an incident's (or a scheduled maintenance's) chat thread shows, platform-neutral. The thread outlet (src/mirror/thread.ts)
// decides from a committed timeline event which of these messages the thread gets; each chat
// platform renders them (Slack: adapters/slack/blocks.ts, Teams: adapters/teams/cards.ts).

/** A timeline event (an incident's, or a maintenance's) as the thread shows it. */
export interface ThreadEvent {
  kind: EventKind | MaintenanceEventKind;
  actor: string;
  text: string;
  occurredAt: number;
  recordedAt: number;
}

/** A customer-facing draft waiting for an approver. */
export interface DraftForApproval {
  id: string;
  /** Whose it is: INC-n, or M-n for a maintenance's text. */
  incident: string;
  author: string;
  status: string;
  body: string;
}

/** A draft once decided: the approval request it replaces loses its buttons. */
export interface DraftDecision {
  id: string;
  decision: 'published' | 'rejected';
  by: string | null;
  body: string;
  reason?: string;
}

export type ThreadMessage =
  /** One timeline event as a reply in the thread (`incident`: INC-n, or M-n). */
  | { type: 'event'; incident: string; event: ThreadEvent; eventId: number; broadcast: boolean }
  /** Stands for the draft_created event: the draft with its approve/reject buttons. */
  | { type: 'approval_request'; draft: DraftForApproval; draftId: number }
  /** Replaces the approval request once the draft is decided. */
  | { type: 'approval_decided'; decision: DraftDecision; draftId: number };

/** How one chat platform renders the thread's messages into its outbox messages. */
export interface ThreadRenderer<M> {
  event(m: Extract<ThreadMessage, { type: 'event' }>, zone: string): M;
  approvalRequest(m: Extract<ThreadMessage, { type: 'approval_request' }>): M;
  approvalDecided(m: Extract<ThreadMessage, { type: 'approval_decided' }>): M;
}

/** Status changes are announced to the channel as well as the thread. */
export function isBroadcast(kind: EventKind | MaintenanceEventKind): boolean {
  return kind === 'status_changed' || kind === 'resolved' || kind === 'reopened';
}

/**
 * Whether a timeline event gets a reply of its own in `platform`'s thread: the approval request
 * stands for draft_created, and a 📌 taken from the thread itself is already there.
 */
export function repliesInThread(e: { kind: EventKind | MaintenanceEventKind; payload: Record<string, unknown> }, platform: string): boolean {
  if (e.kind === 'draft_created') return false;
  if (e.kind === 'pinned' && e.payload.source === platform) return false;
  return true;
}

/** An event recorded more than two minutes after it happened also says when it was recorded. */
export const recordedLate = (e: Pick<ThreadEvent, 'occurredAt' | 'recordedAt'>) => e.recordedAt - e.occurredAt > 120_000;

/** The event kind as words: `status_changed` → `status changed`. */
export const kindWords = (kind: string) => kind.replace(/_/g, ' ');

/**
 * A scheduled maintenance's root message in the incidents channel, rendered from the database
 * when it is sent (db/queries/maintenances.ts loadMaintenanceThreadView), like an incident's root.
 */
export interface MaintenanceThreadView {
  /** M-n. */
  id: string;
  title: string;
  status: MaintenanceStatus;
  startsAt: number;
  endsAt: number;
  startedAt: number | null;
  /** When it was completed or cancelled. */
  finishedAt: number | null;
  /** Names, in catalogue order. */
  components: string[];
  /** What customers were last told (null: not announced yet). */
  lastCustomerText: { id: string; body: string; status: MaintenanceStatus; at: number } | null;
  pendingDrafts: Array<{ id: string; author: string; status: MaintenanceStatus; body: string }>;
}
