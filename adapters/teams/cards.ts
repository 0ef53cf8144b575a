import type { EventKind, MaintenanceEventKind } from '../../src/domain/enums.js';
import type { IncidentView } from '../../src/render/incident.js';
import { recordedLate, type DraftDecision, type DraftForApproval, type MaintenanceThreadView, type ThreadEvent } from '../../src/render/thread.js';
import { formatClock, formatDuration, formatPosted } from '../../src/render/time.js';

// Adaptive Cards for the incident's root post, its thread replies, the approval request and the
// customer channels. Pure functions of their inputs (no db, no clock of their own).
//
// Every string that came from a person goes through `md()` (TextBlock markdown) or `plain()`
// (button titles, input placeholders): a title like `[click](http://evil)` or `<at>everyone</at>`
// is shown as typed and never becomes a link, a mention or formatting. The cards never carry
// `msteams.entities`, so nothing in them can mention anyone.

// --- Adaptive Card types ------------------------------------------------------------------------
// A precise local subset of the Adaptive Card 1.4 schema (adaptivecards.io/schemas/adaptive-card.json):
// the elements and actions these cards use, with the values the schema allows. The `adaptivecards`
// npm package is a renderer whose object model is classes, not these JSON shapes, so it is not used.

type Spacing = 'None' | 'Small' | 'Default' | 'Medium' | 'Large' | 'ExtraLarge' | 'Padding';
export interface TextBlock {
  type: 'TextBlock';
  text: string;
  wrap?: boolean;
  size?: 'Small' | 'Default' | 'Medium' | 'Large' | 'ExtraLarge';
  weight?: 'Lighter' | 'Default' | 'Bolder';
  color?: 'default' | 'dark' | 'light' | 'accent' | 'good' | 'warning' | 'attention';
  isSubtle?: boolean;
  spacing?: Spacing;
}
export interface FactSet {
  type: 'FactSet';
  facts: Array<{ title: string; value: string }>;
}
export interface Container {
  type: 'Container';
  style?: 'default' | 'emphasis' | 'good' | 'attention' | 'warning' | 'accent';
  items: CardElement[];
}
export interface InputText {
  type: 'Input.Text';
  id: string;
  isMultiline?: boolean;
  placeholder?: string;
  isRequired?: boolean;
  maxLength?: number;
}
export type CardElement = TextBlock | FactSet | Container | InputText;

export interface ActionExecute {
  type: 'Action.Execute';
  title: string;
  verb: string;
  data: Record<string, string>;
  style?: 'default' | 'positive' | 'destructive';
}
export interface ActionShowCard {
  type: 'Action.ShowCard';
  title: string;
  card: AdaptiveCard;
}
export interface ActionOpenUrl {
  type: 'Action.OpenUrl';
  title: string;
  url: string;
}
/** A dialog's (task module's) submit button: Teams sends its data back as a submitAction invoke. */
export interface ActionSubmit {
  type: 'Action.Submit';
  title: string;
  data: Record<string, string>;
  style?: 'default' | 'positive' | 'destructive';
}
export type CardAction = ActionExecute | ActionShowCard | ActionOpenUrl | ActionSubmit;

export interface AdaptiveCard {
  type: 'AdaptiveCard';
  $schema: string;
  version: string;
  body: CardElement[];
  actions?: CardAction[];
}
export type Card = AdaptiveCard;
export const CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';

/** What our buttons send back (Action.Execute `data` / Action.Submit `value`). */
export const ACTIONS = {
  update: 'sitrep.update',
  draft: 'sitrep.draft',
  resolve: 'sitrep.resolve',
  reopen: 'sitrep.reopen',
  approve: 'sitrep.approve',
  reject: 'sitrep.reject',
} as const;

const ZWSP = '\u200B';

/**
 * Escapes text for an Adaptive Card TextBlock (markdown subset): markdown punctuation gets a
 * backslash, `<` is followed by a zero-width space so `<at>…</at>` and HTML never parse, and a
 * leading list/heading/quote marker on a line is escaped too.
 */
export function md(text: string): string {
  return (
    text
      .replace(/[\\`*_[\]~]/g, (c) => `\\${c}`)
      .replace(/</g, `<${ZWSP}`)
      // Teams expands {{DATE(…)}} and {{TIME(…)}} in TextBlocks: approved text must read as approved.
      .replace(/\{\{/g, `{${ZWSP}{`)
      // A backslash escapes punctuation only: a list number keeps its digits and escapes the dot.
      .replace(/^(\s*)(?:([#>+-])|(\d+)\.)/gm, (_m, sp: string, mark: string | undefined, num: string | undefined) =>
        mark !== undefined ? `${sp}\\${mark}` : `${sp}${num}\\.`,
      )
  );
}

/**
 * Plain text (replies to people, notification summaries): no markdown is parsed there, but an
 * `<at>…</at>` must still never become a mention, so it gets a zero-width space after its `<`.
 */
export function plain(text: string, max = 200): string {
  return clip(text, max).replace(/<(\/?at\b)/gi, `<${ZWSP}$1`);
}

export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

const label = (s: string) => s.replace(/_/g, ' ');
const STATUS_ICON: Record<string, string> = { investigating: '🔴', identified: '🟠', monitoring: '🔵', resolved: '✅', postmortem: '📚' };
const STATUS_COLOR: Record<string, TextBlock['color']> = { investigating: 'attention', identified: 'warning', monitoring: 'accent', resolved: 'good' };

/** A user ref as shown on a card: `teams:<id>` refs have no name we can trust, so the id stays plain. */
export function userText(ref: string | null | undefined): string {
  if (!ref) return '—';
  if (ref.startsWith('cli:')) return md(`@${ref.slice(4)}`);
  return md(ref);
}

function text(t: string, extra: Omit<Partial<TextBlock>, 'type' | 'text'> = {}): TextBlock {
  return { type: 'TextBlock', text: t, wrap: true, ...extra };
}

function card(body: CardElement[], actions: CardAction[] = []): AdaptiveCard {
  return {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.4',
    body,
    ...(actions.length ? { actions } : {}),
  };
}

/** A button that opens a small form (one text input) and sends `verb` with the typed text. */
function formButton(title: string, verb: string, data: Record<string, string>, input: { id: string; placeholder: string; required: boolean }): ActionShowCard {
  return {
    type: 'Action.ShowCard',
    title,
    card: card(
      [{ type: 'Input.Text', id: input.id, isMultiline: true, placeholder: input.placeholder, isRequired: input.required, maxLength: 10_000 }],
      [{ type: 'Action.Execute', title: 'Send', verb, data: { sitrep: verb, ...data } }],
    ),
  };
}

/** The incident's live card. Re-rendered from the database on every change (updateActivity). */
export function rootCard(v: IncidentView, zone: string, now: number): Card {
  const duration = v.resolvedAt !== null ? formatDuration(v.resolvedAt - v.startedAt) : `${formatDuration(now - v.startedAt)} so far`;
  const facts = [
    { title: 'Status', value: `${STATUS_ICON[v.status] ?? ''} ${label(v.status)}` },
    { title: 'Severity', value: `sev${v.severity}` },
    { title: 'Lead', value: userText(v.lead) },
    { title: 'Duration', value: `${duration} (started ${formatClock(v.startedAt, zone, true)})` },
  ];
  const comps = v.components.length
    ? v.components.map((c) => ({ title: md(c.name), value: label(c.status) }))
    : [{ title: 'Components', value: 'none affected' }];
  const last = v.lastCustomerUpdate
    ? [
        text(
          `**Last customer update** (${v.lastCustomerUpdate.id}, ${label(v.lastCustomerUpdate.status)}, ${formatClock(v.lastCustomerUpdate.at, zone, true)})`,
          { spacing: 'Medium' },
        ),
        text(md(clip(v.lastCustomerUpdate.body, 2500)), { isSubtle: true }),
      ]
    : [text('**Last customer update**: none yet (not public)', { spacing: 'Medium' })];
  const body: CardElement[] = [
    text(`${STATUS_ICON[v.status] ?? ''} ${v.id} · ${md(v.title)}`, { size: 'Large', weight: 'Bolder', color: STATUS_COLOR[v.status] ?? 'default' }),
    { type: 'FactSet', facts },
    text('**Components**', { spacing: 'Medium' }),
    { type: 'FactSet', facts: comps },
    ...last,
  ];
  if (v.pendingDrafts.length) {
    body.push(text(`Awaiting approval: ${v.pendingDrafts.map((d) => `${d.id} by ${userText(d.author)}`).join(', ')}`, { isSubtle: true, size: 'Small' }));
  }
  const ref = { incident: v.id };
  const actions: CardAction[] =
    v.status === 'resolved'
      ? [
          formButton('Update', ACTIONS.update, ref, { id: 'text', placeholder: 'What changed? (internal)', required: true }),
          formButton('Draft customer update', ACTIONS.draft, ref, { id: 'text', placeholder: 'Customer-facing wording', required: true }),
          { type: 'Action.Execute', title: 'Reopen', verb: ACTIONS.reopen, data: { sitrep: ACTIONS.reopen, ...ref } },
        ]
      : [
          formButton('Update', ACTIONS.update, ref, { id: 'text', placeholder: 'What changed? (internal)', required: true }),
          formButton('Draft customer update', ACTIONS.draft, ref, { id: 'text', placeholder: 'Customer-facing wording', required: true }),
          formButton('Resolve', ACTIONS.resolve, ref, { id: 'text', placeholder: 'Customer-facing closing note (optional)', required: false }),
        ];
  return card(body, actions);
}

const MAINTENANCE_ICON: Record<string, string> = { scheduled: '📅', in_progress: '🛠️', verifying: '🔍', completed: '✅', cancelled: '🚫' };
const MAINTENANCE_COLOR: Record<string, TextBlock['color']> = { scheduled: 'accent', in_progress: 'warning', verifying: 'accent', completed: 'good' };

/**
 * A scheduled maintenance's root card in the incidents channel: status, window, components and
 * what customers were last told. Re-rendered from the database on every change (updateActivity).
 */
export function maintenanceRootCard(v: MaintenanceThreadView, zone: string): Card {
  const facts = [
    { title: 'Status', value: `${MAINTENANCE_ICON[v.status] ?? ''} ${label(v.status)}` },
    { title: 'Window', value: `${formatClock(v.startsAt, zone, true)} to ${formatClock(v.endsAt, zone, true)}` },
    ...(v.startedAt !== null ? [{ title: 'Started', value: formatClock(v.startedAt, zone, true) }] : []),
    ...(v.finishedAt !== null ? [{ title: v.status === 'cancelled' ? 'Cancelled' : 'Completed', value: formatClock(v.finishedAt, zone, true) }] : []),
    { title: 'Components', value: v.components.length ? v.components.map(md).join(', ') : 'none named' },
  ];
  const last = v.lastCustomerText
    ? [
        text(`**Last customer text** (${v.lastCustomerText.id}, ${label(v.lastCustomerText.status)}, ${formatClock(v.lastCustomerText.at, zone, true)})`, {
          spacing: 'Medium',
        }),
        text(md(clip(v.lastCustomerText.body, 2500)), { isSubtle: true }),
      ]
    : [text('**Last customer text**: none yet (not announced)', { spacing: 'Medium' })];
  const body: CardElement[] = [
    text(`${MAINTENANCE_ICON[v.status] ?? ''} Maintenance ${v.id} · ${md(v.title)}`, {
      size: 'Large',
      weight: 'Bolder',
      color: MAINTENANCE_COLOR[v.status] ?? 'default',
    }),
    { type: 'FactSet', facts },
    ...last,
  ];
  if (v.pendingDrafts.length) {
    body.push(text(`Awaiting approval: ${v.pendingDrafts.map((d) => `${d.id} by ${userText(d.author)}`).join(', ')}`, { isSubtle: true, size: 'Small' }));
  }
  return card(body);
}

const KIND_LABEL: Partial<Record<EventKind | MaintenanceEventKind, string>> = {
  declared: '🚨 Declared',
  scheduled: '📅 Scheduled',
  status_changed: '🔄 Status',
  severity_changed: '⚠️ Severity',
  role_assigned: '👤 Role',
  components_changed: '🧩 Components',
  update: '📝 Update',
  note: '🗒️ Note',
  draft_created: '✏️ Draft',
  draft_approved: '☑️ Approved',
  draft_rejected: '🚫 Rejected',
  published: '📣 Published',
  resolved: '✅ Resolved',
  reopened: '🔁 Reopened',
  followup_added: '📋 Follow-up',
  followup_done: '✔️ Follow-up done',
  followup_edited: '✏️ Follow-up edited',
  paged: '🚨 Paged',
  reminder: '⏰ Reminder',
  pinned: '📌 Pinned',
  postmortem_published: '📚 Postmortem',
  delivery_failed: '❌ Delivery failed',
};

/** One timeline event as a thread reply. */
export function eventCard(e: ThreadEvent, zone: string): Card {
  const late = recordedLate(e) ? ` · recorded ${formatClock(e.recordedAt, zone, true)}` : '';
  return card([
    text(`**${KIND_LABEL[e.kind] ?? label(e.kind)}** · ${formatClock(e.occurredAt, zone, true)} · ${userText(e.actor)}${late}`, {
      size: 'Small',
      isSubtle: true,
    }),
    text(md(clip(e.text, 2800))),
  ]);
}

/** Posted in the thread when a customer-facing draft waits for approval. */
export function approvalCard(d: DraftForApproval): Card {
  return card(
    [
      text(`**✏️ ${d.id} needs approval** (customer-facing, ${label(d.status)}) for ${d.incident} by ${userText(d.author)}`),
      { type: 'Container', style: 'emphasis', items: [text(md(clip(d.body, 2500)))] },
    ],
    [
      { type: 'Action.Execute', title: 'Approve', style: 'positive', verb: ACTIONS.approve, data: { sitrep: ACTIONS.approve, draft: d.id } },
      formButton('Reject', ACTIONS.reject, { draft: d.id }, { id: 'reason', placeholder: 'Why? The author sees this.', required: true }),
    ],
  );
}

/** The approval card once decided: buttons gone, the outcome shown. */
export function approvalDecidedCard(d: DraftDecision): Card {
  const head = d.decision === 'published' ? `**📣 ${d.id} approved and published** by ${userText(d.by)}` : `**🚫 ${d.id} rejected** by ${userText(d.by)}`;
  return card([
    text(head),
    { type: 'Container', style: 'emphasis', items: [text(md(clip(d.body, 2500)))] },
    ...(d.reason ? [text(`Reason: ${md(d.reason)}`, { isSubtle: true })] : []),
  ]);
}

export interface CustomerCardInput {
  incident: string;
  title: string;
  status: string;
  body: string;
  at: number;
  url: string;
  components: Array<{ name: string; status: string }>;
  zone: string;
}

const statusTitle = (s: string) => label(s).charAt(0).toUpperCase() + label(s).slice(1);

/** The incident's one card in a customer channel: title, public status, affected components. */
export function customerRootCard(p: CustomerCardInput): Card {
  const affected = p.components.filter((c) => c.status !== 'operational');
  const comps = affected.length ? affected.map((c) => `${md(c.name)}: ${label(c.status)}`).join(' · ') : 'No components affected';
  return card(
    [
      text(`${STATUS_ICON[p.status] ?? ''} ${md(p.title)}`, { size: 'Large', weight: 'Bolder' }),
      text(`**${statusTitle(p.status)}** · ${comps}`),
      text(`${p.incident} · last update ${formatClock(p.at, p.zone, true)} · updates in the replies`, { isSubtle: true, size: 'Small' }),
    ],
    [{ type: 'Action.OpenUrl', title: 'Status page', url: p.url }],
  );
}

/** One published update in a customer channel, as a reply under the incident's card. */
export function customerUpdateCard(p: CustomerCardInput, notices: string[]): Card {
  return card([
    text(`**${statusTitle(p.status)}**`),
    // Teams refuses cards over about 28 KB; the status page always has the full text.
    text(md(clip(p.body, 12_000))),
    text(`Posted ${formatClock(p.at, p.zone, true)}`, { isSubtle: true, size: 'Small' }),
    ...(notices.length ? [text(`_${md(notices.join(' '))}_`, { isSubtle: true, size: 'Small' })] : []),
  ]);
}

export interface MaintenanceCustomerCardInput {
  maintenance: string;
  title: string;
  status: string;
  body: string;
  at: number;
  startsAt: number;
  endsAt: number;
  url: string;
  components: string[];
  zone: string;
}

/** A scheduled maintenance's one card in a customer channel: title, status, window (SITREP_TIMEZONE), components. */
export function maintenanceCustomerRootCard(p: MaintenanceCustomerCardInput): Card {
  return card(
    [
      text(`${MAINTENANCE_ICON[p.status] ?? ''} Scheduled maintenance: ${md(p.title)}`, { size: 'Large', weight: 'Bolder' }),
      {
        type: 'FactSet',
        facts: [
          { title: 'Status', value: statusTitle(p.status) },
          { title: 'Window', value: `${formatPosted(p.startsAt, p.zone)} to ${formatPosted(p.endsAt, p.zone)}` },
          { title: 'Components', value: p.components.length ? p.components.map(md).join(', ') : 'No specific components' },
        ],
      },
      text(`${p.maintenance} · last update ${formatPosted(p.at, p.zone)} · updates in the replies`, { isSubtle: true, size: 'Small' }),
    ],
    [{ type: 'Action.OpenUrl', title: 'Status page', url: p.url }],
  );
}

/** One of a maintenance's public texts in a customer channel, as a reply under its card. */
export function maintenanceCustomerUpdateCard(p: MaintenanceCustomerCardInput, notices: string[]): Card {
  return card([
    text(`**${statusTitle(p.status)}**`),
    text(md(clip(p.body, 12_000))),
    text(`Posted ${formatPosted(p.at, p.zone)}`, { isSubtle: true, size: 'Small' }),
    ...(notices.length ? [text(`_${md(notices.join(' '))}_`, { isSubtle: true, size: 'Small' })] : []),
  ]);
}

/** Notification/fallback text for a card: plain, short, never a mention. */
export function summary(s: string): string {
  return plain(s.replace(/\s+/g, ' '), 280);
}

/**
 * The "Add to timeline" dialog: which incident the message goes to, the message as the timeline
 * will have it (clipped), and one button. The message and its author are escaped like every
 * other text on a card.
 */
export function pinConfirmCard(incident: string, author: string, messageText: string): Card {
  return card(
    [
      text(`Add this message to ${md(incident)}'s timeline?`, { weight: 'Bolder' }),
      text(md(author), { isSubtle: true, spacing: 'Small' }),
      text(md(clip(messageText || '(no text)', 500))),
    ],
    [{ type: 'Action.Submit', title: 'Add to timeline', data: { sitrepPin: 'confirm' }, style: 'positive' }],
  );
}
