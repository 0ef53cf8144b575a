import { sql } from 'drizzle-orm';
import { type AnyPgColumn, bigint, boolean, check, index, integer, json, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import {
  COMPONENT_STATUSES,
  EVENT_KINDS,
  FOLLOWUP_STATES,
  INCIDENT_STATUSES,
  MAINTENANCE_EVENT_KINDS,
  MAINTENANCE_STATUSES,
  OUTBOX_STATES,
  UPDATE_STATES,
  VISIBILITIES,
} from '../src/domain/enums.js';

// PostgreSQL's copy of db/schema.ts, table for table and column for column, with the same export and
// property names, so that every row type (`$inferSelect`) is the same on both engines (test/db
// checks it) and db/queries run on either (db/engine.ts hands them the engine's tables). Times are
// epoch milliseconds in bigint columns read back as numbers; ids are identity columns that also
// accept explicit ids (a copy from SQLite keeps them). Change both files together, then run
// `npm run db:generate` and `npm run db:generate:pg`.
//
// Every time is integer milliseconds since the epoch (UTC). Rendering in SITREP_TIMEZONE is the
// renderer's job; storing instants keeps ordering and arithmetic trivial.

export const incidents = pgTable(
  'incidents',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(), // INC-<id>
    title: text('title').notNull(),
    status: text('status', { enum: INCIDENT_STATUSES }).notNull(),
    severity: integer('severity').notNull(),
    lead: text('lead'),
    commander: text('commander'),
    comms: text('comms'),
    scribe: text('scribe'),
    createdBy: text('created_by').notNull(),
    startedAt: bigint('started_at', { mode: 'number' }).notNull(), // impact began
    declaredAt: bigint('declared_at', { mode: 'number' }).notNull(), // detected / declared
    identifiedAt: bigint('identified_at', { mode: 'number' }),
    monitoringAt: bigint('monitoring_at', { mode: 'number' }),
    resolvedAt: bigint('resolved_at', { mode: 'number' }),
    recordedAt: bigint('recorded_at', { mode: 'number' }).notNull(),
    // Public state: what the last published customer-facing update said (null until public).
    publicStatus: text('public_status', { enum: INCIDENT_STATUSES }),
    publishedAt: bigint('published_at', { mode: 'number' }),
    updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
    // Set once by `declare … visibility:private` and never changed: a private incident cannot be
    // made public. Nothing public reads a private incident (src/domain/visibility.ts).
    visibility: text('visibility', { enum: VISIBILITIES }).notNull().default('public'),
    // The Slack private channel Sitrep created for a private incident (its id, once created).
    privateChannel: text('private_channel'),
  },
  (t) => [
    index('incidents_status').on(t.status),
    // Public incidents newest first (every status-page rebuild) without sorting them all.
    index('incidents_published').on(t.publishedAt, t.id),
    // Incidents still open on the status page (every public roll-up of a component change).
    index('incidents_public_status').on(t.publicStatus),
  ],
);

export const components = pgTable('components', {
  id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
  slug: text('slug').notNull().unique(),
  name: text('name').notNull(),
  groupName: text('group_name'),
  position: integer('position').notNull(), // catalogue order
  description: text('description'),
  // Rolled-up statuses, kept in step with incident_components in the same transaction.
  status: text('status', { enum: COMPONENT_STATUSES }).notNull().default('operational'),
  publicStatus: text('public_status', { enum: COMPONENT_STATUSES }).notNull().default('operational'),
  statuspageId: text('statuspage_id'),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
});

/** The status each incident sets on each component it affects (internal and published). */
export const incidentComponents = pgTable(
  'incident_components',
  {
    incidentId: integer('incident_id')
      .notNull()
      .references(() => incidents.id),
    componentId: integer('component_id')
      .notNull()
      .references(() => components.id),
    status: text('status', { enum: COMPONENT_STATUSES }).notNull(),
    publicStatus: text('public_status', { enum: COMPONENT_STATUSES }),
    updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.incidentId, t.componentId] })],
);

/** Every change of a component's status, per incident; `public` rows drive the uptime bars. */
export const componentStatusHistory = pgTable(
  'component_status_history',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    componentId: integer('component_id')
      .notNull()
      .references(() => components.id),
    incidentId: integer('incident_id').references(() => incidents.id),
    status: text('status', { enum: COMPONENT_STATUSES }).notNull(),
    rolledUp: text('rolled_up', { enum: COMPONENT_STATUSES }).notNull(),
    isPublic: boolean('is_public').notNull(),
    at: bigint('at', { mode: 'number' }).notNull(),
  },
  (t) => [
    index('csh_component_at').on(t.componentId, t.at),
    // The status page's uptime window: public changes since a day, in order, by index seek
    // instead of a scan and a sort of the whole history on every rebuild.
    index('csh_public_at').on(t.isPublic, t.at, t.id),
  ],
);

/** Append-only. Listed by occurred_at; recorded_at says when Sitrep learned of it. */
export const timelineEvents = pgTable(
  'timeline_events',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    incidentId: integer('incident_id')
      .notNull()
      .references(() => incidents.id),
    occurredAt: bigint('occurred_at', { mode: 'number' }).notNull(),
    recordedAt: bigint('recorded_at', { mode: 'number' }).notNull(),
    actor: text('actor').notNull(),
    kind: text('kind', { enum: EVENT_KINDS }).notNull(),
    text: text('text').notNull(),
    payload: json('payload').$type<Record<string, unknown>>().notNull().default(sql`'{}'::json`),
  },
  (t) => [index('timeline_incident_occurred').on(t.incidentId, t.occurredAt, t.id)],
);

/**
 * Customer-facing texts: D-<id>. draft → approved → published, or draft → rejected. Each belongs to
 * an incident (incident_id and status set) or to a scheduled maintenance (maintenance_id and
 * maintenance_status set), never both: one numbering and one approval path for every word that
 * reaches customers.
 */
export const customerUpdates = pgTable(
  'customer_updates',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    incidentId: integer('incident_id').references(() => incidents.id),
    maintenanceId: integer('maintenance_id').references((): AnyPgColumn => maintenances.id),
    state: text('state', { enum: UPDATE_STATES }).notNull(),
    body: text('body').notNull(),
    status: text('status', { enum: INCIDENT_STATUSES }),
    // The status a maintenance's text announces; with moves_status, the status it moves the
    // maintenance to when published (`maintenance update M-n status:verifying …`).
    maintenanceStatus: text('maintenance_status', { enum: MAINTENANCE_STATUSES }),
    movesStatus: boolean('moves_status').notNull().default(false),
    componentChanges: json('component_changes').$type<Array<{ slug: string; status: string }>>().notNull().default(sql`'[]'::json`),
    template: text('template'),
    author: text('author').notNull(),
    approver: text('approver'),
    rejectReason: text('reject_reason'),
    isPostmortem: boolean('is_postmortem').notNull().default(false),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    approvedAt: bigint('approved_at', { mode: 'number' }),
    rejectedAt: bigint('rejected_at', { mode: 'number' }),
    publishedAt: bigint('published_at', { mode: 'number' }),
    displayAt: bigint('display_at', { mode: 'number' }).notNull(), // the `at:` time shown as "Posted …"
    nudgedAt: bigint('nudged_at', { mode: 'number' }),
  },
  (t) => [
    index('updates_incident').on(t.incidentId, t.state),
    index('updates_maintenance').on(t.maintenanceId, t.state),
    check(
      'updates_owner',
      sql.raw(
        '(incident_id is not null and status is not null and maintenance_id is null and maintenance_status is null) or (incident_id is null and status is null and maintenance_id is not null and maintenance_status is not null)',
      ),
    ),
  ],
);

/**
 * Scheduled maintenance: M-<id>. scheduled → in_progress → verifying (optional) → completed, or
 * scheduled → cancelled (the table is src/domain/maintenance.ts). The automatic start at starts_at
 * and completion at ends_at are the status change itself, made conditionally on the status it
 * leaves (`where status = 'scheduled'`) in the transaction that writes its notice: a restart, a
 * late scheduler or a second replica then finds it already done, and started_at / completed_at say
 * when it happened (the scheduled instant for an automatic one, however late it was applied).
 */
export const maintenances = pgTable(
  'maintenances',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(), // M-<id>
    title: text('title').notNull(),
    status: text('status', { enum: MAINTENANCE_STATUSES }).notNull(),
    startsAt: bigint('starts_at', { mode: 'number' }).notNull(), // the window, as scheduled
    endsAt: bigint('ends_at', { mode: 'number' }).notNull(),
    // Statuspage's scheduled_auto_in_progress / scheduled_auto_completed.
    autoStart: boolean('auto_start').notNull().default(true),
    autoComplete: boolean('auto_complete').notNull().default(true),
    createdBy: text('created_by').notNull(),
    scheduledAt: bigint('scheduled_at', { mode: 'number' }).notNull(), // when it was scheduled (`at:`)
    recordedAt: bigint('recorded_at', { mode: 'number' }).notNull(),
    // When each status was first reached (null until then).
    startedAt: bigint('started_at', { mode: 'number' }),
    verifyingAt: bigint('verifying_at', { mode: 'number' }),
    completedAt: bigint('completed_at', { mode: 'number' }),
    cancelledAt: bigint('cancelled_at', { mode: 'number' }),
    // Public state: what its last published customer-facing text said (null until the announcement
    // is published), and when the first one was.
    publicStatus: text('public_status', { enum: MAINTENANCE_STATUSES }),
    publishedAt: bigint('published_at', { mode: 'number' }),
    updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
  },
  (t) => [
    // The scheduler's two questions, by index seek: scheduled ones whose start has come, and ones
    // in progress or verifying whose end has.
    index('maintenances_due_start').on(t.status, t.startsAt),
    index('maintenances_due_end').on(t.status, t.endsAt),
    // Public maintenances newest first, like incidents_published.
    index('maintenances_published').on(t.publishedAt, t.id),
  ],
);

/** The components a maintenance puts under_maintenance while it is in progress. */
export const maintenanceComponents = pgTable(
  'maintenance_components',
  {
    maintenanceId: integer('maintenance_id')
      .notNull()
      .references(() => maintenances.id),
    componentId: integer('component_id')
      .notNull()
      .references(() => components.id),
  },
  // By component too: recomputing a component's roll-up asks which maintenances hold it.
  (t) => [primaryKey({ columns: [t.maintenanceId, t.componentId] }), index('maintenance_components_component').on(t.componentId)],
);

/**
 * A maintenance's timeline, append-only, like timeline_events for an incident: scheduled, drafts
 * and their decisions, published texts, status changes (by hand or when due).
 */
export const maintenanceEvents = pgTable(
  'maintenance_events',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    maintenanceId: integer('maintenance_id')
      .notNull()
      .references(() => maintenances.id),
    occurredAt: bigint('occurred_at', { mode: 'number' }).notNull(),
    recordedAt: bigint('recorded_at', { mode: 'number' }).notNull(),
    actor: text('actor').notNull(),
    kind: text('kind', { enum: MAINTENANCE_EVENT_KINDS }).notNull(),
    text: text('text').notNull(),
    payload: json('payload').$type<Record<string, unknown>>().notNull().default(sql`'{}'::json`),
  },
  (t) => [index('maintenance_events_occurred').on(t.maintenanceId, t.occurredAt, t.id)],
);

/**
 * A maintenance's thread in a chat platform's incidents channel, like incident_threads: the channel
 * it was opened in (later events follow it there, wherever the incidents channel is bound by then)
 * and the root message's reference once posted. One per maintenance and platform.
 */
export const maintenanceThreads = pgTable(
  'maintenance_threads',
  {
    maintenanceId: integer('maintenance_id')
      .notNull()
      .references(() => maintenances.id),
    platform: text('platform', { enum: ['slack', 'teams'] }).notNull(),
    channel: text('channel').notNull(),
    rootRef: text('root_ref'), // message ts / activity id, once the root post is delivered
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.maintenanceId, t.platform] })],
);

/**
 * Reminders already sent, one per incident, kind and gap: `since` is when the gap began (the last
 * published customer update, or the declaration; the move to monitoring). The primary key is what
 * makes a reminder fire once per gap, across restarts and servers.
 */
export const reminders = pgTable(
  'reminders',
  {
    incidentId: integer('incident_id')
      .notNull()
      .references(() => incidents.id),
    kind: text('kind', { enum: ['cadence', 'monitoring'] }).notNull(),
    since: bigint('since', { mode: 'number' }).notNull(),
    firedAt: bigint('fired_at', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.incidentId, t.kind, t.since] })],
);

export const subscriptions = pgTable('subscriptions', {
  id: integer('id').primaryKey().generatedByDefaultAsIdentity(), // S-<id>
  target: text('target').notNull().unique(), // slack:C123, teams:<conv>, webhook:https://…
  kind: text('kind', { enum: ['slack', 'teams', 'webhook'] }).notNull(),
  components: json('components').$type<string[]>().notNull().default(sql`'[]'::json`),
  secret: text('secret'),
  createdBy: text('created_by').notNull(),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  // Set when deliveries stopped for good: the endpoint answered 410 Gone, or failed through its
  // whole retry schedule. Nothing is enqueued for a disabled subscription; `deliveries retry` of
  // one of its dead letters, or `subscribe` of the same target, enables it again.
  disabledAt: bigint('disabled_at', { mode: 'number' }),
  disabledCause: text('disabled_cause', { enum: ['gone', 'exhausted'] }),
  disabledReason: text('disabled_reason'),
});

export const approvers = pgTable('approvers', {
  userRef: text('user_ref').primaryKey(),
  addedBy: text('added_by').notNull(),
  addedAt: bigint('added_at', { mode: 'number' }).notNull(),
});

export const followups = pgTable('followups', {
  id: integer('id').primaryKey().generatedByDefaultAsIdentity(), // F-<id>
  incidentId: integer('incident_id')
    .notNull()
    .references(() => incidents.id),
  text: text('text').notNull(),
  owner: text('owner'),
  state: text('state', { enum: FOLLOWUP_STATES }).notNull().default('open'),
  createdBy: text('created_by').notNull(),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  doneAt: bigint('done_at', { mode: 'number' }),
});

export const templates = pgTable('templates', {
  name: text('name').primaryKey(),
  status: text('status', { enum: INCIDENT_STATUSES }),
  body: text('body').notNull(),
  createdBy: text('created_by').notNull(),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
});

/** Small key/value settings (e.g. the incidents channel bound with `channel incidents`). */
export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  updatedBy: text('updated_by').notNull(),
  updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
});

/** Where each incident's root message and thread live, per chat platform. */
export const incidentThreads = pgTable(
  'incident_threads',
  {
    incidentId: integer('incident_id')
      .notNull()
      .references(() => incidents.id),
    platform: text('platform', { enum: ['slack', 'teams'] }).notNull(),
    channel: text('channel').notNull(),
    rootRef: text('root_ref'), // message ts / activity id, once the root post is delivered
    dedicated: boolean('dedicated').notNull().default(false),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.incidentId, t.platform, t.channel] }), index('threads_channel_root').on(t.platform, t.channel, t.rootRef)],
);

/**
 * Every message that must leave the process. Written in the same transaction as the state change
 * that caused it; drained by src/mirror. `target` names the Target (e.g. `webhook:S-3`),
 * `orderKey` serialises deliveries per (incident, target).
 */
export const outbox = pgTable(
  'outbox',
  {
    id: integer('id').primaryKey().generatedByDefaultAsIdentity(),
    deliveryId: text('delivery_id').notNull().unique(), // stable id sent to the target (webhook-id)
    incidentId: integer('incident_id').references(() => incidents.id),
    target: text('target').notNull(),
    kind: text('kind').notNull(),
    payload: json('payload').$type<Record<string, unknown>>().notNull(),
    customerFacing: boolean('customer_facing').notNull().default(false),
    state: text('state', { enum: OUTBOX_STATES }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: bigint('next_attempt_at', { mode: 'number' }).notNull(),
    claimedUntil: bigint('claimed_until', { mode: 'number' }),
    lastError: text('last_error'),
    remoteRef: text('remote_ref'),
    foldedInto: integer('folded_into'),
    approvedAt: bigint('approved_at', { mode: 'number' }),
    deadlineAt: bigint('deadline_at', { mode: 'number' }),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    deliveredAt: bigint('delivered_at', { mode: 'number' }),
  },
  (t) => [
    index('outbox_due').on(t.state, t.nextAttemptAt),
    index('outbox_order').on(t.target, t.incidentId, t.id),
    // The worker's scheduling: each lane's oldest unfinished row (pending or in flight) is found by
    // seeking these, so a tick costs O(unfinished rows), not O(rows × lane history). They hold live
    // rows only, so delivered history (a month of it is kept) neither deepens the B-trees every
    // scheduling seek descends nor costs an index write when a row is delivered. SQLite uses a
    // partial index only for a query whose WHERE names its condition exactly: the worker's
    // statements say `state = 'pending'`, `state = 'in_flight'` and `state in ('pending',
    // 'in_flight')`, one index each.
    index('outbox_lane_live').on(t.state, t.target, t.incidentId, t.id).where(sql`state in ('pending', 'in_flight')`),
    index('outbox_lane_pending').on(t.state, t.target, t.incidentId, t.id).where(sql`state = 'pending'`),
    index('outbox_lane_in_flight').on(t.state, t.target, t.incidentId, t.id).where(sql`state = 'in_flight'`),
    // PostgreSQL only: the replicas' claim (db/queries/worker.pg.ts) walks due pending rows in
    // (next_attempt_at, id) order and stops at its batch of lane heads, instead of joining every
    // pending row with its lane's and sorting them all (a 100,000-row backlog: 290 ms a claim
    // without it, 2 ms with it). SQLite's worker finds heads its own way (db/queries/worker.ts).
    index('outbox_due_order').on(t.nextAttemptAt, t.id).where(sql`state = 'pending'`),
    // Counting what a claimed row folds in must not scan the table on every claim.
    index('outbox_folded_into').on(t.foldedInto),
    // Retention finds delivered rows past their age by seeking this, so a prune pass reads only
    // what it deletes, however much recent history there is.
    index('outbox_delivered_age').on(t.deliveredAt).where(sql`state = 'delivered'`),
  ],
);

/** Inbound platform events and interactions already handled (Slack retries; people double-click). */
export const processedEvents = pgTable(
  'processed_events',
  {
    platform: text('platform').notNull(),
    eventId: text('event_id').notNull(),
    at: bigint('at', { mode: 'number' }).notNull(),
  },
  (t) => [uniqueIndex('processed_events_key').on(t.platform, t.eventId)],
);

export const postmortems = pgTable('postmortems', {
  incidentId: integer('incident_id')
    .primaryKey()
    .references(() => incidents.id),
  markdown: text('markdown').notNull(),
  publicBody: text('public_body'),
  publishedAt: bigint('published_at', { mode: 'number' }),
  updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
});

/**
 * Requests a chat platform was told "received" (a 2xx) whose work has not been applied yet. The
 * raw request is written here in one insert before the answer goes out; the work that applies it
 * deletes its row in the same transaction as the command's own writes, so a row still here after a
 * crash is a request that was acknowledged and not applied, and start-up replays it (oldest id
 * first). Holds the request only, never a reply: a reply may carry a webhook signing secret.
 */
export const inbox = pgTable('inbox', {
  id: integer('id').primaryKey().generatedByDefaultAsIdentity(), // arrival order: replays run in this order
  platform: text('platform', { enum: ['slack', 'teams'] }).notNull(),
  receivedAt: bigint('received_at', { mode: 'number' }).notNull(),
  contentType: text('content_type').notNull(),
  body: text('body').notNull(), // exactly as received (and signature-verified)
});

/**
 * PostgreSQL only: one row whose counter every write transaction of a PgStore adds one to just
 * before it commits (db/store.pg.ts), so `store.version()` changes when any replica or CLI run
 * commits a write, and is read with one primary-key lookup. Not part of the row types the engines
 * share.
 */
export const dataVersion = pgTable('data_version', {
  id: integer('id').primaryKey(),
  n: bigint('n', { mode: 'number' }).notNull(),
});
