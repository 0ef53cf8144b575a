import { z } from 'zod';
import type { Db } from '../../db/client.js';
import type { ReadConn, Store, WriteTx } from '../../db/store.js';
import { hasRowOnItsWay } from '../../db/queries/outbox.js';
import {
  findThreadChannels,
  insertThread,
  maintenanceThread,
  setMaintenanceThreadRoot,
  setThreadRoot,
  threadChannels,
  type ThreadChannel,
} from '../../db/queries/threads.js';
import { loadMaintenanceThreadView } from '../../db/queries/maintenances.js';
import { maintenanceLane } from '../../src/domain/maintenance.js';
import { addPrivateMember } from '../../db/queries/settings.js';
import { getIncident, setPrivateChannel } from '../../db/queries/incidents.js';
import { privateChannelCandidate } from '../../src/domain/visibility.js';
import { loadIncidentView } from '../../db/queries/views.js';
import type { BreakerSubject, DeliveryResult, OutboxMessage, Target } from '../../src/mirror/target.js';
import { channelLink, maintenanceRootMessage, rootMessage } from './blocks.js';
import { SLACK_THREAD_PREFIX, slackThreadRows } from './outlet.js';
import { approvalRequestRef } from '../../db/queries/outbox.js';
import { SlackApiError, type SlackWebApi } from './web-api.js';
import { SLACK_THREAD_KINDS, slackThreadMessage, type SlackThreadMessage } from './messages.js';

// Delivers the rows the Slack outlet wrote. Tries once and says what happened; the outbox worker
// owns retries (honouring Retry-After), ordering and deadlines; the client (web-api.ts) tries once
// and hands a 429 straight back, so it comes back here as a `retry`.

type Payload<K extends SlackThreadMessage['kind']> = Extract<SlackThreadMessage, { kind: K }>['payload'];

export interface SlackTargetDeps {
  db: Db;
  /**
   * On PostgreSQL: every read goes through the store and every write is a store transaction,
   * instead of `db`'s synchronous connection, which is SQLite's. The pace hook then answers from
   * what deliveries and lookup() last read (the worker awaits lookup first).
   */
  store?: Pick<Store, 'read' | 'transaction'>;
  client: SlackWebApi;
  timezone: string;
  now: () => number;
}

/** Slack errors that are about Slack, not about the message: worth trying again. */
const TRANSIENT = new Set(['ratelimited', 'rate_limited', 'internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'team_added_to_org']);

/** Maps a failed Slack call to a delivery result. Exported for tests. */
export function toDeliveryResult(err: unknown): DeliveryResult {
  if (!(err instanceof SlackApiError)) return { kind: 'retry', error: err instanceof Error ? err.message : String(err) };
  switch (err.code) {
    case 'slack_webapi_rate_limited_error':
      return { kind: 'retry', error: 'rate limited (429)', retryAfterMs: Math.max(0, (err.retryAfter ?? 1) * 1000) };
    case 'slack_webapi_http_error': {
      const status = err.statusCode ?? 0;
      const ra = Number(err.headers?.['retry-after']);
      if (status === 429 || status === 408 || status >= 500) {
        return { kind: 'retry', error: `HTTP ${status}`, ...(Number.isFinite(ra) && ra >= 0 ? { retryAfterMs: ra * 1000 } : {}) };
      }
      return { kind: 'failed', error: `HTTP ${status}` };
    }
    case 'slack_webapi_platform_error': {
      const code = err.data?.error ?? 'unknown_error';
      return TRANSIENT.has(code) ? { kind: 'retry', error: code } : { kind: 'failed', error: code };
    }
    case 'slack_webapi_request_error':
      return { kind: 'retry', error: err.message };
  }
}

import { raceAbort } from '../../src/mirror/target.js';
export { raceAbort };

/**
 * Slack posts about one message per second per channel (chat.postMessage; edits and ephemeral
 * messages have limits of their own) and answers 429 beyond that. Every row that posts to a
 * channel is paced under this key, whichever target sends it, so the worker never starts a post
 * the channel would refuse.
 */
export const SLACK_POST_INTERVAL_MS = 1_000;
/**
 * Slack is one upstream for every channel, and its limits are per channel (kept by the pacing and
 * the post gate below), so a fan-out to many channels may have more posts in flight than the
 * worker's default share for one host. Still a share: a Slack that hangs leaves the other
 * upstreams three quarters of the slots.
 */
export const SLACK_UPSTREAM_SHARE = 256;
export const slackChannelPaceKey = (channel: string) => `slack:channel:${channel}`;

/**
 * The worker paces when rows start; Slack counts when a message arrives, and a row may make
 * another call first (an edit) or its earlier post may have been slow to arrive. So the last
 * step is taken here, per channel: a post goes out no sooner than one interval after the answer to
 * the previous post to that channel. The answer comes after Slack counted that post, so two posts
 * can never arrive closer together than the interval. When the worker has paced the rows, this
 * waits only for the few milliseconds between the two clocks; posts to one channel are sent one
 * at a time. Shared by every target that uses the same client (the internal thread and
 * customer channels may post to the same channel). Exported for tests.
 */
export class ChannelPostGate {
  private readonly lastAnswer = new Map<string, number>();
  private readonly tails = new Map<string, Promise<void>>();

  constructor(
    private readonly intervalMs = SLACK_POST_INTERVAL_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  async post<T>(channel: string, signal: AbortSignal | undefined, send: () => Promise<T>): Promise<T> {
    const before = this.tails.get(channel);
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    // Whoever comes next waits for this post and every earlier one, even if this one is abandoned.
    const tail = before !== undefined ? before.then(() => mine) : mine;
    this.tails.set(channel, tail);
    let sent = false;
    try {
      if (before !== undefined) await untilAborted(before, signal);
      else if (signal?.aborted) throw new Error('aborted before sending');
      const due = (this.lastAnswer.get(channel) ?? -Infinity) + this.intervalMs;
      // A timer may fire a little early by this clock (timers run on a coarser one): check again.
      for (let wait = due - this.now(); wait > 0; wait = due - this.now()) {
        await untilAborted(new Promise<void>((r) => setTimeout(r, Math.ceil(wait))), signal);
      }
      sent = true;
      return await send();
    } finally {
      // A refused or failed post may still have reached Slack: space the next one from it too.
      if (sent) this.remember(channel);
      done();
      if (this.tails.get(channel) === tail) this.tails.delete(channel);
    }
  }

  private remember(channel: string): void {
    const at = this.now();
    this.lastAnswer.delete(channel);
    this.lastAnswer.set(channel, at);
    // Only recent answers matter; the map stays as small as the channels posted to in one interval.
    if (this.lastAnswer.size > 10_000) {
      for (const [c, t] of this.lastAnswer) {
        if (t > at - this.intervalMs) break;
        this.lastAnswer.delete(c);
      }
    }
  }
}

/** Waits for `p`; rejects as soon as `signal` fires, so an abandoned attempt never sends. */
function untilAborted(p: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new Error('aborted before sending'));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new Error('aborted before sending'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err as Error);
      },
    );
  });
}

const gates = new WeakMap<object, ChannelPostGate>();

/** The one gate of a client: every target posting through it shares the channels' spacing. */
export function channelPostGate(client: SlackWebApi): ChannelPostGate {
  const known = gates.get(client);
  if (known) return known;
  const g = new ChannelPostGate();
  gates.set(client, g);
  return g;
}

/** Names tried for an incident's own channel (the plain one, then `-2` …) before the row fails. */
const NAME_TRIES = 10;

/** The incident a private incident's lane names (`slack:thread:private:INC-7` → 7). */
const privateLaneIncident = (target: string): number | null => {
  const m = /^slack:thread:private:INC-(\d+)$/.exec(target);
  return m ? Number(m[1]) : null;
};

/**
 * What a lane says about an incident's channels before any was read: a shared lane is named after
 * the incidents channel its thread opened in (its home); a private lane names no channel.
 */
const laneChannels = (target: string): ThreadChannel[] =>
  privateLaneIncident(target) !== null ? [] : [{ channel: target.slice(SLACK_THREAD_PREFIX.length), dedicated: false }];

/** Incidents whose channels a PostgreSQL target remembers; past this the memory starts again. */
const CHANNELS_KEPT = 10_000;

export function createSlackTarget(deps: SlackTargetDeps): Target {
  const { db, client, store } = deps;
  const gate = channelPostGate(client);
  // SQLite: every query on the writer connection, as always. PostgreSQL: reads through the store,
  // each write its own transaction.
  const read: <T>(fn: (db: ReadConn) => Promise<T>) => Promise<T> = store ? (fn) => store.read(fn) : (fn) => fn(db);
  const write: <T>(fn: (tx: WriteTx) => Promise<T>) => Promise<T> = store ? (fn) => store.transaction(fn) : (fn) => fn(db);
  // PostgreSQL: the channels of the incidents this target has read, for the synchronous pace hook.
  // An incident's channels are fixed once its opening rows are delivered (its own channel is
  // created by the first row of its lane), and every delivery reads them again.
  const channels = store ? new Map<number, ThreadChannel[]>() : null;
  const remember = (incidentId: number, rows: readonly ThreadChannel[]) => {
    if (!channels) return;
    if (channels.size >= CHANNELS_KEPT && !channels.has(incidentId)) channels.clear();
    channels.set(
      incidentId,
      rows.map((r) => ({ channel: r.channel, dedicated: r.dedicated })),
    );
  };
  /** The incident's thread rows, read now (and remembered for the pace hook). */
  const threadRowsOf = async (incidentId: number) => {
    const rows = await read((c) => slackThreadRows(c, incidentId));
    remember(incidentId, rows);
    return rows;
  };

  /** The channel a row posts a message to, if it posts one and the channel is known yet. */
  function postsTo(msg: BreakerSubject): string | undefined {
    // A maintenance's thread (no incident) is in the channel its lane names.
    if (msg.incidentId === null) return msg.kind === 'root_post' || msg.kind === 'thread_reply' ? msg.target.slice(SLACK_THREAD_PREFIX.length) : undefined;
    // SQLite: asked now (the statement is prepared once). PostgreSQL: what was last read, else
    // what the lane says (its home channel; an own channel not read yet is not paced here, and the
    // post gate still spaces the posts this process sends to it).
    const rows = channels ? (channels.get(msg.incidentId) ?? laneChannels(msg.target)) : threadChannels(db, msg.incidentId, 'slack');
    const home = rows.find((r) => !r.dedicated);
    const own = rows.find((r) => r.dedicated);
    switch (msg.kind) {
      case 'root_post':
        return (msg.payload.dedicated === true ? own : home)?.channel;
      case 'thread_reply':
        return (own ?? home)?.channel;
      case 'link_post':
        return home?.channel;
      default:
        // Edits (chat.update), ephemeral messages and channel creation are not channel posts.
        return undefined;
    }
  }

  /** Where the incident's thread lives: its dedicated channel once created, else the incidents channel. */
  async function thread(incidentId: number) {
    const rows = await threadRowsOf(incidentId);
    return rows.find((r) => r.dedicated) ?? rows.find((r) => !r.dedicated);
  }

  /** No root ts yet: worth waiting for only while its post (or channel) is still on its way. */
  async function noRoot(incidentId: number): Promise<DeliveryResult> {
    return (await read((c) => hasRowOnItsWay(c, incidentId, ['root_post', 'create_channel'])))
      ? { kind: 'retry', error: 'the root message is not posted yet' }
      : { kind: 'failed', error: 'the incident has no root message in Slack (its post failed; `deliveries` lists it)' };
  }

  async function setRoot(incidentId: number, channel: string, ts: string): Promise<void> {
    await write((tx) => setThreadRoot(tx, incidentId, 'slack', channel, ts));
  }

  async function createChannel(incidentId: number, p: Payload<'create_channel'>): Promise<DeliveryResult> {
    let row = (await threadRowsOf(incidentId)).find((r) => r.dedicated);
    // A retry after the channel was created (say, the invite failed) must not create a second one.
    if (!row) {
      // A private incident's names come from src/domain (Slack's characters, within 80, the
      // incident number kept whole); a dedicated channel keeps its shorter form.
      const title = p.private ? (await read((c) => getIncident(c, incidentId))).title : '';
      const nameFor = (attempt: number) =>
        attempt === 1 ? p.name : p.private ? privateChannelCandidate(incidentId, title, attempt) : `${p.name.slice(0, 76)}-${attempt}`;
      let channelId: string | undefined;
      for (let attempt = 1; attempt <= NAME_TRIES && !channelId; attempt++) {
        try {
          channelId = (await client.conversations.create({ name: nameFor(attempt), is_private: p.private })).channelId;
        } catch (err) {
          if (err instanceof SlackApiError && err.data?.error === 'name_taken') continue;
          throw err;
        }
      }
      if (!channelId) return { kind: 'failed', error: `name_taken: ${p.name} and ${NAME_TRIES - 1} variants are taken` };
      const created = channelId;
      await write(async (tx) => {
        await insertThread(tx, { incidentId, platform: 'slack', channel: created, rootRef: null, dedicated: true, createdAt: deps.now() });
        // Whoever types in it is a member, and members may see the incident (need to know).
        if (p.private) await setPrivateChannel(tx, incidentId, created);
      });
      row = (await threadRowsOf(incidentId)).find((r) => r.dedicated)!;
    }
    if (p.users.length) {
      try {
        await client.conversations.invite({ channel: row.channel, users: p.users.join(',') });
      } catch (err) {
        const code = err instanceof SlackApiError ? err.data?.error : undefined;
        // Already there, or the declarer is the bot itself: the channel is usable either way.
        if (!['already_in_channel', 'cant_invite_self', 'user_not_found'].includes(code ?? '')) throw err;
      }
      // The invited may see the private incident from anywhere, not only typing in its channel.
      if (p.private) {
        await write(async (tx) => {
          for (const u of p.users) await addPrivateMember(tx, incidentId, `slack:${u}`, 'system:sitrep', deps.now());
        });
      }
    }
    return { kind: 'delivered', remoteRef: row.channel };
  }

  /**
   * A scheduled maintenance's thread in the incidents channel: its root message (rendered from the
   * database when sent), edits of it, replies under it, and its approval requests' edits.
   */
  async function deliverMaintenance(msg: OutboxMessage, m: SlackThreadMessage, maintenanceId: number, signal: AbortSignal): Promise<DeliveryResult> {
    const row = await read((c) => maintenanceThread(c, maintenanceId, 'slack'));
    if (!row) return { kind: 'failed', error: 'the maintenance has no Slack thread' };
    const noRoot: DeliveryResult = { kind: 'failed', error: 'the maintenance has no root message in Slack (its post failed; `deliveries` lists it)' };
    const channel = row.channel;
    switch (m.kind) {
      case 'root_post': {
        if (row.rootRef) return { kind: 'delivered', remoteRef: row.rootRef };
        const root = maintenanceRootMessage(await read((c) => loadMaintenanceThreadView(c, maintenanceId)), deps.timezone);
        const res = await gate.post(channel, signal, () => client.chat.postMessage({ channel, text: root.text, blocks: root.blocks, unfurl_links: false }));
        if (!res.ts) return { kind: 'retry', error: 'chat.postMessage returned no ts' };
        const ts = res.ts;
        await write((tx) => setMaintenanceThreadRoot(tx, maintenanceId, 'slack', ts));
        return { kind: 'delivered', remoteRef: res.ts };
      }
      case 'root_update': {
        if (!row.rootRef) return noRoot;
        const root = maintenanceRootMessage(await read((c) => loadMaintenanceThreadView(c, maintenanceId)), deps.timezone);
        await client.chat.update({ channel, ts: row.rootRef, text: root.text, blocks: root.blocks });
        return { kind: 'delivered', remoteRef: row.rootRef };
      }
      case 'thread_reply': {
        if (!row.rootRef) return noRoot;
        const p = m.payload;
        const rootRef = row.rootRef;
        const res = await gate.post(channel, signal, () =>
          client.chat.postMessage({ channel, thread_ts: rootRef, text: p.text, blocks: p.blocks, reply_broadcast: p.broadcast, unfurl_links: false }),
        );
        return { kind: 'delivered', ...(res.ts ? { remoteRef: res.ts } : {}) };
      }
      case 'approval_update': {
        const p = m.payload;
        const requestTs = await read((c) => approvalRequestRef(c, maintenanceLane(msg.target, maintenanceId), null, p.draftId));
        if (!requestTs) return { kind: 'delivered' }; // the approval request was never posted: nothing to edit
        await client.chat.update({ channel, ts: requestTs, text: p.text, blocks: p.blocks });
        return { kind: 'delivered', remoteRef: requestTs };
      }
      default:
        return { kind: 'failed', error: `${m.kind} is not a maintenance thread message` };
    }
  }

  async function deliverOnce(msg: OutboxMessage, signal: AbortSignal): Promise<DeliveryResult> {
    if (msg.maintenanceId != null) {
      if (!SLACK_THREAD_KINDS.includes(msg.kind)) return { kind: 'failed', error: `unknown Slack message kind ${msg.kind}` };
      return deliverMaintenance(msg, slackThreadMessage.parse({ kind: msg.kind, payload: msg.payload }), msg.maintenanceId, signal);
    }
    const incidentId = msg.incidentId;
    if (incidentId === null && msg.kind !== 'ephemeral') return { kind: 'failed', error: `${msg.kind} without an incident` };
    if (!SLACK_THREAD_KINDS.includes(msg.kind)) return { kind: 'failed', error: `unknown Slack message kind ${msg.kind}` };
    const m = slackThreadMessage.parse({ kind: msg.kind, payload: msg.payload });
    switch (m.kind) {
      case 'create_channel':
        return createChannel(incidentId!, m.payload);
      case 'root_post': {
        const dedicated = m.payload.dedicated;
        const rows = await threadRowsOf(incidentId!);
        const row = dedicated ? rows.find((r) => r.dedicated) : rows.find((r) => !r.dedicated);
        if (!row) return { kind: 'retry', error: 'the incident channel is not created yet' };
        if (row.rootRef) return { kind: 'delivered', remoteRef: row.rootRef };
        const view = await read(async (c) => loadIncidentView(c, await getIncident(c, incidentId!)));
        const root = rootMessage(view, deps.timezone, deps.now());
        const res = await gate.post(row.channel, signal, () =>
          client.chat.postMessage({ channel: row.channel, text: root.text, blocks: root.blocks, unfurl_links: false }),
        );
        if (!res.ts) return { kind: 'retry', error: 'chat.postMessage returned no ts' };
        await setRoot(incidentId!, row.channel, res.ts);
        return { kind: 'delivered', remoteRef: res.ts };
      }
      case 'root_update': {
        const row = await thread(incidentId!);
        if (!row) return { kind: 'failed', error: 'the incident has no Slack thread' };
        if (!row.rootRef) return await noRoot(incidentId!);
        const view = await read(async (c) => loadIncidentView(c, await getIncident(c, incidentId!)));
        const root = rootMessage(view, deps.timezone, deps.now());
        await client.chat.update({ channel: row.channel, ts: row.rootRef, text: root.text, blocks: root.blocks });
        return { kind: 'delivered', remoteRef: row.rootRef };
      }
      case 'thread_reply': {
        const p = m.payload;
        const row = await thread(incidentId!);
        if (!row) return { kind: 'failed', error: 'the incident has no Slack thread' };
        if (!row.rootRef) return await noRoot(incidentId!);
        const rootRef = row.rootRef;
        const res = await gate.post(row.channel, signal, () =>
          client.chat.postMessage({
            channel: row.channel,
            thread_ts: rootRef,
            text: p.text,
            blocks: p.blocks,
            reply_broadcast: p.broadcast,
            unfurl_links: false,
          }),
        );
        return { kind: 'delivered', ...(res.ts ? { remoteRef: res.ts } : {}) };
      }
      case 'link_post': {
        const rows = await threadRowsOf(incidentId!);
        const home = rows.find((r) => !r.dedicated);
        const own = rows.find((r) => r.dedicated);
        if (!home) return { kind: 'failed', error: 'the incident has no incidents-channel row' };
        if (!own) return { kind: 'retry', error: 'the incident channel is not created yet' };
        if (home.rootRef) return { kind: 'delivered', remoteRef: home.rootRef };
        const inc = await read((c) => getIncident(c, incidentId!));
        const root = channelLink(`INC-${inc.id}`, inc.title, own.channel);
        const res = await gate.post(home.channel, signal, () => client.chat.postMessage({ channel: home.channel, text: root.text, blocks: root.blocks }));
        // Replies under the link message count as the incident's thread too.
        if (res.ts) await setRoot(incidentId!, home.channel, res.ts);
        return { kind: 'delivered', ...(res.ts ? { remoteRef: res.ts } : {}) };
      }
      case 'approval_update': {
        const p = m.payload;
        const row = await thread(incidentId!);
        const requestTs = await read((c) => approvalRequestRef(c, msg.target, incidentId!, p.draftId));
        if (!row || !requestTs) return { kind: 'delivered' }; // the approval request was never posted: nothing to edit
        await client.chat.update({ channel: row.channel, ts: requestTs, text: p.text, blocks: p.blocks });
        return { kind: 'delivered', remoteRef: requestTs };
      }
      case 'ephemeral': {
        const p = m.payload;
        await client.chat.postEphemeral({ channel: p.channel, user: p.user, text: p.text, ...(p.thread_ts ? { thread_ts: p.thread_ts } : {}) });
        return { kind: 'delivered' };
      }
    }
  }

  return {
    handles: (target) => target.startsWith(SLACK_THREAD_PREFIX),
    upstreamShare: SLACK_UPSTREAM_SHARE,
    ...(store
      ? {
          // The channels of a claimed batch's incidents (a dedicated or private channel, once
          // created, possibly by another replica) are read for the pace hook.
          async lookup(targets: readonly string[], rows: readonly BreakerSubject[]) {
            const ids = new Set(targets.map(privateLaneIncident).filter((id): id is number => id !== null));
            for (const r of rows) if (r.incidentId !== null) ids.add(r.incidentId);
            await Promise.all([...ids].map(async (id) => remember(id, await store.read((c) => findThreadChannels(c, id, 'slack')))));
          },
        }
      : {}),
    pace(msg) {
      const channel = postsTo(msg);
      return channel ? { key: slackChannelPaceKey(channel), intervalMs: SLACK_POST_INTERVAL_MS } : undefined;
    },
    async deliver(msg, signal) {
      const attempt = deliverOnce(msg, signal).catch((err: unknown): DeliveryResult => {
        if (err instanceof z.ZodError) return { kind: 'failed', error: `bad ${msg.kind} payload: ${err.issues[0]?.message ?? 'invalid'}` };
        return toDeliveryResult(err);
      });
      return raceAbort(attempt, signal);
    },
  };
}
