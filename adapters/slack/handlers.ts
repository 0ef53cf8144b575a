import { z } from 'zod';
import type { AllMiddlewareArgs, App as BoltApp, SlackActionMiddlewareArgs, SlackViewMiddlewareArgs } from '@slack/bolt';
import { SlackApiError, type SlackWebApi } from './web-api.js';
import type { Db } from '../../db/client.js';
import type { Store, WriteTx } from '../../db/store.js';
import { componentNames } from '../../db/queries/components.js';
import { isOwnPost } from '../../db/queries/outbox.js';
import { homeThreadChannel, threadsInChannel } from '../../db/queries/threads.js';
import type { Scope } from '../../src/commands/context.js';
import type { Runner } from '../../src/commands/runner.js';
import type { Result } from '../../src/commands/run.js';
import { MAX_CUSTOMER_TEXT, MAX_TEXT, MAX_TITLE, checkInputText, type Command } from '../../src/commands/grammar.js';
import { helpText } from '../../src/commands/help.js';
import { getCustomerText } from '../../db/queries/drafts.js';
import { inboxIsSynchronous } from '../../db/queries/inbox.js';
import { findIncident, getIncident, incRef } from '../../db/queries/incidents.js';
import { addPrivateMember, removePrivateMember } from '../../db/queries/settings.js';
import { COMPONENT_STATUSES, INCIDENT_STATUSES, type ComponentStatus, type IncidentStatus, type Severity } from '../../src/domain/enums.js';
import { isSitrepError } from '../../src/domain/errors.js';
import { enqueue } from '../../src/mirror/enqueue.js';
import type { Logger } from '../../src/logger.js';
import { ACTIONS, VIEWS, approveEditModal, declareModal, draftModal, rejectModal, resolveModal, updateModal, type Block, type ViewMeta } from './blocks.js';
import { escapeKeepingMentions, fromSlackText } from './mrkdwn.js';
import { hasIncidentThreads, pinAnswer, recordSlackPin, slackScope } from './capture.js';
import { SLACK_HISTORY_TARGET } from './history.js';
import { threadTarget } from './outlet.js';
import type { InboxEntry, SlackInbox } from './inbox.js';
import { WorkQueue } from './queue.js';
import { postToResponseUrl } from './respond.js';

// What Slack users do, turned into commands. Every listener acknowledges first (Slack gives up after
// 3 s), then works. Commands run through the runner every surface uses (src/commands/runner.ts);
// their effects on Slack are outbox rows written by the Slack outlet, delivered by the worker.
//
// Every command Slack asks for (slash commands, buttons, modal submissions, mentions, pins) runs
// through one WorkQueue: in arrival order, so commands about one incident never overtake each other,
// and in short slices, so a burst of commands never holds up the acks of the requests behind it.
//
// Every request reaches a listener already committed to the inbox (see SlackIntake in inbox.ts). The work that
// applies it claims (deletes) its inbox row in the same transaction as the command's writes
// (`apply` below): a crash before that commit leaves the row for the start-up replay, a crash after
// it leaves nothing to replay, so an acknowledged command is applied exactly once.

export interface HandlerDeps {
  runner: Runner;
  db: Db;
  store: Store;
  now: () => number;
  log: Logger;
  web: SlackWebApi;
  /** Where command work waits for its turn (a default bounded queue when absent). */
  queue?: WorkQueue<WriteTx>;
  /** The inbox the receiver (HTTP or Socket Mode) commits requests to. */
  inbox?: SlackInbox;
}

/** Bot scopes each Web API method and event needs; the manifest test checks manifest.yml against it. */
export const USED_SCOPES = {
  methods: {
    'chat.postMessage': ['chat:write'],
    'chat.update': ['chat:write'],
    'chat.postEphemeral': ['chat:write'],
    'views.open': [],
    // A dedicated channel is public (channels:manage), a private incident's is private (groups:write).
    'conversations.create': ['channels:manage', 'groups:write'],
    'conversations.invite': ['channels:manage', 'groups:write'],
    'conversations.replies': ['channels:history', 'groups:history'],
  },
  commands: { '/incident': ['commands'] },
  /** Message shortcuts, by callback_id (shortcuts need the `commands` scope). */
  shortcuts: { sitrep_add_to_timeline: ['commands'] },
  events: {
    app_mention: ['app_mentions:read'],
    reaction_added: ['reactions:read'],
    // Who is in a private incident's channel (need to know); private channels only, so groups:read.
    member_joined_channel: ['groups:read'],
    member_left_channel: ['groups:read'],
  },
} as const;

const ephemeral = (text: string) => ({ response_type: 'ephemeral' as const, replace_original: false, text });

/** The inbox entry the receiver hands every listener (absent when it keeps no inbox). */
/** The one slash command the app answers (manifest.yml declares it; test/slack/manifest.test.ts checks). */
const SLASH_COMMAND = '/incident';

const entryOf = (context: Record<string, unknown>): InboxEntry | undefined => context.sitrepInbox as InboxEntry | undefined;

/** A reply that carries a webhook signing secret: shown to its reader only, and never stored. */
const carriesSecret = (result: Result) => result.ok && typeof result.reply.data.secret === 'string';

/**
 * A modal field through the checks a typed command's text gets (control characters, noncharacters,
 * lone surrogates, length), so a form is no way around them. Returns the trimmed text, or the
 * field error to show in the still-open modal.
 */
function checkedField(what: string, raw: string | undefined, max: number, block: string): { text: string } | { error: string; block: string } {
  const text = (raw ?? '').trim();
  try {
    checkInputText(what, text, max);
  } catch (e) {
    if (!isSitrepError(e)) throw e;
    return { error: e.message.charAt(0).toUpperCase() + e.message.slice(1), block };
  }
  return { text };
}

export function formatResult(result: Result): string {
  if (result.ok) return escapeKeepingMentions(result.reply.text);
  return `:warning: ${escapeKeepingMentions(result.error.message)}\nType \`/incident help\` to see how to write each command.`;
}

// --- payload shapes (only what we read; Slack sends much more) ---------------------------------

const commandSchema = z.object({
  text: z.string().default(''),
  user_id: z.string().min(1),
  channel_id: z.string().min(1),
  trigger_id: z.string().default(''),
  response_url: z.string().default(''),
});

const actionBodySchema = z.object({
  user: z.object({ id: z.string() }),
  trigger_id: z.string().default(''),
  response_url: z.string().optional(),
  channel: z.object({ id: z.string() }).nullish(),
  container: z.object({ message_ts: z.string().optional(), thread_ts: z.string().optional(), channel_id: z.string().optional() }).partial().nullish(),
  actions: z.array(z.object({ action_id: z.string(), value: z.string().default(''), action_ts: z.string().default('') })).min(1),
});

const viewBodySchema = z.object({
  user: z.object({ id: z.string() }),
  view: z.object({
    id: z.string(),
    callback_id: z.string(),
    private_metadata: z.string().default(''),
    state: z.object({ values: z.record(z.string(), z.record(z.string(), z.record(z.string(), z.unknown()))) }),
  }),
});

const metaSchema = z.object({
  channel: z.string().optional(),
  incidentId: z.number().int().optional(),
  draftId: z.number().int().optional(),
  threadTs: z.string().optional(),
});

const mentionSchema = z.object({
  event_id: z.string().optional(),
  event: z.object({ user: z.string(), text: z.string().default(''), channel: z.string(), ts: z.string(), thread_ts: z.string().optional() }),
});

const membershipSchema = z.object({
  event_id: z.string().optional(),
  event: z.object({
    type: z.enum(['member_joined_channel', 'member_left_channel']),
    user: z.string().regex(/^[UW][A-Z0-9]+$/),
    channel: z.string(),
    event_ts: z.string().optional(),
  }),
});

const reactionSchema = z.object({
  event_id: z.string().optional(),
  event: z.object({
    user: z.string(),
    reaction: z.string(),
    item: z.object({ type: z.string(), channel: z.string().optional(), ts: z.string().optional() }),
  }),
});

/** A message shortcut (`message_action`): the message it was used on, where, and by whom. */
const messageShortcutSchema = z.object({
  trigger_id: z.string().default(''),
  action_ts: z.string().default(''),
  response_url: z.string().optional(),
  user: z.object({ id: z.string().min(1) }),
  channel: z.object({ id: z.string().min(1) }),
  message: z.object({
    ts: z.string().min(1),
    thread_ts: z.string().optional(),
    user: z.string().optional(),
    bot_id: z.string().optional(),
    text: z.string().default(''),
  }),
});

/** View state values: { block_id: { action_id: element state } }. Our inputs use action_id "value". */
function field(values: Record<string, Record<string, Record<string, unknown>>>, block: string) {
  const el = values[block]?.value ?? {};
  const opt = z.object({ value: z.string() });
  return {
    text: z.string().nullish().catch(null).parse(el.value) ?? undefined,
    option: opt.nullish().catch(null).parse(el.selected_option)?.value,
    options:
      z
        .array(opt)
        .nullish()
        .catch(null)
        .parse(el.selected_options)
        ?.map((o) => o.value) ?? [],
    user: z.string().nullish().catch(null).parse(el.selected_user) ?? undefined,
    dateTime: z.number().nullish().catch(null).parse(el.selected_date_time) ?? undefined,
  };
}

export function registerHandlers(bolt: BoltApp, deps: HandlerDeps): void {
  const { runner, db, store, now, log, web, inbox } = deps;
  // One IMMEDIATE transaction per slice: one commit for a burst of commands (each still in its own
  // savepoint, so a refused one rolls back alone), and no lock upgrade to fail half-way.
  const queue = deps.queue ?? new WorkQueue<WriteTx>({ wrap: (slice) => store.transaction(slice) });
  // SQLite: reads run on the writer connection directly, as they always have (the ack's hot path).
  // PostgreSQL: `db` is no connection; a read outside the work queue goes through the store, and
  // work inside it reads in its slice's transaction (`within`).
  const onSqlite = inboxIsSynchronous(db);
  const read = <T>(fn: (h: Db) => Promise<T>): Promise<T> => (onSqlite ? fn(db) : store.read(fn));
  const inTx = (within: WriteTx | undefined): Db => within ?? db;

  /**
   * Queues the work that applies a request. It claims the request's inbox row first, in the same
   * transaction (the slice's) as the work's writes: both commit or neither does. A row already
   * claimed means the request was applied by another run (a second process replaying the same
   * file), and the work is skipped ('duplicate': nothing to reply, the other run replied).
   */
  function apply<T>(entry: InboxEntry | undefined, fn: (within: WriteTx | undefined) => Promise<T>): Promise<T | 'duplicate'> {
    const done = queue.run<T | 'duplicate'>((within) => {
      if (!entry || !inbox) return fn(within);
      const claimed = inbox.claim(entry.id, within);
      if (typeof claimed === 'boolean') return claimed ? fn(within) : ('duplicate' as const);
      return claimed.then((c): Promise<T | 'duplicate'> | 'duplicate' => (c ? fn(within) : 'duplicate'));
    });
    entry?.queued();
    return done.then((value) => {
      if (entry) entry.settled = true;
      return value;
    });
  }

  // Bolt runs every registered listener's middleware chain for every request, matching or not.
  // Buttons and modal submissions are therefore registered here and dispatched from one Bolt
  // listener each (see the end), with the same matching and the same all-that-match semantics.
  type ActionFn = (args: SlackActionMiddlewareArgs & AllMiddlewareArgs) => Promise<void>;
  type ViewFn = (args: SlackViewMiddlewareArgs & AllMiddlewareArgs) => Promise<void>;
  const actionFns: Array<[string | RegExp, ActionFn]> = [];
  const viewFns: Array<[string | RegExp, ViewFn]> = [];
  const on = {
    action: (id: string | RegExp, fn: ActionFn) => void actionFns.push([id, fn]),
    view: (id: string | RegExp, fn: ViewFn) => void viewFns.push([id, fn]),
  };

  /** The incident a channel (and thread) belongs to, if any. */
  function scopeFor(within: WriteTx | undefined, channel: string, threadTs?: string): Promise<Scope> {
    return slackScope(inTx(within), channel, threadTs);
  }

  /**
   * Runs `fn` once per `key`: the processed_events row and the command's writes commit together,
   * so a retried event or a double click is applied exactly once. A failed command rolls its key
   * back, so a corrected resubmission (same modal) still works.
   */
  function once<R extends { ok: boolean }>(
    within: WriteTx | undefined,
    key: string,
    fn: (tx: WriteTx) => Promise<R>,
    opts: { keepRefused?: boolean } = {},
  ): Promise<R | 'duplicate'> {
    return runner.once({ platform: 'slack', id: key }, fn, { ...opts, within });
  }

  /** The reply to a queued command once it has run (or failed to); null when another run applied it. */
  async function replyFor(done: Promise<Result | 'duplicate'>): Promise<string | null> {
    try {
      const result = await done;
      return result === 'duplicate' ? null : formatResult(result);
    } catch (err) {
      // The slice's transaction failed (e.g. the database stayed locked): nothing was written. The
      // person reads one line, with the reference id the log line carries.
      return formatResult(runner.failure(err, { platform: 'slack', what: 'a slash command could not be applied' }));
    }
  }

  /** A command built from modal fields or a button (no text to re-parse, no quoting games). */
  function runParsed(cmd: Command, actor: string, scope: Scope, within: WriteTx): Promise<Result> {
    return runner.run({ command: cmd }, actor, scope, {}, within);
  }

  /** Opens a modal; returns null or why not. A replayed click opens nothing: its trigger_id died 3 s after it. */
  async function openView(triggerId: string, view: Block, entry: InboxEntry | undefined): Promise<string | null> {
    if (entry?.replay) return null;
    try {
      await web.views.open({ trigger_id: triggerId, view: view as never });
      return null;
    } catch (err) {
      const code = slackErrorText(err);
      log.warn({ platform: 'slack', err: code }, 'views.open failed');
      return code;
    }
  }

  async function catalogue() {
    return await read((h) => componentNames(h));
  }

  // --- /incident ------------------------------------------------------------------------------

  // One listener for every command (Bolt runs each listener's matcher chain for every request, so
  // fewer listeners is less work on the ack's path): /incident, and a clear answer for any other.
  bolt.command(/^/, async ({ command, ack, respond, context }) => {
    if (command.command !== SLASH_COMMAND) {
      // Another command pointed at this app's URL gets a clear answer instead of Slack's timeout.
      await ack(ephemeral(`This app answers /incident only (got ${escapeKeepingMentions(command.command)}).`));
      return;
    }
    const entry = entryOf(context);
    const parsed = commandSchema.safeParse(command);
    if (!parsed.success) {
      await ack(ephemeral(':warning: Slack sent this command without a user or channel; please try again.'));
      return;
    }
    const c = parsed.data;
    const text = fromSlackText(c.text)
      .trim()
      .replace(/^incident\s+/i, '');
    const actor = `slack:${c.user_id}`;
    if (!text || /^help$/i.test(text)) {
      await ack(ephemeral(escapeKeepingMentions(helpText())));
      return;
    }
    if (/^declare$/i.test(text)) {
      // The trigger_id dies 3 s after the click: ack, then open the modal before anything slow.
      await ack();
      const failed = await openView(c.trigger_id, declareModal(await catalogue(), actor, { channel: c.channel_id }), entry);
      if (failed) await respond(ephemeral(`:warning: Could not open the declare form (${failed}). Type \`/incident declare <title> [sev:N]\` instead.`));
      return;
    }
    // Parsing is pure and fast; a typo is answered in the ack itself, and the parse is what runs.
    const line = runner.parse(text, 'slack');
    if (!line.ok) {
      await ack(ephemeral(formatResult(runner.failure(line.thrown, { platform: 'slack' }))));
      return;
    }
    // SQLite: one server per file, and Slack never resends a slash command, so nothing to key it
    // by (and nothing more on the ack's path). PostgreSQL: behind a load balancer the same request
    // may reach two replicas (a proxy retrying a slow answer): keyed by its trigger_id, unique per
    // invocation, it is applied once, and the second replica answers with nothing.
    const runCommand = async (within: WriteTx | undefined): Promise<Result | 'duplicate'> => {
      const scope = await scopeFor(within, c.channel_id);
      if (onSqlite || !c.trigger_id) return runner.run({ parsed: line }, actor, scope, {}, within);
      return once(within, `command:${c.trigger_id}`, (tx) => runner.run({ parsed: line }, actor, scope, {}, tx), { keepRefused: true });
    };
    // Not behind a replay: the command is applied first and acknowledged after its slice of the
    // queue has committed (with the commands that arrived in the same few milliseconds: one
    // commit), and the answer rides in the ack itself. Slack shows it to the person at once, with
    // no response_url round trip and no inbox row; the command is short database work, and
    // anything slow it causes goes out through the outbox.
    if (entry && !entry.stored) {
      await queue.room();
      const applied = queue.run(runCommand);
      entry.settled = true;
      await ack(ephemeral((await replyFor(applied)) ?? ''));
      return;
    }
    // Behind a replay (or with no inbox): acked at once, as the request is already in the inbox;
    // the result follows on response_url. Wait for room only when the queue is full. The work
    // runs from a later turn of the event loop, never before this ack is written.
    await queue.room();
    const done = apply(entry, runCommand);
    await ack();
    const reply = await replyFor(done);
    if (reply === null) return;
    // Ephemeral, to the person who typed it: this is the one place a webhook's signing secret
    // is shown (never in the channel, the outbox or a log line).
    if (c.response_url) {
      await postToResponseUrl(c.response_url, ephemeral(reply)).catch((err: unknown) => log.warn({ platform: 'slack', err }, 'response_url post failed'));
    }
  });

  // --- buttons ----------------------------------------------------------------------------------

  const incidentIdOf = (value: string) => Number(/^INC-(\d+)$/.exec(value)?.[1] ?? NaN);
  const draftIdOf = (value: string) => Number(/^D-(\d+)$/.exec(value)?.[1] ?? NaN);

  function parseAction(body: unknown) {
    const b = actionBodySchema.parse(body);
    const a = b.actions[0]!;
    const channel = b.channel?.id ?? b.container?.channel_id;
    const threadTs = b.container?.thread_ts ?? b.container?.message_ts;
    return { b, a, actor: `slack:${b.user.id}`, channel, threadTs, meta: { ...(channel ? { channel } : {}), ...(threadTs ? { threadTs } : {}) } as ViewMeta };
  }

  async function reportAction(responseUrl: string | undefined, respond: (m: ReturnType<typeof ephemeral>) => Promise<unknown>, result: Result | 'duplicate') {
    if (result === 'duplicate' || !responseUrl) return;
    await respond(ephemeral(formatResult(result))).catch((err: unknown) => log.warn({ platform: 'slack', err }, 'response_url post failed'));
  }

  const openers: Array<[string, (incidentId: number, meta: ViewMeta) => Promise<Block>]> = [
    [ACTIONS.openUpdate, async (id, meta) => updateModal(incRef(id), (await read((h) => getIncident(h, id))).status, meta)],
    [ACTIONS.openDraft, async (id, meta) => draftModal(incRef(id), (await read((h) => getIncident(h, id))).status, meta)],
    [ACTIONS.openResolve, async (id, meta) => resolveModal(incRef(id), meta)],
  ];
  for (const [actionId, build] of openers) {
    on.action(actionId, async ({ ack, body, respond, context }) => {
      await ack();
      const entry = entryOf(context);
      if (entry?.replay) return; // its trigger_id is dead: no modal can open
      const { b, a, meta } = parseAction(body);
      const id = incidentIdOf(a.value);
      let view: Block;
      try {
        view = await build(id, { ...meta, incidentId: id });
      } catch (e) {
        await reportAction(b.response_url, respond, runner.failure(e, { platform: 'slack' }));
        return;
      }
      const failed = await openView(b.trigger_id, view, entry);
      if (failed)
        await reportAction(b.response_url, respond, {
          ok: false,
          error: { code: 'INTERNAL', message: `could not open the form (${failed}); use /incident instead` },
        });
    });
  }

  on.action(ACTIONS.editApprove, async ({ ack, body, respond, context }) => {
    await ack();
    const entry = entryOf(context);
    if (entry?.replay) return;
    const { b, a, meta } = parseAction(body);
    const id = draftIdOf(a.value);
    // An incident's draft or a maintenance's text: both are approved with `approve D-n`.
    let d: Awaited<ReturnType<typeof getCustomerText>>;
    try {
      d = await read((h) => getCustomerText(h, id));
    } catch (e) {
      await reportAction(b.response_url, respond, runner.failure(e, { platform: 'slack' }));
      return;
    }
    const owner = d.owner === 'incident' ? { incidentId: d.row.incidentId } : {};
    await openView(b.trigger_id, approveEditModal(`D-${id}`, d.row.body, { ...meta, draftId: id, ...owner }), entry);
  });

  on.action(ACTIONS.reject, async ({ ack, body, context }) => {
    await ack();
    const { b, a, meta } = parseAction(body);
    const id = draftIdOf(a.value);
    await openView(b.trigger_id, rejectModal(`D-${id}`, { ...meta, draftId: id }), entryOf(context));
  });

  const direct: Array<[string, (value: string) => Command]> = [
    [ACTIONS.approve, (v) => ({ verb: 'approve', draft: draftIdOf(v) })],
    [ACTIONS.reopen, (v) => ({ verb: 'reopen', incident: incidentIdOf(v) })],
  ];
  for (const [actionId, toCommand] of direct) {
    on.action(actionId, async ({ ack, body, respond, context }) => {
      await ack();
      const { b, a, actor, channel, threadTs } = parseAction(body);
      // A double click sends two actions with different action_ts: the second one meets an
      // already-published draft and is told so. A redelivery of the same action is dropped here.
      const result = await apply(entryOf(context), async (within) => {
        const scope = channel ? await scopeFor(within, channel, threadTs) : ({ platform: 'slack' } as Scope);
        return once(within, `action:${b.user.id}:${a.action_id}:${a.value}:${a.action_ts}`, (tx) => runParsed(toCommand(a.value), actor, scope, tx));
      });
      await reportAction(b.response_url, respond, result);
    });
  }

  // Links and other buttons in our messages need an ack too, or Slack shows an error.
  on.action(/^(?!sitrep_)/, async ({ ack }) => {
    await ack();
  });

  // Modals that are not ours (or lost their callback) are closed instead of timing out.
  on.view(/^(?!sitrep_)/, async ({ ack }) => {
    await ack();
  });

  // --- modal submissions ------------------------------------------------------------------------

  type ViewAck = (r?: { response_action: 'errors'; errors: Record<string, string> }) => Promise<void>;

  function viewHandler(
    callbackId: string,
    build: (
      values: Record<string, Record<string, Record<string, unknown>>>,
      meta: z.infer<typeof metaSchema>,
      actor: string,
    ) => { cmd: Command; errorBlock: string } | { error: string; block: string },
  ) {
    on.view(callbackId, async ({ ack, body, context }) => {
      const reply = ack as unknown as ViewAck;
      const parsedBody = viewBodySchema.safeParse(body);
      if (!parsedBody.success) {
        await reply();
        log.warn({ platform: 'slack', callbackId }, 'view_submission without the fields Sitrep needs');
        return;
      }
      const { user, view } = parsedBody.data;
      const actor = `slack:${user.id}`;
      let meta: z.infer<typeof metaSchema> = {};
      try {
        meta = metaSchema.parse(JSON.parse(view.private_metadata || '{}'));
      } catch {
        meta = {};
      }
      const built = build(view.state.values, meta, actor);
      if ('error' in built) {
        await reply({ response_action: 'errors', errors: { [built.block]: built.error } });
        return;
      }
      // Running before the ack is deliberate and cheap (one synchronous SQLite transaction, behind at
      // most a bounded queue of others): a refusal must be shown in the still-open modal, and only
      // the ack can do that.
      const run = async (within: WriteTx | undefined) => {
        const scope: Scope = { platform: 'slack', ...(meta.channel ? await scopeFor(within, meta.channel, meta.threadTs) : {}) };
        if (meta.incidentId !== undefined) scope.incidentId = meta.incidentId;
        return once(within, `view:${view.id}`, (tx) => runParsed(built.cmd, actor, scope, tx));
      };
      const result = await apply(entryOf(context), run);
      if (result !== 'duplicate' && !result.ok) {
        await reply({ response_action: 'errors', errors: { [built.errorBlock]: result.error.message.slice(0, 2000) } });
        return;
      }
      await reply();
    });
  }

  const statusOf = (v: string | undefined): IncidentStatus | undefined =>
    (INCIDENT_STATUSES as readonly string[]).includes(v ?? '') ? (v as IncidentStatus) : undefined;

  viewHandler(VIEWS.declare, (values, _meta, actor) => {
    const checked = checkedField('the title', field(values, 'title').text, MAX_TITLE, 'title');
    if ('error' in checked) return checked;
    const title = checked.text;
    if (!title) return { error: 'Give the incident a title', block: 'title' };
    const sev = Number(field(values, 'severity').option ?? 3);
    const comps = new Map<string, ComponentStatus>();
    const worst = (s: ComponentStatus) => COMPONENT_STATUSES.indexOf(s);
    for (const v of field(values, 'components').options) {
      const [slug, status] = v.split('=') as [string, ComponentStatus];
      const prev = comps.get(slug);
      if (!prev || worst(status) > worst(prev)) comps.set(slug, status);
    }
    const lead = field(values, 'lead').user;
    const started = field(values, 'started').dateTime;
    if (started !== undefined && started * 1000 > now() + 60_000) return { error: 'The start time is in the future', block: 'started' };
    const cmd: Command = { verb: 'declare', title, severity: ([1, 2, 3, 4].includes(sev) ? sev : 3) as Severity };
    if (comps.size) cmd.components = [...comps].map(([slug, status]) => ({ slug, status }));
    cmd.lead = lead ? `slack:${lead}` : actor;
    if (started !== undefined) cmd.startedAt = started * 1000;
    const channelChoice = field(values, 'dedicated').options;
    if (channelChoice.includes('yes')) cmd.dedicated = true;
    if (channelChoice.includes('private')) cmd.visibility = 'private';
    return { cmd, errorBlock: 'title' };
  });

  viewHandler(VIEWS.update, (values, meta) => {
    const checked = checkedField('the update text', field(values, 'text').text, MAX_TEXT, 'text');
    if ('error' in checked) return checked;
    const text = checked.text;
    if (!text) return { error: 'Write the update', block: 'text' };
    const status = statusOf(field(values, 'status').option);
    return {
      cmd: { verb: 'update', text, ...(meta.incidentId !== undefined ? { incident: meta.incidentId } : {}), ...(status ? { status } : {}) },
      errorBlock: 'text',
    };
  });

  viewHandler(VIEWS.draft, (values, meta) => {
    const checked = checkedField('the customer-facing text', field(values, 'text').text, MAX_CUSTOMER_TEXT, 'text');
    if ('error' in checked) return checked;
    const text = checked.text;
    if (!text) return { error: 'Write what customers will read', block: 'text' };
    const status = statusOf(field(values, 'status').option);
    return {
      cmd: { verb: 'draft', text, ...(meta.incidentId !== undefined ? { incident: meta.incidentId } : {}), ...(status ? { status } : {}) },
      errorBlock: 'text',
    };
  });

  viewHandler(VIEWS.resolve, (values, meta) => {
    const checked = checkedField('the customer-facing text', field(values, 'text').text, MAX_CUSTOMER_TEXT, 'text');
    if ('error' in checked) return checked;
    const text = checked.text;
    return { cmd: { verb: 'resolve', ...(meta.incidentId !== undefined ? { incident: meta.incidentId } : {}), ...(text ? { text } : {}) }, errorBlock: 'text' };
  });

  viewHandler(VIEWS.approveEdit, (values, meta) => {
    const checked = checkedField('the replacement text', field(values, 'text').text, MAX_CUSTOMER_TEXT, 'text');
    if ('error' in checked) return checked;
    const text = checked.text;
    if (meta.draftId === undefined) return { error: 'This form lost its draft; use /incident approve D-n', block: 'text' };
    return { cmd: { verb: 'approve', draft: meta.draftId, ...(text ? { text } : {}) }, errorBlock: 'text' };
  });

  viewHandler(VIEWS.reject, (values, meta) => {
    const checked = checkedField('the reason', field(values, 'reason').text, MAX_TEXT, 'reason');
    if ('error' in checked) return checked;
    const reason = checked.text;
    if (!reason) return { error: 'Say why, so the author can fix it', block: 'reason' };
    if (meta.draftId === undefined) return { error: 'This form lost its draft; use /incident reject D-n <reason>', block: 'reason' };
    return { cmd: { verb: 'reject', draft: meta.draftId, reason }, errorBlock: 'reason' };
  });

  // --- dispatch ---------------------------------------------------------------------------------

  const matches = (c: string | RegExp, v: string) => (typeof c === 'string' ? c === v : c.test(v));
  async function all(fns: Array<() => Promise<void>>): Promise<void> {
    const failed = (await Promise.allSettled(fns.map((fn) => fn()))).filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length) throw failed[0]!.reason;
  }
  bolt.action(/^/, async (args) => {
    const id = (args.action as { action_id?: string }).action_id ?? '';
    await all(
      actionFns
        .filter(([c]) => matches(c, id))
        .map(
          ([, fn]) =>
            () =>
              fn(args),
        ),
    );
  });
  bolt.view(/^/, async (args) => {
    const id = args.view.callback_id;
    await all(
      viewFns
        .filter(([c]) => matches(c, id))
        .map(
          ([, fn]) =>
            () =>
              fn(args),
        ),
    );
  });

  // --- events -----------------------------------------------------------------------------------

  const eventKey = (body: { event_id?: string | undefined }, fallback: string) => `event:${body.event_id ?? fallback}`;

  // One Bolt listener for the events Sitrep reads, dispatching on the event's type (as actions and
  // views are above): each handler validates the body it is given.
  type EventHandler = (args: { body: unknown; context: Record<string, unknown> }) => Promise<void>;
  const eventFns = new Map<string, EventHandler>();
  const onEvent = (type: string, fn: EventHandler) => eventFns.set(type, fn);

  // "@Sitrep note DB failover done" in an incident's thread runs the command for that incident.
  onEvent('app_mention', async ({ body, context }) => {
    const parsed = mentionSchema.safeParse(body);
    if (!parsed.success) return;
    const { event } = parsed.data;
    const text = fromSlackText(event.text.replace(/^\s*(<@[UW][A-Z0-9]+(\|[^>]*)?>\s*)+/, ''))
      .trim()
      .replace(/^incident\s+/i, '');
    const actor = `slack:${event.user}`;
    let secretReply: string | undefined;
    await apply(entryOf(context), async (within) => {
      const scope = await scopeFor(within, event.channel, event.thread_ts);
      const lane = (await homeThreadChannel(inTx(within), 'slack', scope.incidentId ?? -1)) ?? event.channel;
      await once(
        within,
        eventKey(parsed.data, `mention:${event.channel}:${event.ts}`),
        async (tx) => {
          const result: Result = text
            ? await runner.run(text, actor, scope, {}, tx)
            : { ok: true, command: { verb: 'help' }, reply: { text: helpText(), data: {} } };
          // A reply with a webhook's signing secret must not sit in the outbox: it is posted
          // ephemerally once this commits (if the process dies first, the secret is simply never
          // shown; `unsubscribe` and `subscribe` again make a new one).
          if (carriesSecret(result)) {
            secretReply = formatResult(result);
            return result;
          }
          // The person who asked sees the answer (or what to type instead) privately, in place.
          await enqueue(tx, now(), {
            incidentId: scope.incidentId ?? null,
            target: threadTarget(lane),
            kind: 'ephemeral',
            payload: { channel: event.channel, user: event.user, text: formatResult(result), ...(event.thread_ts ? { thread_ts: event.thread_ts } : {}) },
          });
          return result;
          // Keep the key (and the ephemeral answer) even for a refused command: a retry would only be
          // refused again, and answered twice.
        },
        { keepRefused: true },
      );
    });
    if (secretReply !== undefined) {
      await web.chat
        .postEphemeral({ channel: event.channel, user: event.user, text: secretReply, ...(event.thread_ts ? { thread_ts: event.thread_ts } : {}) })
        .catch((err: unknown) => log.warn({ platform: 'slack', err: slackErrorText(err) }, 'chat.postEphemeral of a subscribe reply failed'));
    }
  });

  // 📌 on a message in an incident's thread puts it on the timeline, with its author and time. The
  // event names only the message, so its text is read first: by the outbox (history.ts), which
  // waits out Slack's rate limit on that read (one call a minute for new apps) instead of dropping
  // the pin. Only a channel that holds an incident's thread is worth a read.
  onEvent('reaction_added', async ({ body, context }) => {
    const parsed = reactionSchema.safeParse(body);
    if (!parsed.success) return;
    const { event } = parsed.data;
    if (event.reaction !== 'pushpin' || event.item.type !== 'message' || !event.item.channel || !event.item.ts) return;
    const channel = event.item.channel;
    const ts = event.item.ts;
    let queued = false;
    await apply(entryOf(context), async (within) => {
      if (!(await hasIncidentThreads(inTx(within), channel))) return;
      if (await isOwnPost(inTx(within), ts, 'slack:')) return; // Sitrep's own thread replies already are timeline events
      // One read per message, whoever adds the reaction and however often Slack redelivers it.
      await once(within, `pin_read:${channel}:${ts}`, async (tx) => {
        await enqueue(tx, now(), { incidentId: null, target: SLACK_HISTORY_TARGET, kind: 'pin_read', payload: { channel, ts, user: event.user } });
        queued = true;
        return { ok: true };
      });
    });
    if (queued) runner.notify();
  });

  // Whoever joins a private incident's channel may see it; whoever leaves it no longer may (unless
  // they hold a role in it). Other channels are none of Sitrep's business.
  const onMembership = async ({ body, context }: { body: unknown; context: Record<string, unknown> }) => {
    const parsed = membershipSchema.safeParse(body);
    if (!parsed.success) return;
    const { event } = parsed.data;
    await apply(entryOf(context), async (within) => {
      const own = (await threadsInChannel(inTx(within), 'slack', event.channel)).find((t) => t.dedicated);
      if (!own) return;
      const inc = await findIncident(inTx(within), own.incidentId);
      if (inc?.visibility !== 'private' || inc.privateChannel !== event.channel) return;
      const user = `slack:${event.user}`;
      await once(within, eventKey(parsed.data, `${event.type}:${event.channel}:${event.user}:${event.event_ts ?? ''}`), async (tx) => {
        if (event.type === 'member_joined_channel') await addPrivateMember(tx, inc.id, user, user, now());
        else await removePrivateMember(tx, inc.id, user);
        return { ok: true };
      });
    });
  };
  onEvent('member_joined_channel', onMembership);
  onEvent('member_left_channel', onMembership);
  bolt.event(new RegExp(`^(?:${[...eventFns.keys()].join('|')})$`), async ({ body, context, event }) => {
    await eventFns.get(event.type)?.({ body, context });
  });

  // "Add to timeline" on a message: the payload carries the message, so nothing is read from Slack.
  bolt.shortcut({ type: 'message_action', callback_id: 'sitrep_add_to_timeline' }, async ({ ack, body, respond, context }) => {
    await ack();
    const parsed = messageShortcutSchema.safeParse(body);
    if (!parsed.success) {
      log.warn({ platform: 'slack' }, 'message shortcut without the fields Sitrep needs');
      const url = z.object({ response_url: z.string() }).safeParse(body);
      if (url.success) await reportLine(url.data.response_url, respond, ':warning: Slack sent this shortcut without its message; please try again.');
      return;
    }
    const b = parsed.data;
    const m = b.message;
    const message = { channel: b.channel.id, ts: m.ts, threadTs: m.thread_ts, user: m.user, botId: m.bot_id, text: m.text };
    let answer: string | null;
    try {
      // Keyed by the interaction (a redelivery or a replay is applied once); the pin itself is
      // keyed by the message, so a message pinned twice, or also 📌'd, is on the timeline once.
      const done = await apply(entryOf(context), (within) =>
        once(within, `shortcut:${b.trigger_id || b.action_ts || `${b.user.id}:${m.ts}`}`, async (tx) => {
          const outcome = await recordSlackPin(runner, tx, message, `slack:${b.user.id}`);
          if (outcome.kind === 'refused')
            log.warn({ platform: 'slack', incidentId: outcome.incidentId, error: outcome.message }, 'a message could not be put on the timeline');
          // Only a pin keeps the key: an answer that wrote nothing (not in an incident, already
          // pinned) rolls back with its key, so the request leaves no row behind.
          return { ok: outcome.kind === 'pinned', outcome };
        }),
      );
      answer = done === 'duplicate' ? null : escapeKeepingMentions(pinAnswer(done.outcome));
      if (done !== 'duplicate' && done.outcome.kind === 'pinned') runner.notify();
    } catch (err) {
      answer = formatResult(runner.failure(err, { platform: 'slack', what: 'a message shortcut could not be applied' }));
    }
    if (answer !== null) await reportLine(b.response_url, respond, answer);
  });

  async function reportLine(responseUrl: string | undefined, respond: (m: ReturnType<typeof ephemeral>) => Promise<unknown>, text: string) {
    if (!responseUrl) return;
    await respond(ephemeral(text)).catch((err: unknown) => log.warn({ platform: 'slack', err }, 'response_url post failed'));
  }
}

/** Slack's error code for a failed call, or the failure's message. */
function slackErrorText(err: unknown): string {
  if (err instanceof SlackApiError) return err.data?.error ?? err.message;
  return err instanceof Error ? err.message : String(err);
}
