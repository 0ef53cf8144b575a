import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Db } from '../../db/client.js';
import type { Store, WriteTx } from '../../db/store.js';
import { inboxIsSynchronous } from '../../db/queries/inbox.js';
import { incidentOfThreadRoot } from '../../db/queries/threads.js';
import { isOwnPost } from '../../db/queries/outbox.js';
import { incRef } from '../../db/queries/incidents.js';
import { pin } from '../../src/commands/pin.js';
import type { Scope } from '../../src/commands/context.js';
import type { Runner } from '../../src/commands/runner.js';
import type { Result } from '../../src/commands/run.js';
import { MAX_CUSTOMER_TEXT, MAX_TEXT, checkInputText, type Command } from '../../src/commands/grammar.js';
import { isSitrepError } from '../../src/domain/errors.js';
import { helpText } from '../../src/commands/help.js';
import { enqueue } from '../../src/mirror/enqueue.js';
import { ACTIONS, CARD_CONTENT_TYPE, pinConfirmCard } from './cards.js';
import { isLoopbackServiceUrl } from './local.js';
import { saveConversationRef, splitConversationId, threadTarget } from './outlet.js';
import { secretSlot } from './target.js';

// POST /api/messages: Bot Framework activities from Teams. Authentication (when on) happens before
// this runs; here every activity is parsed with zod at the edge, then:
//   message with text     → a command (the bot's own <at>mention</at> stripped)
//   message with value    → an Action.Submit from one of our cards
//   invoke adaptiveCard/action → an Action.Execute from one of our cards (answered in the response)
//   invoke composeExtension/fetchTask, /submitAction → the "Add to timeline" message action
//                           (the message rides in the invoke: nothing is read from Teams)
//   conversationUpdate    → remembered (the serviceUrl proactive sends need)
// A command and the row recording its activity id commit in one transaction, so a redelivered
// activity is applied once, and that transaction commits before the HTTP answer: an activity that
// got a 2xx survives the process dying right after. Answers to the person are outbox rows, like
// everything else sent.

const account = z.object({ id: z.string().min(1), name: z.string().optional(), aadObjectId: z.string().optional() });

const entity = z.looseObject({
  type: z.string(),
  text: z.string().optional(),
  mentioned: z.object({ id: z.string(), name: z.string().optional() }).optional(),
});

export const activitySchema = z.object({
  type: z.string().min(1),
  id: z.string().optional(),
  channelId: z.string().optional(),
  serviceUrl: z.string().url(),
  from: account,
  recipient: account.optional(),
  conversation: z.object({
    id: z.string().min(1),
    conversationType: z.string().optional(),
    tenantId: z.string().optional(),
    isGroup: z.boolean().optional(),
  }),
  text: z.string().optional(),
  value: z.unknown().optional(),
  name: z.string().optional(),
  replyToId: z.string().optional(),
  entities: z.array(entity).optional(),
  channelData: z
    .object({
      tenant: z.object({ id: z.string() }).optional(),
      channel: z.object({ id: z.string() }).optional(),
    })
    .optional(),
});
export type InboundActivity = z.infer<typeof activitySchema>;

/** What our card buttons send (Action.Submit `value`, Action.Execute `value.action.data`), inputs merged in. */
const cardData = z.object({
  sitrep: z.enum(Object.values(ACTIONS) as [string, ...string[]]),
  incident: z
    .string()
    .regex(/^INC-\d{1,9}$/)
    .optional(),
  draft: z
    .string()
    .regex(/^D-\d{1,9}$/)
    .optional(),
  // Lengths and characters are checked by the grammar's own rules in toCommand, so an over-long
  // or malformed input gets the same one-line answer as the typed command would.
  text: z.string().optional(),
  reason: z.string().optional(),
});
type CardData = z.infer<typeof cardData>;

const executeValue = z.object({ action: z.object({ type: z.string().optional(), verb: z.string().optional(), data: z.unknown().optional() }) });

/** The message action's command id (composeExtensions in manifest/manifest.json). */
export const TIMELINE_COMMAND = 'addToTimeline';

/** A message action invoke's value: the command, and the message it was used on (messagePayload). */
const messageActionValue = z.object({
  commandId: z.string(),
  commandContext: z.string().optional(),
  messagePayload: z
    .object({
      id: z.string().min(1),
      replyToId: z.string().nullish(),
      createdDateTime: z.string().nullish(),
      body: z.object({ contentType: z.string().nullish(), content: z.string().nullish() }).nullish(),
      from: z
        .object({
          user: z.object({ id: z.string().min(1), displayName: z.string().nullish() }).nullish(),
          application: z.object({ id: z.string().min(1), displayName: z.string().nullish() }).nullish(),
        })
        .nullish(),
    })
    .optional(),
});
type MessagePayload = NonNullable<z.infer<typeof messageActionValue>['messagePayload']>;

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** A message body as plain text: Teams sends HTML (`<div>…</div>`, `<at id="0">Name</at>`, entities). */
export function messageText(body: MessagePayload['body']): string {
  const content = body?.content ?? '';
  if (body?.contentType !== 'html') return content.trim();
  return content
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|li)>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
      if (name[0] === '#') {
        const code = name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
        return Number.isInteger(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
      }
      return ENTITIES[name.toLowerCase()] ?? whole;
    })
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

export const HELP_HINT = 'write "@Sitrep help" to see how to write each command';

/** One line for the person: the reply, or what went wrong and how to write it. */
export function formatResult(result: Result): string {
  if (result.ok) return result.reply.text;
  return `⚠️ ${result.error.message.replace(/\s*\n\s*/g, ' ')} (${HELP_HINT})`;
}

/** A Teams mention tag as it appears in message text. */
const AT_TAG = /<at>([^<]*)<\/at>/gi;
/** A Teams id that can stand as one word of a command (`29:…`, `28:…`, `8:orgid:…`). */
const MENTION_ID = /^[^\s<>"'`]{1,256}$/;

/**
 * The command text of a message: the bot's own mention (`<at>Sitrep</at>`, named by a mention
 * entity for the recipient, or leading) is removed; other people's mentions become user refs
 * (`teams:<id>`), so `assign lead <at>Bob</at>` names Bob.
 *
 * One pass over the text: each `<at>…</at>` tag is looked up among the mention entities (each
 * entity stands for one tag, as Teams sends them) and replaced once; replacements are never
 * scanned again. So the work is linear in the text, and the output is at most the text plus the
 * ids of the entities sent, however the entities are chosen: an entity whose text is not a
 * mention tag (say one letter) names nothing and changes nothing.
 */
export function commandText(a: InboundActivity, userRef: (teamsId: string) => string = (id) => `teams:${id}`): string {
  const text = a.text ?? '';
  const botId = a.recipient?.id;
  const byTag = new Map<string, string[]>();
  for (const e of a.entities ?? []) {
    if (e.type !== 'mention' || !e.text || !e.mentioned) continue;
    const tag = /^<at>[^<]*<\/at>$/i.exec(e.text);
    if (!tag || !MENTION_ID.test(e.mentioned.id)) continue;
    const key = e.text.toLowerCase();
    const queue = byTag.get(key) ?? [];
    queue.push(e.mentioned.id);
    byTag.set(key, queue);
  }
  // A tag with no entity left for it (a client that sent none) is the bot's mention or noise.
  const replaced = text.replace(AT_TAG, (tag) => {
    const id = byTag.get(tag.toLowerCase())?.shift();
    return id === undefined || id === botId ? ' ' : ` ${userRef(id)} `;
  });
  return replaced
    .replace(/&nbsp;/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** No claim (auth off, or a token without one) passes; otherwise the hosts must be the same. */
export function serviceUrlMatches(claim: unknown, serviceUrl: string): boolean {
  if (typeof claim !== 'string') return true;
  try {
    return new URL(claim).hostname.toLowerCase() === new URL(serviceUrl).hostname.toLowerCase();
  } catch {
    return false;
  }
}

// People are `teams:<Teams user id>` (29:…), the id mentions carry too, as CONTRACT.md's example
// admin ref `teams:29:abc` has it: SITREP_ADMINS and approvers name them the same way.
const actorOf = (a: InboundActivity) => `teams:${a.from.id}`;

export interface InboundDeps {
  runner: Runner;
  db: Db;
  /** Reads go through it where `db` is no connection (PostgreSQL); absent, they run on `db`. */
  store?: Store;
  now: () => number;
}

export function createInbound(deps: InboundDeps) {
  const { runner, db, now, store } = deps;
  // SQLite: reads on the connection at hand, as always. PostgreSQL: through the store's pool.
  const read = <T>(fn: (h: Db) => Promise<T>): Promise<T> => (!store || inboxIsSynchronous(db) ? fn(db) : store.read(fn));

  /**
   * Where a command was typed. Only a team channel is a `channel` (so `channel incidents` in a
   * personal or group chat is refused with a pointer to a channel); a reply in an incident's
   * thread carries that incident.
   */
  async function scopeFor(a: InboundActivity): Promise<Scope> {
    const { channel, messageId } = splitConversationId(a.conversation.id);
    const inChannel = a.conversation.conversationType === 'channel' || a.channelData?.channel !== undefined;
    const hitId = messageId ? await read((h) => incidentOfThreadRoot(h, 'teams', channel, messageId)) : undefined;
    // A group chat is not a channel (nothing binds there) but everyone in it reads the answers;
    // only a conversation Teams calls personal is one person's.
    const shared = inChannel || a.conversation.conversationType !== 'personal';
    return {
      platform: 'teams',
      ...(inChannel ? { channel } : {}),
      ...(shared ? { shared: true } : {}),
      ...(messageId ? { threadRef: messageId } : {}),
      ...(hitId !== undefined ? { incidentId: hitId } : {}),
    };
  }

  /** Runs `fn` once per activity: the processed_events row and the command's writes commit together. */
  // A refused command keeps its key (and its answer): a redelivery would only be refused again,
  // and answered twice.
  function once(a: InboundActivity, fn: (tx: WriteTx) => Promise<Result>): Promise<Result | 'duplicate'> {
    const key = a.id ? { platform: 'teams' as const, id: `${a.conversation.id}|${a.type}|${a.id}` } : null;
    return runner.once(
      key,
      async (tx) => {
        await remember(tx, a);
        return fn(tx);
      },
      { keepRefused: true },
    );
  }

  /** Keeps the conversation's serviceUrl (and the channel's, for proactive posts there). */
  async function remember(tx: WriteTx, a: InboundActivity): Promise<void> {
    const tenantId = a.conversation.tenantId ?? a.channelData?.tenant?.id;
    const { channel } = splitConversationId(a.conversation.id);
    const ref = (conversationId: string) => ({ serviceUrl: a.serviceUrl, conversationId, ...(tenantId ? { tenantId } : {}) });
    await saveConversationRef(tx, ref(channel), actorOf(a), now());
    const teamChannel = a.channelData?.channel?.id;
    if (teamChannel && teamChannel !== channel) await saveConversationRef(tx, ref(teamChannel), actorOf(a), now());
  }

  function userRef(teamsId: string): string {
    return `teams:${teamsId}`;
  }

  /**
   * The answer to the person, as an outbox row. A webhook's signing secret never sits in it: the
   * row names the subscription instead and the Teams target reads the secret from the
   * subscriptions table (where signing keeps it anyway) when it sends the reply.
   */
  async function replyRow(tx: WriteTx, a: InboundActivity, scope: Scope, result: Result): Promise<void> {
    let text = formatResult(result);
    let secretOf: number | undefined;
    if (result.ok && result.command.verb === 'subscribe') {
      const { secret, id } = result.reply.data as { secret?: unknown; id?: unknown };
      const n = typeof id === 'string' ? Number(/^S-(\d+)$/.exec(id)?.[1] ?? NaN) : NaN;
      if (typeof secret === 'string' && secret && Number.isInteger(n)) {
        text = text.split(secret).join(secretSlot(n));
        secretOf = n;
      }
    }
    await enqueue(tx, now(), {
      incidentId: scope.incidentId ?? null,
      // The conversation's lane: in an incident's thread, the same lane as its root card and replies.
      target: threadTarget(splitConversationId(a.conversation.id).channel),
      kind: 'reply',
      payload: { conversationId: a.conversation.id, serviceUrl: a.serviceUrl, text, ...(secretOf !== undefined ? { secretOf } : {}) },
    });
  }

  const num = (ref: string | undefined) => Number(ref?.replace(/^\D+-/, '') ?? NaN);

  /**
   * A card button's data as a command, or what the person must fill in or fix first. Inputs go
   * through the same checks (characters, length) as the typed command's text.
   */
  function toCommand(d: CardData): Command | { error: string } {
    try {
      return buildCommand(d);
    } catch (e) {
      if (isSitrepError(e)) return { error: e.message };
      throw e;
    }
  }

  function buildCommand(d: CardData): Command | { error: string } {
    const incident = d.incident ? num(d.incident) : undefined;
    const draft = d.draft ? num(d.draft) : undefined;
    const input = (what: string, raw: string | undefined, max: number) => checkInputText(what, raw ?? '', max).trim();
    const inc = incident !== undefined ? { incident } : {};
    switch (d.sitrep) {
      case ACTIONS.update: {
        const text = input('the update text', d.text, MAX_TEXT);
        return text ? { verb: 'update', ...inc, text } : { error: 'write what changed in the Update box' };
      }
      case ACTIONS.draft: {
        const text = input('the customer-facing text', d.text, MAX_CUSTOMER_TEXT);
        return text ? { verb: 'draft', ...inc, text } : { error: 'write the customer-facing wording in the Draft box' };
      }
      case ACTIONS.resolve: {
        const text = input('the customer-facing text', d.text, MAX_CUSTOMER_TEXT);
        return { verb: 'resolve', ...inc, ...(text ? { text } : {}) };
      }
      case ACTIONS.reopen:
        return { verb: 'reopen', ...inc };
      case ACTIONS.approve:
        return draft !== undefined ? { verb: 'approve', draft } : { error: 'this button lost its draft; write "@Sitrep approve D-n"' };
      case ACTIONS.reject: {
        if (draft === undefined) return { error: 'this button lost its draft; write "@Sitrep reject D-n <reason>"' };
        const reason = input('the reason', d.reason, MAX_TEXT);
        return reason ? { verb: 'reject', draft, reason } : { error: 'write a reason in the Reject box' };
      }
      default:
        return { error: "this button is not one of Sitrep's" };
    }
  }

  /**
   * Runs a card button's command once; `answer` writes the reply row in the same transaction.
   * Input that cannot make a command is refused before anything is written, unless `answer` must
   * record the refusal (an Action.Submit has no response body to carry it).
   */
  async function cardAction(
    a: InboundActivity,
    raw: unknown,
    answer?: (tx: WriteTx, scope: Scope, result: Result) => Promise<void>,
  ): Promise<Result | 'duplicate' | null> {
    const data = cardData.safeParse(raw);
    if (!data.success) return null;
    const scope = await scopeFor(a);
    const cmd = toCommand(data.data);
    if ('error' in cmd) {
      const refused: Result = { ok: false, error: { code: 'INVALID', message: cmd.error } };
      if (!answer) return refused;
      return once(a, async (tx) => {
        await answer(tx, scope, refused);
        return refused;
      });
    }
    return once(a, async (tx) => {
      const result = await runner.run({ command: cmd }, actorOf(a), scope, {}, tx);
      await answer?.(tx, scope, result);
      return result;
    });
  }

  async function onMessage(a: InboundActivity): Promise<void> {
    const scope = await scopeFor(a);
    // Action.Submit: a message whose `value` holds the button's data and the inputs.
    if (a.value !== undefined && a.value !== null) {
      await cardAction(a, a.value, (tx, s, result) => replyRow(tx, a, s, result));
      return;
    }
    const text = commandText(a, userRef);
    await once(a, async (tx) => {
      const result: Result = text
        ? await runner.run(text, actorOf(a), scope, {}, tx)
        : { ok: true, command: { verb: 'help' }, reply: { text: helpText(), data: {} } };
      await replyRow(tx, a, scope, result);
      // Keep the key (and the answer) even for a refused command: a redelivery would only be
      // refused again, and answered twice.
      return result;
    });
  }

  /** Answers an Action.Execute invoke: the result as a message (Universal Actions response). */
  async function onInvoke(a: InboundActivity): Promise<{ status: number; body: Record<string, unknown> }> {
    if (a.name === 'composeExtension/fetchTask' || a.name === 'composeExtension/submitAction') return onMessageAction(a, a.name);
    if (a.name !== 'adaptiveCard/action') return { status: 200, body: {} };
    const v = executeValue.safeParse(a.value);
    if (!v.success)
      return {
        status: 400,
        body: { statusCode: 400, type: 'application/vnd.microsoft.error', value: { code: 'BadRequest', message: 'no action in this invoke' } },
      };
    let result: Awaited<ReturnType<typeof cardAction>>;
    try {
      result = await cardAction(a, v.data.action.data);
    } catch (err) {
      // The invoke's answer is the only place the person reads: an unexpected failure (nothing
      // was written) is shown as one line with the reference id that is also in the log.
      result = runner.failure(err, { platform: 'teams' });
    }
    const message = result === null ? "This button is not one of Sitrep's." : result === 'duplicate' ? 'Already done.' : formatResult(result);
    return { status: 200, body: { statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: message } };
  }

  /** Where a message action's message lives, and whether it may be pinned there. */
  async function pinTarget(a: InboundActivity, m: MessagePayload): Promise<{ scope: Scope; incidentId: number } | { refusal: string }> {
    const { channel, messageId } = splitConversationId(a.conversation.id);
    // A reply names its thread's root (replyToId); a top-level post is its own thread.
    const root = m.replyToId || messageId || m.id;
    const incidentId = await read((h) => incidentOfThreadRoot(h, 'teams', channel, root));
    if (incidentId === undefined) return { refusal: "This message is not in an incident's thread: use Add to timeline on a message there." };
    // Only an incident's root card starts one of its threads.
    if (m.id === root) return { refusal: `That is ${incRef(incidentId)}'s own card: use Add to timeline on a message in its thread.` };
    if (await read((h) => isOwnPost(h, m.id, 'teams:'))) return { refusal: `That message is already on ${incRef(incidentId)}'s timeline.` };
    const scope: Scope = { ...(await scopeFor(a)), channel, threadRef: root, incidentId };
    return { scope, incidentId };
  }

  /**
   * Who wrote the message. Teams names its author by Entra object id only; when that is the person
   * using the action, their Teams id (the one every other ref uses) is known from the activity.
   */
  function authorOf(a: InboundActivity, m: MessagePayload): { ref: string; name: string } {
    const user = m.from?.user;
    if (user) return { ref: user.id === a.from.aadObjectId ? actorOf(a) : `teams:${user.id}`, name: user.displayName ?? user.id };
    const app = m.from?.application;
    if (app) return { ref: `teams:${app.id}`, name: app.displayName ?? app.id };
    return { ref: 'teams:unknown', name: 'unknown' };
  }

  /** A one-line answer in the dialog Teams opened for the action. */
  const taskMessage = (value: string) => ({ status: 200, body: { task: { type: 'message', value } } });

  /**
   * "Add to timeline" on a message. fetchTask opens a dialog that says which incident the message
   * goes to; its button sends submitAction, which records the pin (the one `pin` verb, once per
   * message, however often it is used or Teams redelivers it) and says so.
   */
  async function onMessageAction(a: InboundActivity, name: 'composeExtension/fetchTask' | 'composeExtension/submitAction') {
    const v = messageActionValue.safeParse(a.value);
    if (!v.success || v.data.commandId !== TIMELINE_COMMAND) return taskMessage("This action is not one of Sitrep's.");
    const m = v.data.messagePayload;
    if (!m) return taskMessage('Use Add to timeline from a message: Teams sent no message with this one.');
    const where = await pinTarget(a, m);
    if ('refusal' in where) return taskMessage(where.refusal);
    const author = authorOf(a, m);
    const text = messageText(m.body);
    if (name === 'composeExtension/fetchTask') {
      return {
        status: 200,
        body: {
          task: {
            type: 'continue',
            value: {
              title: 'Add to timeline',
              height: 'small',
              width: 'medium',
              card: { contentType: CARD_CONTENT_TYPE, content: pinConfirmCard(incRef(where.incidentId), author.name, text) },
            },
          },
        },
      };
    }
    const posted = Date.parse(m.createdDateTime ?? '');
    const { channel } = splitConversationId(a.conversation.id);
    const incidentId = where.incidentId;
    let answer: string;
    try {
      const key = a.id ? { platform: 'teams' as const, id: `${a.conversation.id}|${a.type}|${a.id}` } : null;
      const done = await runner.once(key, async (tx) => {
        await remember(tx, a);
        const pinned = await runner.once(
          { platform: 'teams', id: `pin:${channel}:${m.id}` },
          (inner) =>
            runner.invoke(
              (ctx) =>
                pin(ctx, {
                  incidentId,
                  author: author.ref,
                  postedAt: Number.isFinite(posted) ? posted : now(),
                  text,
                  source: { source: 'teams', channel, ts: m.id },
                }),
              actorOf(a),
              where.scope,
              {},
              inner,
            ),
          { within: tx },
        );
        if (pinned === 'duplicate') return { ok: true, text: `That message is already on ${incRef(incidentId)}'s timeline.` };
        if (!pinned.ok) return { ok: false, text: `⚠️ Not added to ${incRef(incidentId)}'s timeline: ${pinned.error.message}` };
        return { ok: true, text: `📌 Added to ${incRef(incidentId)}'s timeline.` };
      });
      answer = done === 'duplicate' ? `📌 Added to ${incRef(incidentId)}'s timeline.` : done.text;
    } catch (err) {
      answer = formatResult(runner.failure(err, { platform: 'teams' }));
    }
    return taskMessage(answer);
  }

  /**
   * Handles one authenticated request. `claims` are the verified token's (auth on): a token Teams
   * issued for one serviceUrl does not let its bearer name another one for our replies.
   * `localOnly` (auth off): only an activity whose replies go back to this machine is accepted.
   */
  return async function handle(res: ServerResponse, raw: Buffer, opts: { claims?: Record<string, unknown>; localOnly?: boolean } = {}): Promise<void> {
    const { claims } = opts;
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"body is not JSON"}\n');
      return;
    }
    const parsed = activitySchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      res
        .writeHead(400, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: `not an activity: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim() }) + '\n');
      return;
    }
    const a = parsed.data;
    if (opts.localOnly && !isLoopbackServiceUrl(a.serviceUrl)) {
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end('{"error":"inbound auth is off (MICROSOFT_APP_ID is not set): only a loopback serviceUrl is accepted"}\n');
      return;
    }
    if (!serviceUrlMatches(claims?.serviceurl, a.serviceUrl)) {
      res.writeHead(403, { 'content-type': 'application/json' }).end('{"error":"the token was not issued for this serviceUrl"}\n');
      return;
    }
    switch (a.type) {
      case 'message':
        await onMessage(a);
        break;
      case 'invoke': {
        const out = await onInvoke(a);
        res.writeHead(out.status, { 'content-type': 'application/json' }).end(JSON.stringify(out.body));
        return;
      }
      case 'conversationUpdate':
        await runner.once(null, async (tx) => {
          await remember(tx, a);
          return { ok: true };
        });
        break;
      default:
        break;
    }
    res.writeHead(200).end();
  };
}
