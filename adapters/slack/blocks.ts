import type { ActionsBlock, Button, KnownBlock, MrkdwnElement, PlainTextElement } from '@slack/types';
import type { EventKind, MaintenanceEventKind } from '../../src/domain/enums.js';
import { COMPONENT_STATUSES, INCIDENT_STATUSES } from '../../src/domain/enums.js';
import type { IncidentView } from '../../src/render/incident.js';
import { formatDuration } from '../../src/render/time.js';
import { recordedLate, type DraftDecision, type DraftForApproval, type MaintenanceThreadView, type ThreadEvent } from '../../src/render/thread.js';
import { clip, dateToken, escapeKeepingMentions, escapeMrkdwn, userMrkdwn } from './mrkdwn.js';

// Block Kit for the incident's root message, its thread replies, the approval request and the
// modals. Pure functions of their inputs (no db, no clock of their own) so tests can pin them.

/** A modal or a modal's part (views.open); messages are typed with @slack/types' KnownBlock. */
export type Block = Record<string, unknown>;
export interface SlackMessage {
  text: string;
  blocks: KnownBlock[];
}

/** action_id / callback_id values: the manifest test and the handlers both use these. */
export const ACTIONS = {
  openUpdate: 'sitrep_open_update',
  openDraft: 'sitrep_open_draft',
  openResolve: 'sitrep_open_resolve',
  reopen: 'sitrep_reopen',
  approve: 'sitrep_approve',
  editApprove: 'sitrep_edit_approve',
  reject: 'sitrep_reject',
} as const;

export const VIEWS = {
  declare: 'sitrep_declare',
  update: 'sitrep_update',
  draft: 'sitrep_draft',
  resolve: 'sitrep_resolve',
  approveEdit: 'sitrep_approve_edit',
  reject: 'sitrep_reject',
} as const;

const STATUS_EMOJI: Record<string, string> = {
  investigating: ':red_circle:',
  identified: ':large_orange_circle:',
  monitoring: ':large_blue_circle:',
  resolved: ':white_check_mark:',
};

const label = (s: string) => s.replace(/_/g, ' ');
const mrkdwn = (text: string): MrkdwnElement => ({ type: 'mrkdwn', text });
const plain = (text: string, max = 75): PlainTextElement => ({ type: 'plain_text', text: clip(text, max), emoji: true });

function button(text: string, actionId: string, value: string, style?: 'primary' | 'danger'): Button {
  return { type: 'button', text: plain(text), action_id: actionId, value, ...(style ? { style } : {}) };
}

/** The incident's live card. Re-rendered from the database on every change (chat.update). */
export function rootMessage(v: IncidentView, zone: string, now: number): SlackMessage {
  const title = `${v.id} · ${v.title}`;
  const duration = v.resolvedAt !== null ? formatDuration(v.resolvedAt - v.startedAt) : `${formatDuration(now - v.startedAt)} so far`;
  const fields = [
    mrkdwn(`*Status*\n${STATUS_EMOJI[v.status] ?? ''} ${label(v.status)}`),
    mrkdwn(`*Severity*\nsev${v.severity}`),
    mrkdwn(`*Lead*\n${userMrkdwn(v.lead)}`),
    mrkdwn(`*Duration*\n${duration} (started ${dateToken(v.startedAt, zone)})`),
  ];
  const comps = v.components.length ? v.components.map((c) => `• ${escapeMrkdwn(c.name)}: ${label(c.status)}`).join('\n') : '_none affected_';
  const last = v.lastCustomerUpdate
    ? `*Last customer update* (${v.lastCustomerUpdate.id}, ${label(v.lastCustomerUpdate.status)}, ${dateToken(v.lastCustomerUpdate.at, zone)})\n>${escapeMrkdwn(clip(v.lastCustomerUpdate.body, 2500)).replace(/\n/g, '\n>')}`
    : '*Last customer update*\n_none yet: not public_';
  const blocks: KnownBlock[] = [
    { type: 'header', text: plain(`${STATUS_EMOJI[v.status] ?? ''} ${title}`, 150) },
    { type: 'section', fields },
    { type: 'section', text: mrkdwn(`*Components*\n${comps}`) },
    { type: 'section', text: mrkdwn(last) },
  ];
  if (v.pendingDrafts.length) {
    blocks.push({
      type: 'context',
      elements: [mrkdwn(`Awaiting approval: ${v.pendingDrafts.map((d) => `${d.id} by ${userMrkdwn(d.author)}`).join(', ')}`)],
    });
  }
  const buttons: ActionsBlock['elements'] =
    v.status === 'resolved'
      ? [button('Update', ACTIONS.openUpdate, v.id), button('Draft customer update', ACTIONS.openDraft, v.id), button('Reopen', ACTIONS.reopen, v.id)]
      : [
          button('Update', ACTIONS.openUpdate, v.id),
          button('Draft customer update', ACTIONS.openDraft, v.id),
          button('Resolve', ACTIONS.openResolve, v.id, 'primary'),
        ];
  blocks.push({ type: 'actions', block_id: 'sitrep_root_actions', elements: buttons });
  // `text` is what notifications and screen readers get; it must not ping either.
  return { text: `${title}: ${label(v.status)}, sev${v.severity}`.replace(/[<>&]/g, ' '), blocks };
}

const MAINTENANCE_EMOJI: Record<string, string> = {
  scheduled: ':calendar:',
  in_progress: ':hammer_and_wrench:',
  verifying: ':mag:',
  completed: ':white_check_mark:',
  cancelled: ':no_entry_sign:',
};

/**
 * A scheduled maintenance's root message in the incidents channel: status, window, components and
 * what customers were last told. Re-rendered from the database on every change (chat.update).
 */
export function maintenanceRootMessage(v: MaintenanceThreadView, zone: string): SlackMessage {
  const title = `${v.id} · ${v.title}`;
  const emoji = MAINTENANCE_EMOJI[v.status] ?? '';
  const window = `${dateToken(v.startsAt, zone)} to ${dateToken(v.endsAt, zone)}`;
  const actual = [
    v.startedAt !== null ? `started ${dateToken(v.startedAt, zone)}` : '',
    v.finishedAt !== null ? `${v.status === 'cancelled' ? 'cancelled' : 'completed'} ${dateToken(v.finishedAt, zone)}` : '',
  ].filter(Boolean);
  const fields = [mrkdwn(`*Status*\n${emoji} ${label(v.status)}`), mrkdwn(`*Window*\n${window}${actual.length ? `\n_${actual.join(', ')}_` : ''}`)];
  const comps = v.components.length ? v.components.map((c) => `• ${escapeMrkdwn(c)}`).join('\n') : '_none named_';
  const last = v.lastCustomerText
    ? `*Last customer text* (${v.lastCustomerText.id}, ${label(v.lastCustomerText.status)}, ${dateToken(v.lastCustomerText.at, zone)})\n>${escapeMrkdwn(clip(v.lastCustomerText.body, 2500)).replace(/\n/g, '\n>')}`
    : '*Last customer text*\n_none yet: not announced_';
  const blocks: KnownBlock[] = [
    { type: 'header', text: plain(`${emoji} Maintenance ${title}`, 150) },
    { type: 'section', fields },
    { type: 'section', text: mrkdwn(`*Components*\n${clip(comps, 2900)}`) },
    { type: 'section', text: mrkdwn(last) },
  ];
  if (v.pendingDrafts.length) {
    blocks.push({
      type: 'context',
      elements: [mrkdwn(`Awaiting approval: ${v.pendingDrafts.map((d) => `${d.id} by ${userMrkdwn(d.author)}`).join(', ')}`)],
    });
  }
  return { text: `Maintenance ${title}: ${label(v.status)}`.replace(/[<>&]/g, ' '), blocks };
}

// Partial on purpose: a new event kind gets a plain label instead of breaking the build.
const KIND_LABEL: Partial<Record<EventKind | MaintenanceEventKind, string>> = {
  declared: ':rotating_light: Declared',
  scheduled: ':calendar: Scheduled',
  status_changed: ':arrows_counterclockwise: Status',
  severity_changed: ':warning: Severity',
  role_assigned: ':bust_in_silhouette: Role',
  components_changed: ':jigsaw: Components',
  update: ':memo: Update',
  note: ':spiral_note_pad: Note',
  draft_created: ':pencil2: Draft',
  draft_approved: ':ballot_box_with_check: Approved',
  draft_rejected: ':no_entry_sign: Rejected',
  published: ':mega: Published',
  resolved: ':white_check_mark: Resolved',
  reopened: ':repeat: Reopened',
  followup_added: ':clipboard: Follow-up',
  followup_done: ':heavy_check_mark: Follow-up done',
  followup_edited: ':pencil: Follow-up edited',
  paged: ':rotating_light: Paged',
  reminder: ':alarm_clock: Reminder',
  pinned: ':pushpin: Pinned',
  postmortem_published: ':books: Postmortem',
  delivery_failed: ':x: Delivery failed',
};

/** One timeline event as a thread reply; the time is a date token (each reader's own zone). */
export function threadReply(e: ThreadEvent, incidentRef: string, zone: string): SlackMessage {
  const late = recordedLate(e) ? ` · recorded ${dateToken(e.recordedAt, zone)}` : '';
  const head = `*${KIND_LABEL[e.kind] ?? label(e.kind)}* · ${dateToken(e.occurredAt, zone)} · ${userMrkdwn(e.actor)}${late}`;
  const body = escapeKeepingMentions(clip(e.text, 2800));
  return {
    text: `${incidentRef} ${label(e.kind)}: ${e.text}`.replace(/[<>&]/g, ' ').slice(0, 300),
    blocks: [{ type: 'section', text: mrkdwn(`${head}\n${body}`) }],
  };
}

/** Posted in the thread when a customer-facing draft waits for approval. */
export function approvalRequest(d: DraftForApproval): SlackMessage {
  return {
    text: `${d.id} for ${d.incident} needs approval`,
    blocks: [
      {
        type: 'section',
        text: mrkdwn(
          `*:pencil2: ${d.id} needs approval* (customer-facing, ${label(d.status)}) by ${userMrkdwn(d.author)}\n>${escapeMrkdwn(clip(d.body, 2500)).replace(/\n/g, '\n>')}`,
        ),
      },
      {
        type: 'actions',
        block_id: 'sitrep_approval',
        elements: [
          button('Approve', ACTIONS.approve, d.id, 'primary'),
          button('Edit & approve', ACTIONS.editApprove, d.id),
          button('Reject', ACTIONS.reject, d.id, 'danger'),
        ],
      },
    ],
  };
}

/** Replaces the approval request once decided, so its buttons cannot be pressed again. */
export function approvalDecided(d: DraftDecision): SlackMessage {
  const head =
    d.decision === 'published'
      ? `*:ballot_box_with_check: ${d.id} approved${d.by ? ` by ${userMrkdwn(d.by)}` : ''} and published*`
      : `*:no_entry_sign: ${d.id} rejected${d.by ? ` by ${userMrkdwn(d.by)}` : ''}*${d.reason ? `: ${escapeMrkdwn(clip(d.reason, 500))}` : ''}`;
  return {
    text: `${d.id} ${d.decision}`,
    blocks: [{ type: 'section', text: mrkdwn(`${head}\n>${escapeMrkdwn(clip(d.body, 2500)).replace(/\n/g, '\n>')}`) }],
  };
}

/** Posted in the incidents channel when the incident lives in its own channel. */
export function channelLink(incidentRef: string, title: string, channel: string): SlackMessage {
  return {
    text: `${incidentRef} is handled in its own channel`,
    blocks: [{ type: 'section', text: mrkdwn(`:rotating_light: *${incidentRef} · ${escapeMrkdwn(title)}* is handled in <#${channel}>`) }],
  };
}

// --- modals ---------------------------------------------------------------------------------

export interface ViewMeta {
  channel?: string;
  incidentId?: number;
  draftId?: number;
  threadTs?: string;
}

const input = (blockId: string, labelText: string, element: Block, optional = false, hint?: string): Block => ({
  type: 'input',
  block_id: blockId,
  label: plain(labelText, 2000),
  element: { ...element, action_id: 'value' },
  optional,
  ...(hint ? { hint: plain(hint, 2000) } : {}),
});

const option = (text: string, value: string) => ({ text: plain(text), value });

function modal(callbackId: string, title: string, submit: string, blocks: Block[], meta: ViewMeta): Block {
  return {
    type: 'modal',
    callback_id: callbackId,
    title: plain(title, 24),
    submit: plain(submit, 24),
    close: plain('Cancel', 24),
    private_metadata: JSON.stringify(meta),
    blocks,
  };
}

const statusSelect = (optional: boolean, initial?: string) => ({
  type: 'static_select',
  options: INCIDENT_STATUSES.map((s) => option(label(s), s)),
  ...(initial ? { initial_option: option(label(initial), initial) } : {}),
  ...(optional ? {} : {}),
});

/**
 * The declare modal. Components are one multi-select whose option groups are the catalogue's
 * components and whose options are statuses ("api=major_outage"), so one control sets both.
 */
export function declareModal(components: Array<{ slug: string; name: string }>, declarer: string, meta: ViewMeta): Block {
  const bad = COMPONENT_STATUSES.filter((s) => s !== 'operational');
  const groups = components.slice(0, 100 / bad.length).map((c) => ({
    label: plain(c.name, 75),
    options: bad.map((s) => option(`${clip(c.name, 40)}: ${label(s)}`, `${c.slug}=${s}`)),
  }));
  const blocks: Block[] = [
    input('title', 'Title', { type: 'plain_text_input', max_length: 200, placeholder: plain('Checkout errors for EU customers') }),
    input('severity', 'Severity', {
      type: 'static_select',
      options: [1, 2, 3, 4].map((n) => option(`sev${n}${n === 1 ? ' (worst)' : ''}`, String(n))),
      initial_option: option('sev3', '3'),
    }),
  ];
  if (groups.length) {
    blocks.push(
      input('components', 'Affected components', { type: 'multi_static_select', option_groups: groups }, true, 'Pick a status for each affected component'),
    );
  }
  const lead = /^slack:([UW][A-Z0-9]+)$/.exec(declarer)?.[1];
  blocks.push(
    input('lead', 'Lead', { type: 'users_select', ...(lead ? { initial_user: lead } : {}) }, true),
    input('started', 'Impact started at', { type: 'datetimepicker' }, true, 'Leave empty for now'),
    input(
      'dedicated',
      'Channel',
      {
        type: 'checkboxes',
        options: [
          option('Create a dedicated channel for this incident', 'yes'),
          // visibility:private, for a modal declare: its own private channel, off every public surface.
          option('Private: its own private channel, kept off the status page', 'private'),
        ],
      },
      true,
    ),
  );
  return modal(VIEWS.declare, 'Declare an incident', 'Declare', blocks, meta);
}

export function updateModal(incident: string, status: string, meta: ViewMeta): Block {
  return modal(
    VIEWS.update,
    `Update ${incident}`,
    'Post update',
    [
      input('status', 'Status', statusSelect(false, status)),
      input(
        'text',
        'Internal update',
        { type: 'plain_text_input', multiline: true, max_length: 3000 },
        false,
        'Goes to the timeline and this thread only; never to customers',
      ),
    ],
    meta,
  );
}

export function draftModal(incident: string, status: string, meta: ViewMeta): Block {
  return modal(
    VIEWS.draft,
    `Customer update`,
    'Submit draft',
    [
      input('status', 'Status shown to customers', statusSelect(false, status)),
      input(
        'text',
        `What customers read (${incident})`,
        { type: 'plain_text_input', multiline: true, max_length: 3000 },
        false,
        'Published once an approver approves it',
      ),
    ],
    meta,
  );
}

export function resolveModal(incident: string, meta: ViewMeta): Block {
  return modal(
    VIEWS.resolve,
    `Resolve ${incident}`,
    'Resolve',
    [
      input(
        'text',
        'Customer-facing message',
        { type: 'plain_text_input', multiline: true, max_length: 3000 },
        true,
        'Optional; it follows the approval policy',
      ),
    ],
    meta,
  );
}

export function approveEditModal(draftId: string, body: string, meta: ViewMeta): Block {
  return modal(
    VIEWS.approveEdit,
    `Approve ${draftId}`,
    'Approve',
    [input('text', 'Customer-facing text', { type: 'plain_text_input', multiline: true, max_length: 3000, initial_value: clip(body, 3000) })],
    meta,
  );
}

export function rejectModal(draftId: string, meta: ViewMeta): Block {
  return modal(
    VIEWS.reject,
    `Reject ${draftId}`,
    'Reject',
    [input('reason', 'Why (the author is told)', { type: 'plain_text_input', multiline: true, max_length: 2000 })],
    meta,
  );
}
