import type { Store, WriteTx } from '../../db/store.js';
import type { ApprovalPolicy, IncidentStatus, MaintenanceEventKind, MaintenanceStatus } from '../domain/enums.js';
import type { EventRecord } from '../domain/events.js';

/** What a surface knows about where a command was typed (an incident's thread or channel). */
export interface Scope {
  platform: 'slack' | 'teams' | 'cli';
  channel?: string;
  threadRef?: string;
  /** Set when the surface already knows the incident (a thread reply, a button on its card). */
  incidentId?: number;
  /**
   * Replies here are read by more people than the one who typed the command (a Teams channel or
   * group chat), so nothing meant for that person alone (a signing secret) may be answered here.
   */
  shared?: boolean;
}

export interface Policy {
  timezone: string;
  orgName: string;
  publicUrl: string;
  approval: ApprovalPolicy;
  admins: readonly string[];
  /** The incidents channel from the environment, used until `channel incidents` binds one. */
  slackIncidentsChannel?: string;
  /**
   * Where `subscribe webhook:…` may point (SITREP_WEBHOOK_PUBLIC_ONLY, SITREP_WEBHOOK_ALLOW_LINK_LOCAL).
   * Set by the mirroring capability when it registers; absent means the defaults (private allowed,
   * link-local and metadata refused).
   */
  webhooks?: { publicOnly: boolean; allowLinkLocal: boolean };
  /** PagerDuty paging: absent when no routing key is configured; `severity`: declaring at it or worse pages at once. */
  paging?: { severity: number };
  /** SITREP_UPDATE_CADENCE: minutes per severity between published customer updates (absent: none). */
  cadenceMinutes?: Readonly<Record<number, number>>;
}

/** A stored timeline event as outlets see it: narrow on `kind` to read its payload. */
export type TimelineRecord = EventRecord;

/** The record of a declaration (the event that opens an incident's thread). */
export type DeclaredRecord = Extract<TimelineRecord, { kind: 'declared' }>;

export interface PublishedRecord {
  updateId: number;
  incidentId: number;
  status: IncidentStatus;
  body: string;
  displayAt: number;
  approvedAt: number;
  isPostmortem: boolean;
}

/** A maintenance's timeline event as outlets see it (for its thread in the incidents channel). */
export interface MaintenanceEventRecord {
  id: number;
  maintenanceId: number;
  kind: MaintenanceEventKind;
  actor: string;
  text: string;
  occurredAt: number;
  recordedAt: number;
  payload: Record<string, unknown>;
}

/** A maintenance's customer-facing text that has just become public. */
export interface MaintenancePublishedRecord {
  /** D-n. */
  updateId: number;
  maintenanceId: number;
  /** The status this text announces (scheduled for the announcement). */
  status: MaintenanceStatus;
  body: string;
  displayAt: number;
  approvedAt: number;
  /** The first text customers see of this maintenance: the announcement. */
  first: boolean;
}

/**
 * A place messages go when state changes (a chat thread, the status page, customer channels).
 * Outlets run inside the command's transaction and may only write rows (outbox, read models)
 * through db/queries: they never call the network or wait on a timer. That is what makes an
 * upstream outage lose nothing.
 */
export interface Outlet {
  readonly name: string;
  onEvent?(tx: WriteTx, event: TimelineRecord, ctx: CommandContext): Promise<void>;
  onIncidentChanged?(tx: WriteTx, incidentId: number, ctx: CommandContext): Promise<void>;
  onPublished?(tx: WriteTx, update: PublishedRecord, ctx: CommandContext): Promise<void>;
  onDraftCreated?(tx: WriteTx, draftId: number, ctx: CommandContext): Promise<void>;
  /** Scheduled maintenance: every event of its timeline (its thread), and every text made public. */
  onMaintenanceEvent?(tx: WriteTx, event: MaintenanceEventRecord, ctx: CommandContext): Promise<void>;
  onMaintenancePublished?(tx: WriteTx, text: MaintenancePublishedRecord, ctx: CommandContext): Promise<void>;
}

export interface CommandContext {
  store: Store;
  now: () => number;
  actor: string;
  scope: Scope;
  policy: Policy;
  outlets: readonly Outlet[];
}

export interface Reply {
  /** Neutral text (plain, with `code` marks); surfaces render it for their medium. */
  text: string;
  /** Machine-readable result for --json and for adapters. */
  data: Record<string, unknown>;
}
