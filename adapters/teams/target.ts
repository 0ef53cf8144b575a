import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { hasRowOnItsWay } from '../../db/queries/outbox.js';
import { subscriptionSecret } from '../../db/queries/subscriptions.js';
import { maintenanceThread, setMaintenanceThreadRoot, setThreadRoot } from '../../db/queries/threads.js';
import { loadMaintenanceThreadView } from '../../db/queries/maintenances.js';
import { maintenanceLane } from '../../src/domain/maintenance.js';
import { getIncident } from '../../db/queries/incidents.js';
import { loadIncidentView } from '../../db/queries/views.js';
import type { BreakerSubject, DeliveryResult, OutboxMessage, Target } from '../../src/mirror/target.js';
import { CARD_CONTENT_TYPE, maintenanceRootCard, plain, rootCard, summary, type Card } from './cards.js';
import { TEAMS_THREAD_KINDS, teamsThreadMessage, type TeamsThreadMessage } from './messages.js';
import { loadSdk, type Activity, type ConnectorClient } from './sdk.js';
import type { Store } from '../../db/store.js';
import { TEAMS_THREAD_PREFIX, refKey, teamsThreadRow, threadConversationId } from './outlet.js';
import { readConversationRef, teamsSettings } from './refs.js';
import { approvalRequestRef } from '../../db/queries/outbox.js';
import { parseRetryAfter as retryAfterMs } from '../../src/mirror/policy.js';

// Delivers the rows the Teams outlet wrote, through the Bot Connector REST API (the SDK's
// ConnectorClient). Tries once and says what happened; the outbox worker owns retries (honouring
// Retry-After), ordering and deadlines.

/**
 * The bearer token for outbound calls. With auth off it answers '' and the ConnectorClient sends
 * no Authorization header (no MSAL round trip); with auth on it is the SDK's MSAL token provider.
 */
export type TokenSource = () => Promise<string>;

export const noToken: TokenSource = async () => '';

export async function connectorFor(serviceUrl: string, token: string): Promise<ConnectorClient> {
  return (await loadSdk()).ConnectorClient.createClientWithToken(serviceUrl, token);
}

/** The SDK's HttpError, recognised by shape (the SDK itself is loaded lazily). */
const httpError = z.object({
  status: z.number().int(),
  message: z.string().default(''),
  response: z.object({ headers: z.custom<Headers>((h) => h instanceof Headers) }),
});

/** The HTTP status of a failed ConnectorClient call, if it got that far. */
export const httpStatusOf = (err: unknown): number | undefined => httpError.safeParse(err).data?.status;

export { retryAfterMs };

/**
 * What the Bot Connector answers when it is throttling or briefly unable to take a send, and
 * Microsoft asks bots to retry with backoff: 412 (precondition failed: a conversation being
 * changed at that moment), 429 (throttled), 502 and 504 (the service behind the gateway), as well
 * as any other 5xx and 408. The backoff is the worker's: exponential with jitter, so the rows of
 * one burst do not come back together, and never sooner than a Retry-After.
 */
const RETRYABLE = (status: number) => status === 412 || status === 429 || status === 408 || status >= 500;

/** Maps a ConnectorClient failure to a delivery result. Exported for tests. */
export function toDeliveryResult(err: unknown): DeliveryResult {
  const http = httpError.safeParse(err);
  if (http.success) {
    const e = http.data;
    const status = e.status;
    // Without a Retry-After, a 5xx (or 412) is the upstream failing, which backs off and feeds
    // the breaker; with one, it is a rate limit that says when to come back.
    const ra = retryAfterMs(e.response.headers.get('retry-after'));
    if (RETRYABLE(status)) return { kind: 'retry', error: `HTTP ${status}`, ...(ra === undefined ? {} : { retryAfterMs: ra }) };
    return { kind: 'failed', error: `HTTP ${status}: ${e.message.slice(0, 300)}` };
  }
  if (err instanceof z.ZodError) return { kind: 'failed', error: `bad payload: ${err.issues[0]?.message ?? 'invalid'}` };
  const message = typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string' ? err.message : String(err);
  return { kind: 'retry', error: message };
}

import { raceAbort } from '../../src/mirror/target.js';
export { raceAbort };

export async function cardActivity(card: Card, text: string): Promise<Activity> {
  const a = (await loadSdk()).MessageFactory.attachment({ contentType: CARD_CONTENT_TYPE, content: card });
  a.summary = text;
  return a;
}

/** A plain-text reply: no markdown, and `<` cannot open an `<at>` mention or a tag. */
export async function textActivity(text: string): Promise<Activity> {
  const a = (await loadSdk()).MessageFactory.text(plain(text, 20_000));
  a.textFormat = 'plain';
  return a;
}

/** The serviceUrl of a stored conversation reference, however the rest of it reads. */
const storedServiceUrl = z.object({ serviceUrl: z.string().optional() });

type ReplyPayload = Extract<TeamsThreadMessage, { kind: 'reply' }>['payload'];

/**
 * Where a reply's webhook signing secret goes: the outbox row holds this marker and the id of the
 * subscription, never the secret, which is read from the subscriptions table at delivery time.
 */
export const secretSlot = (subscriptionId: number) => `[signing secret of S-${subscriptionId}]`;

/**
 * One breaker (and one share of the worker's slots) per Bot Connector host, so one tenant's
 * serviceUrl that hangs or fails does not hold up replies and cards to the others.
 */
export function serviceHostKey(serviceUrl: string | null | undefined): string {
  if (!serviceUrl) return 'teams';
  try {
    return `teams:${new URL(serviceUrl).hostname.toLowerCase()}`;
  } catch {
    return 'teams';
  }
}

export interface TeamsTargetDeps {
  db: Db;
  /**
   * On PostgreSQL (where `db` is no connection): reads go through the store and writes (a root
   * card's id) in a store transaction; the breaker key answers from what lookup() loaded.
   */
  store?: Pick<Store, 'read' | 'transaction'>;
  token: TokenSource;
  timezone: string;
  now: () => number;
}

export function createTeamsTarget(deps: TeamsTargetDeps): Target {
  const { db, store } = deps;
  // SQLite: the queries run on `db`, as they always have. PostgreSQL: through the store.
  const read = <T>(fn: (h: Db) => Promise<T>): Promise<T> => (store ? store.read(fn) : fn(db));
  const write = <T>(fn: (tx: Db) => Promise<T>): Promise<T> => (store ? store.transaction(fn) : fn(db));
  const settings = teamsSettings(db, store);

  async function client(serviceUrl: string): Promise<ConnectorClient> {
    return connectorFor(serviceUrl, await deps.token());
  }

  // The worker asks for a breaker key for every due head, so on SQLite its lookup is prepared once
  // per connection (db/queries); on PostgreSQL it is loaded for the claimed batch (lookup).

  /** The reply's text, with a webhook signing secret filled in from where signing keeps it. */
  async function replyText(p: ReplyPayload): Promise<string> {
    if (p.secretOf === undefined) return p.text;
    const secretOf = p.secretOf;
    const secret = await read((h) => subscriptionSecret(h, secretOf));
    const shown = secret ?? `(not available: S-${p.secretOf} was removed before this reply was sent; subscribe again for a new secret)`;
    return p.text.split(secretSlot(p.secretOf)).join(shown);
  }

  function breakerKey(target: string, msg?: BreakerSubject): string {
    if (msg?.kind === 'reply') {
      const url = msg.payload.serviceUrl;
      return serviceHostKey(typeof url === 'string' ? url : null);
    }
    const raw = settings.peek(refKey(target.slice(TEAMS_THREAD_PREFIX.length)));
    if (!raw) return 'teams';
    try {
      return serviceHostKey(storedServiceUrl.safeParse(JSON.parse(raw)).data?.serviceUrl);
    } catch {
      return 'teams';
    }
  }

  /** No root id yet: worth waiting for only while its post is still on its way. */
  async function noRoot(incidentId: number): Promise<DeliveryResult> {
    return (await read((h) => hasRowOnItsWay(h, incidentId, ['root_post'], TEAMS_THREAD_PREFIX)))
      ? { kind: 'retry', error: 'the root card is not posted yet' }
      : { kind: 'failed', error: 'the incident has no root card in Teams (its post failed; `deliveries` lists it)' };
  }

  async function whereIs(incidentId: number) {
    const row = await read((h) => teamsThreadRow(h, incidentId));
    const failed = (error: string): { error: DeliveryResult } => ({ error: { kind: 'failed', error } });
    if (!row) return failed('the incident has no Teams thread');
    const ref = await readConversationRef(settings, row.channel);
    if (!ref) return failed(`no service URL known for ${row.channel}: mention the bot in that channel once (e.g. \`channel incidents\`)`);
    return { row, ref };
  }

  async function rootActivity(incidentId: number): Promise<Activity> {
    const view = await read(async (h) => loadIncidentView(h, await getIncident(h, incidentId)));
    return cardActivity(rootCard(view, deps.timezone, deps.now()), summary(`${view.id} ${view.title}: ${view.status}, sev${view.severity}`));
  }

  /**
   * A scheduled maintenance's thread in the incidents channel: its root card (rendered from the
   * database when sent), edits of it, replies under it, and its approval cards' edits.
   */
  async function deliverMaintenance(msg: OutboxMessage, m: TeamsThreadMessage, maintenanceId: number): Promise<DeliveryResult> {
    const row = await read((h) => maintenanceThread(h, maintenanceId, 'teams'));
    if (!row) return { kind: 'failed', error: 'the maintenance has no Teams thread' };
    const ref = await readConversationRef(settings, row.channel);
    if (!ref) return { kind: 'failed', error: `no service URL known for ${row.channel}: mention the bot in that channel once (e.g. \`channel incidents\`)` };
    const noRoot: DeliveryResult = { kind: 'failed', error: 'the maintenance has no root card in Teams (its post failed; `deliveries` lists it)' };
    const rootActivity = async () => {
      const v = await read((h) => loadMaintenanceThreadView(h, maintenanceId));
      return cardActivity(maintenanceRootCard(v, deps.timezone), summary(`Maintenance ${v.id} ${v.title}: ${v.status.replace(/_/g, ' ')}`));
    };
    switch (m.kind) {
      case 'root_post': {
        if (row.rootRef) return { kind: 'delivered', remoteRef: row.rootRef };
        const res = await (await client(ref.serviceUrl)).sendToConversation(row.channel, await rootActivity());
        if (!res?.id) return { kind: 'retry', error: 'Teams returned no activity id for the root card' };
        const rootRef = res.id;
        await write((tx) => setMaintenanceThreadRoot(tx, maintenanceId, 'teams', rootRef));
        return { kind: 'delivered', remoteRef: res.id };
      }
      case 'root_update': {
        if (!row.rootRef) return noRoot;
        const a = await rootActivity();
        a.id = row.rootRef;
        await (await client(ref.serviceUrl)).updateActivity(row.channel, row.rootRef, a);
        return { kind: 'delivered', remoteRef: row.rootRef };
      }
      case 'thread_reply': {
        if (!row.rootRef) return noRoot;
        const p = m.payload;
        const res = await (await client(ref.serviceUrl)).sendToConversation(
          threadConversationId(row.channel, row.rootRef),
          await cardActivity(p.card, p.summary),
        );
        return { kind: 'delivered', ...(res?.id ? { remoteRef: res.id } : {}) };
      }
      case 'approval_update': {
        const p = m.payload;
        const requestRef = await read((h) => approvalRequestRef(h, maintenanceLane(msg.target, maintenanceId), null, p.draftId));
        if (!row.rootRef || !requestRef) return { kind: 'delivered' }; // the approval card was never posted: nothing to edit
        const a = await cardActivity(p.card, p.summary);
        a.id = requestRef;
        await (await client(ref.serviceUrl)).updateActivity(threadConversationId(row.channel, row.rootRef), requestRef, a);
        return { kind: 'delivered', remoteRef: requestRef };
      }
      case 'reply':
        return { kind: 'failed', error: 'a reply is not a maintenance thread message' };
    }
  }

  async function deliverOnce(msg: OutboxMessage): Promise<DeliveryResult> {
    if (!TEAMS_THREAD_KINDS.includes(msg.kind)) return { kind: 'failed', error: `unknown Teams message kind ${msg.kind}` };
    const m = teamsThreadMessage.parse({ kind: msg.kind, payload: msg.payload });
    if (msg.maintenanceId != null) return deliverMaintenance(msg, m, msg.maintenanceId);
    if (m.kind === 'reply') {
      // An answer to the person who typed a command, in the conversation (or thread) they used.
      const p = m.payload;
      const res = await (await client(p.serviceUrl)).sendToConversation(p.conversationId, await textActivity(await replyText(p)));
      return { kind: 'delivered', ...(res?.id ? { remoteRef: res.id } : {}) };
    }
    const incidentId = msg.incidentId;
    if (incidentId === null) return { kind: 'failed', error: `${msg.kind} without an incident` };
    const at = await whereIs(incidentId);
    if ('error' in at) return at.error;
    const { row, ref } = at;
    switch (m.kind) {
      case 'root_post': {
        if (row.rootRef) return { kind: 'delivered', remoteRef: row.rootRef };
        // A new top-level post in the channel: its activity id names the thread from now on.
        const res = await (await client(ref.serviceUrl)).sendToConversation(row.channel, await rootActivity(incidentId));
        if (!res?.id) return { kind: 'retry', error: 'Teams returned no activity id for the root card' };
        const rootRef = res.id;
        await write((tx) => setThreadRoot(tx, incidentId, 'teams', row.channel, rootRef));
        return { kind: 'delivered', remoteRef: res.id };
      }
      case 'root_update': {
        if (!row.rootRef) return await noRoot(incidentId);
        const a = await rootActivity(incidentId);
        a.id = row.rootRef;
        await (await client(ref.serviceUrl)).updateActivity(row.channel, row.rootRef, a);
        return { kind: 'delivered', remoteRef: row.rootRef };
      }
      case 'thread_reply': {
        if (!row.rootRef) return await noRoot(incidentId);
        const p = m.payload;
        const res = await (await client(ref.serviceUrl)).sendToConversation(
          threadConversationId(row.channel, row.rootRef),
          await cardActivity(p.card, p.summary),
        );
        return { kind: 'delivered', ...(res?.id ? { remoteRef: res.id } : {}) };
      }
      case 'approval_update': {
        const p = m.payload;
        const requestRef = await read((h) => approvalRequestRef(h, msg.target, incidentId, p.draftId));
        if (!row.rootRef || !requestRef) return { kind: 'delivered' }; // the approval card was never posted: nothing to edit
        const a = await cardActivity(p.card, p.summary);
        a.id = requestRef;
        await (await client(ref.serviceUrl)).updateActivity(threadConversationId(row.channel, row.rootRef), requestRef, a);
        return { kind: 'delivered', remoteRef: requestRef };
      }
    }
  }

  return {
    handles: (target) => target.startsWith(TEAMS_THREAD_PREFIX),
    breakerKey,
    ...(settings.synchronous
      ? {}
      : {
          // PostgreSQL: the claimed batch's conversation references, in one query, for breakerKey.
          lookup: (targets: readonly string[]) => settings.load(targets.map((t) => refKey(t.slice(TEAMS_THREAD_PREFIX.length)))),
        }),
    async deliver(msg, signal) {
      const attempt = deliverOnce(msg).catch((err: unknown): DeliveryResult => toDeliveryResult(err));
      return raceAbort(attempt, signal);
    },
  };
}
