import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { Agent as HttpAgent, request as httpRequest, type AgentOptions, type ClientRequest, type ClientRequestArgs, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions as HttpsRequestOptions } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { Db } from '../../db/client.js';
import { findSubscriptionById, findSubscriptionsByIds, subscriptionLookup, type SubscriptionRow } from '../../db/queries/subscriptions.js';
import type { Store } from '../../db/store.js';
import { checkHost, refuseAddress, type AddressPolicy } from '../../src/mirror/address.js';
import { maintenanceRef } from '../../src/domain/maintenance.js';
import { signWebhook } from '../../src/mirror/signing.js';
import { parseRetryAfter, scheduledRetryDelay } from '../../src/mirror/policy.js';
import type { DeliveryResult, OutboxMessage, Target } from '../../src/mirror/target.js';
import { storedObject, webhookMessage } from './messages.js';

// Signed outgoing webhooks. One attempt per call: the worker owns retries, order and the 30 s
// budget (it aborts `signal`), on the Standard Webhooks schedule given here. 2xx is success. 410
// Gone is a permanent failure that disables the subscription (the receiver says the endpoint is
// gone for good; the delivery is dead-lettered and reported, `deliveries retry` re-sends it).
// Every other status, a timeout or a dropped connection is retried.
//
// Connections are kept alive and pooled per origin, so a fan-out of thousands of messages to a
// few hosts does not pay a connect (and a TLS handshake) per message. A pooled connection is
// reused only for a request whose host name resolved, just now, to exactly the addresses that
// connection was made for, and each new connection judges its address when it connects.

/** Every address a host name resolves to (the system resolver unless one is passed in). */
export type Resolver = (hostname: string, family: number | undefined) => Promise<LookupAddress[]>;

export interface WebhookTargetDeps extends AddressPolicy {
  db: Db;
  /**
   * On PostgreSQL: subscriptions are read through the store (asynchronously) instead of `db`'s
   * synchronous statement, which is SQLite's.
   */
  store?: Pick<Store, 'read'>;
  now: () => number;
  userAgent?: string;
  resolve?: Resolver;
}

const systemResolver: Resolver = (hostname, family) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, ...(family ? { family } : {}) }, (err, addresses) => (err ? reject(err) : resolve(addresses)));
  });

const subscriptionIdOf = (target: string): number | null => {
  const m = /^webhook:S-(\d+)$/.exec(target);
  return m ? Number(m[1]) : null;
};

export { parseRetryAfter };

/** The first refused address among `list`, as the reason, or null when every one is allowed. */
function refusal(list: readonly LookupAddress[], hostname: string, policy: AddressPolicy): string | null {
  for (const a of list) {
    const why = refuseAddress(a.address, hostname, policy);
    if (why) return why;
  }
  return null;
}

/**
 * The connection's own lookup, answering with the addresses the request's host name resolved to.
 * The socket connects only to an address returned here, so judging them here judges the address
 * actually connected to, on every new connection. One refused address refuses the name: a
 * connection may try any of them.
 */
function pinnedLookup(resolved: readonly LookupAddress[], policy: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    const why = refusal(resolved, hostname, policy);
    if (why) return callback(Object.assign(new Error(why), { code: 'EADDRREFUSED' }), '', 0);
    const family = typeof options.family === 'number' && options.family !== 0 ? options.family : undefined;
    const list = family ? resolved.filter((a) => a.family === family) : [...resolved];
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
    const first = list[0];
    if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
    callback(null, first.address, first.family);
  };
}

/** Which pool a request may take a connection from: its origin plus the addresses it resolved to. */
type PooledRequestArgs = ClientRequestArgs & { pin?: string };

// Node's agents pool by host and port; these add the resolved addresses, so a name whose DNS
// answer changed gets new connections (judged at connect) instead of an old one.
class PinnedHttpAgent extends HttpAgent {
  override getName(options?: PooledRequestArgs): string {
    return `${super.getName(options)}|${options?.pin ?? ''}`;
  }
}
class PinnedHttpsAgent extends HttpsAgent {
  override getName(options?: HttpsRequestOptions & { pin?: string }): string {
    return `${super.getName(options)}|${options?.pin ?? ''}`;
  }
}

const POOL: AgentOptions = {
  keepAlive: true,
  // An idle connection is closed after this (sooner when the receiver's Keep-Alive header says it
  // closes sooner), so idle sockets to thousands of hosts do not pile up between fan-outs.
  timeout: 5_000,
  // The worker bounds requests per host (its per-upstream share); the pool does not queue them.
  maxSockets: Infinity,
  maxFreeSockets: 64,
  scheduling: 'lifo',
};

/** A receiver's answer body is not read, only drained; one that never ends is cut off here. */
const MAX_DRAIN_BYTES = 64 * 1024;

export function createWebhookTarget(deps: WebhookTargetDeps): Target {
  const resolver = deps.resolve ?? systemResolver;
  const agents = { http: new PinnedHttpAgent(POOL), https: new PinnedHttpsAgent(POOL) };
  // Prepared once: the worker asks for the breaker key of every row, and every attempt reads the
  // subscription again (it may have been removed meanwhile).
  // On PostgreSQL the breaker key answers from what lookup() last read (the worker awaits it first),
  // and every attempt reads the subscription afresh.
  const store = deps.store;
  const bySubscriptionId = store ? null : subscriptionLookup(deps.db);
  const loaded = new Map<number, { sub: SubscriptionRow | undefined; at: number }>();
  const subscriptionFor = (target: string) => {
    const id = subscriptionIdOf(target);
    if (id === null) return undefined;
    return bySubscriptionId ? bySubscriptionId(id) : loaded.get(id)?.sub;
  };
  // A row read this recently (by lookup, for the claimed batch) is what an attempt uses.
  const FRESH_MS = 1_000;
  const readSubscription = async (target: string): Promise<SubscriptionRow | undefined> => {
    const id = subscriptionIdOf(target);
    if (id === null) return undefined;
    if (!store) return bySubscriptionId!(id);
    const seen = loaded.get(id);
    if (seen && performance.now() - seen.at < FRESH_MS) return seen.sub;
    const sub = await store.read((db) => findSubscriptionById(db, id));
    if (loaded.size > 10_000) loaded.clear();
    loaded.set(id, { sub, at: performance.now() });
    return sub;
  };

  /** The host name's addresses now, or why it may not be connected to (failed) or not resolved (retry). */
  async function resolveHost(hostname: string): Promise<{ list: LookupAddress[] } | DeliveryResult> {
    let list: LookupAddress[];
    try {
      list = await resolver(hostname, undefined);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      return { kind: 'retry', error: `${err.message}${err.code ? ` (${err.code})` : ''}` };
    }
    const why = refusal(list, hostname, deps);
    if (why) return { kind: 'failed', error: why };
    if (!list.length) return { kind: 'retry', error: `${hostname} has no address (ENOTFOUND)` };
    return { list };
  }

  return {
    folds: true,
    handles: (target) => subscriptionIdOf(target) !== null,
    nextRetryDelayMs: (attempts, retryAfterMs, random) => scheduledRetryDelay(attempts, retryAfterMs, random),
    ...(store
      ? {
          // One query for a claimed batch's subscriptions not read within the last second.
          async lookup(targets: readonly string[]) {
            const at = performance.now();
            const ids = targets.map(subscriptionIdOf).filter((id): id is number => id !== null && !(at - (loaded.get(id)?.at ?? -Infinity) < FRESH_MS));
            if (!ids.length) return;
            const found = new Map((await store.read((db) => findSubscriptionsByIds(db, ids))).map((s) => [s.id, s]));
            if (loaded.size > 10_000) loaded.clear();
            for (const id of ids) loaded.set(id, { sub: found.get(id), at });
          },
        }
      : {}),
    breakerKey(target) {
      const sub = subscriptionFor(target);
      try {
        return sub ? `webhook:${new URL(sub.target.slice('webhook:'.length)).host}` : target;
      } catch {
        return target;
      }
    },
    async deliver(msg: OutboxMessage, signal: AbortSignal): Promise<DeliveryResult> {
      const sub = store ? await readSubscription(msg.target) : subscriptionFor(msg.target);
      if (sub?.kind !== 'webhook' || !sub.secret) {
        return { kind: 'failed', error: `${msg.target.slice('webhook:'.length)} no longer exists (unsubscribed)` };
      }
      // Disabled (410 Gone, or a whole failed schedule) while this row waited in another lane.
      if (sub.disabledAt !== null) {
        return { kind: 'failed', error: `not sent: S-${sub.id} is disabled (${sub.disabledReason ?? sub.disabledCause ?? 'disabled'})` };
      }
      let url: URL;
      try {
        url = new URL(sub.target.slice('webhook:'.length));
      } catch {
        return { kind: 'failed', error: 'the subscription URL is not valid' };
      }
      // A literal address is connected to without a lookup, so it is judged here; a name is judged
      // by what it resolves to now, and again by the connection's lookup when one is opened.
      const why = checkHost(url.hostname, deps);
      if (why) return { kind: 'failed', error: why };
      const bare = url.hostname.replace(/^\[|\]$/g, '');
      let lookup: LookupFunction | undefined;
      let pin = '';
      if (!isIP(bare)) {
        const resolved = await resolveHost(url.hostname);
        if ('kind' in resolved) return resolved;
        if (signal.aborted) return { kind: 'retry', error: 'aborted' };
        lookup = pinnedLookup(resolved.list, deps);
        pin = resolved.list
          .map((a) => `${a.family}/${a.address}`)
          .sort()
          .join(',');
      }

      // Rendered and signed once per attempt.
      const parsed = webhookMessage.safeParse({ kind: msg.kind, payload: msg.payload });
      if (!parsed.success) return { kind: 'failed', error: `unknown webhook message kind ${msg.kind}` };
      const { body: base, updateId } = parsed.data.payload;
      const now = deps.now();
      const meta = storedObject.parse(base.meta);
      const body = JSON.stringify({
        ...base,
        meta: { ...meta, generated_at: new Date(now).toISOString() },
        // Not in Statuspage's format: what a late or folded delivery must say about itself.
        sitrep: {
          delivery_id: msg.deliveryId,
          incident_id: msg.incidentId === null ? null : `INC-${msg.incidentId}`,
          maintenance_id: msg.maintenanceId == null ? null : maintenanceRef(msg.maintenanceId),
          update_id: updateId,
          folded: msg.folded,
          fold_notice: msg.foldNotice ?? null,
          delayed: Boolean(msg.delayNotice),
          delay_notice: msg.delayNotice ?? null,
          approved_at: msg.approvedAt === null ? null : new Date(msg.approvedAt).toISOString(),
        },
      });
      const timestamp = Math.floor(now / 1000);
      const headers = {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'user-agent': deps.userAgent ?? 'Sitrep-Webhooks/1',
        'webhook-id': msg.deliveryId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(sub.secret, msg.deliveryId, timestamp, body),
      };
      const https = url.protocol === 'https:';
      const send = https ? httpsRequest : httpRequest;
      const options: PooledRequestArgs = { method: 'POST', headers, signal, agent: https ? agents.https : agents.http, pin, ...(lookup ? { lookup } : {}) };

      return new Promise<DeliveryResult>((resolve) => {
        let done = false;
        const finish = (r: DeliveryResult) => {
          if (!done) {
            done = true;
            resolve(r);
          }
        };
        const req: ClientRequest = send(url, options, (res: IncomingMessage) => {
          const status = res.statusCode ?? 0;
          // Drained so the connection goes back to the pool; never read, and cut off when long.
          let drained = 0;
          res.on('data', (chunk: Buffer) => {
            drained += chunk.length;
            if (drained > MAX_DRAIN_BYTES) res.destroy();
          });
          res.on('error', () => undefined);
          if (status >= 200 && status < 300) return finish({ kind: 'delivered', remoteRef: `HTTP ${status}` });
          if (status === 410) {
            return finish({ kind: 'failed', error: 'HTTP 410 Gone: the receiver says this endpoint no longer exists', gone: true });
          }
          const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(res.headers['retry-after'], deps.now()) : undefined;
          const error = status >= 300 && status < 400 ? `HTTP ${status} (redirects are not followed)` : `HTTP ${status}`;
          finish(retryAfterMs === undefined ? { kind: 'retry', error } : { kind: 'retry', error, retryAfterMs });
        });
        req.on('error', (err: NodeJS.ErrnoException) => {
          if (err.code === 'EADDRREFUSED') return finish({ kind: 'failed', error: err.message });
          if (signal.aborted) return finish({ kind: 'retry', error: 'aborted' });
          const code = err.code ? ` (${err.code})` : '';
          const what = err.code === 'ECONNRESET' || /socket hang up/.test(err.message) ? 'connection closed before an answer' : err.message;
          finish({ kind: 'retry', error: `${what}${code}` });
        });
        req.end(body);
      });
    },
  };
}
