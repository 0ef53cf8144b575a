import { z } from 'zod';
import type { Db } from '../../db/client.js';
import { statuspageIdsBySlug } from '../../db/queries/components.js';
import { laneHasEarlierRow, lastDeliveredRemoteRef } from '../../db/queries/outbox.js';
import type { Store } from '../../db/store.js';
import { maintenanceLane } from '../../src/domain/maintenance.js';
import type { Logger } from '../../src/logger.js';
import type { DeliveryResult, OutboxMessage, Target } from '../../src/mirror/target.js';
import { KeyBucket, STATUSPAGE_REQUEST_INTERVAL_MS, StatuspageClient, keyFingerprint, type ApiOutcome } from './client.js';
import { STATUSPAGE_TARGET, statuspageMaintenancePayload, statuspagePayload, type StatuspageMaintenancePayload, type StatuspagePayload } from './payload.js';

export interface StatuspageTargetDeps {
  db: Db;
  /** On PostgreSQL (where `db` is no connection): the lane's earlier rows and the component map are read through the store. */
  store?: Pick<Store, 'read'>;
  log: Logger;
  now: () => number;
  apiUrl: string;
  apiKey: string;
  pageId: string;
  /** Per HTTP request (default 15 s). */
  requestTimeoutMs?: number;
  /** How long the page's component list (for mapping by name) is reused (default 5 min). */
  componentCacheMs?: number;
  /** The API key's rate limit: at most one request per this many ms (default 1,000, Statuspage's). */
  requestIntervalMs?: number;
}

const remoteIncident = z.object({ id: z.string(), metadata: z.unknown().optional() }).passthrough();
const remoteComponent = z.object({ id: z.string(), name: z.string(), group: z.boolean().optional() }).passthrough();
/** Our tag on a remote incident: `incident_id` INC-n, or `maintenance_id` M-n for a scheduled one. */
const sitrepMetadata = z.object({ sitrep: z.object({ incident_id: z.string().optional(), maintenance_id: z.string().optional() }) });

/** Ends a delivery early with this result (a rate limit, a failure) from deep inside a step. */
class Stop {
  constructor(readonly result: DeliveryResult) {}
}

function unwrap(o: ApiOutcome): unknown {
  if (o.kind === 'ok') return o.json;
  throw new Stop(o.kind === 'retry' ? { kind: 'retry', error: o.error, ...(o.retryAfterMs === undefined ? {} : { retryAfterMs: o.retryAfterMs }) } : o);
}

/**
 * Mirrors published updates to an Atlassian Statuspage page: the first creates the incident
 * (tagged with our id in `metadata`), later ones PATCH it, a resolved update resolves it, a
 * postmortem is put and published. The remote incident id is the lane's previous remoteRef.
 *
 * A scheduled maintenance is a Statuspage scheduled incident, in its own lane (`statuspage|M-3`):
 * the announcement creates it with its window and Statuspage's automatic transitions switched on
 * as Sitrep's are, but silent (auto_transition_deliver_notifications_at_start/end false), so the
 * page and the components move at the scheduled second even when Sitrep is late or down, while
 * subscribers hear once, in the words Sitrep publishes: every later text (the start, updates, the
 * completion or cancellation) PATCHes the incident with its status and body, which is harmless
 * when Statuspage has already moved it there.
 */
export function createStatuspageTarget(deps: StatuspageTargetDeps): Target {
  const intervalMs = deps.requestIntervalMs ?? STATUSPAGE_REQUEST_INTERVAL_MS;
  // Every request on this key, from every lane, takes its token from one bucket, so Statuspage's
  // limit is kept rather than learned from 429s; a 429 still comes back as a retry with Retry-After
  // (another client may share the key).
  const bucket = new KeyBucket(intervalMs);
  const client = new StatuspageClient({ apiUrl: deps.apiUrl, apiKey: deps.apiKey, timeoutMs: deps.requestTimeoutMs ?? 15_000, bucket }, deps.now);
  // The worker paces rows on the same key (each row makes at least one request), so it does not
  // start rows that would only wait for the bucket. The key is named by a fingerprint, never itself.
  const paceKey = `statuspage:${keyFingerprint(deps.apiKey)}`;
  const page = `/pages/${encodeURIComponent(deps.pageId)}`;
  let componentCache: { at: number; byName: Map<string, string> } | null = null;
  // Nothing here is asked synchronously (the breaker and pace keys are fixed): every read is in a
  // delivery, on `db` (SQLite) or through the store (PostgreSQL).
  const store = deps.store;
  const read = <T>(fn: (h: Db) => Promise<T>): Promise<T> => (store ? store.read(fn) : fn(deps.db));

  /** The row's lane as stored: a maintenance's is named in the target value. */
  const laneOf = (msg: OutboxMessage) => (msg.maintenanceId == null ? msg.target : maintenanceLane(msg.target, msg.maintenanceId));

  /** The Statuspage incident this lane already created, if the worker did not say. */
  async function knownRemoteId(msg: OutboxMessage): Promise<string | null> {
    if (msg.previousRemoteRef !== undefined) return msg.previousRemoteRef;
    if (msg.incidentId === null && msg.maintenanceId == null) return null;
    return await read((h) => lastDeliveredRemoteRef(h, laneOf(msg), msg.incidentId, msg.id));
  }

  /** Looks for an incident carrying our metadata: a create whose answer we never saw may have worked. */
  async function findByMetadata(tag: { incident_id: string } | { maintenance_id: string }, signal: AbortSignal): Promise<string | null> {
    const json = unwrap(await client.request('GET', `${page}/incidents?limit=100`, undefined, signal));
    const list = z.array(remoteIncident).safeParse(json);
    if (!list.success) throw new Stop({ kind: 'retry', error: 'GET incidents: unexpected answer' });
    for (const inc of list.data) {
      const meta = sitrepMetadata.safeParse(inc.metadata);
      if (!meta.success) continue;
      const found = meta.data.sitrep;
      if ('incident_id' in tag ? found.incident_id === tag.incident_id : found.maintenance_id === tag.maintenance_id) return inc.id;
    }
    return null;
  }

  /** Statuspage component ids: `component map` first, else the page's component of the same name. */
  async function componentIds(p: Pick<StatuspagePayload, 'components'>, signal: AbortSignal): Promise<Map<string, string>> {
    const slugs = p.components.map((c) => c.slug);
    const out = await read((h) => statuspageIdsBySlug(h, slugs));
    if (!slugs.length) return out;
    const missing = p.components.filter((c) => !out.has(c.slug));
    if (!missing.length) return out;
    const now = deps.now();
    const age = componentCache ? now - componentCache.at : Infinity;
    const stale = age > (deps.componentCacheMs ?? 300_000);
    // A name not found in a list older than a minute may be a component added on Statuspage since.
    const unknown = componentCache !== null && age > 60_000 && missing.some((c) => !componentCache!.byName.has(c.name.trim().toLowerCase()));
    if (!componentCache || stale || unknown) {
      const json = unwrap(await client.request('GET', `${page}/components`, undefined, signal));
      const list = z.array(remoteComponent).safeParse(json);
      if (!list.success) throw new Stop({ kind: 'retry', error: 'GET components: unexpected answer' });
      componentCache = { at: now, byName: new Map(list.data.filter((c) => !c.group).map((c) => [c.name.trim().toLowerCase(), c.id])) };
    }
    for (const c of missing) {
      const id = componentCache.byName.get(c.name.trim().toLowerCase());
      if (id) out.set(c.slug, id);
      else deps.log.warn({ target: STATUSPAGE_TARGET, component: c.slug }, 'no Statuspage component of that name; map one with `component map <slug> <id>`');
    }
    return out;
  }

  function componentFields(p: Pick<StatuspagePayload, 'components'>, ids: Map<string, string>) {
    const map: Record<string, string> = {};
    for (const c of p.components) {
      const id = ids.get(c.slug);
      if (id) map[id] = c.status;
    }
    return { components: map, component_ids: Object.keys(map) };
  }

  async function deliverParsed(msg: OutboxMessage, p: StatuspagePayload, signal: AbortSignal): Promise<DeliveryResult> {
    let remoteId = await knownRemoteId(msg);
    // A first attempt of the lane's first message cannot have created anything yet; any other
    // message without a known remote incident might follow a create whose outcome is unknown.
    if (!remoteId && (msg.attempts > 1 || !(await isFirstOfLane(msg)))) {
      remoteId = await findByMetadata({ incident_id: p.incident }, signal);
    }
    if (p.postmortem) {
      if (!remoteId) return { kind: 'failed', error: `no Statuspage incident for ${p.incident} to attach the postmortem to` };
      const path = `${page}/incidents/${encodeURIComponent(remoteId)}/postmortem`;
      unwrap(await client.request('PUT', path, { postmortem: { body_draft: p.body } }, signal));
      unwrap(await client.request('PUT', `${path}/publish`, { postmortem: { notify_subscribers: true, notify_twitter: false } }, signal));
      return { kind: 'delivered', remoteRef: remoteId };
    }
    const fields = componentFields(p, await componentIds(p, signal));
    return createOrPatch(
      remoteId,
      { name: p.name, status: p.status, body: p.body, ...fields, deliver_notifications: true, metadata: { sitrep: { incident_id: p.incident } } },
      { status: p.status, body: p.body, ...fields, deliver_notifications: true },
      signal,
    );
  }

  /** A maintenance's text: the announcement creates the scheduled incident, every later text PATCHes it. */
  async function deliverMaintenance(msg: OutboxMessage, p: StatuspageMaintenancePayload, signal: AbortSignal): Promise<DeliveryResult> {
    let remoteId = await knownRemoteId(msg);
    if (!remoteId && (msg.attempts > 1 || !(await isFirstOfLane(msg)))) {
      remoteId = await findByMetadata({ maintenance_id: p.maintenance }, signal);
    }
    const fields = componentFields(p, await componentIds(p, signal));
    // Sent on every request: a maintenance started by hand after its window no longer completes
    // itself, and Statuspage must not complete it at scheduled_until either.
    const schedule = {
      scheduled_for: p.scheduledFor,
      scheduled_until: p.scheduledUntil,
      scheduled_auto_in_progress: p.autoInProgress,
      scheduled_auto_completed: p.autoCompleted,
      auto_transition_to_maintenance_state: p.autoInProgress,
      auto_transition_to_operational_state: p.autoCompleted,
      // Statuspage's own moves are silent: subscribers hear Sitrep's published notices instead.
      auto_transition_deliver_notifications_at_start: false,
      auto_transition_deliver_notifications_at_end: false,
      scheduled_remind_prior: false,
    };
    return createOrPatch(
      remoteId,
      {
        name: p.name,
        status: p.status,
        ...schedule,
        body: p.body,
        ...fields,
        deliver_notifications: true,
        metadata: { sitrep: { maintenance_id: p.maintenance } },
      },
      { status: p.status, ...schedule, body: p.body, ...fields, deliver_notifications: true },
      signal,
    );
  }

  /**
   * Creates the Statuspage incident (no remote id yet) or PATCHes the one this lane created. A
   * create whose answer has no id is retried: the next attempt finds it by metadata instead of
   * duplicating it.
   */
  async function createOrPatch(
    remoteId: string | null,
    create: Record<string, unknown>,
    patch: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<DeliveryResult> {
    if (!remoteId) {
      const created = remoteIncident.safeParse(unwrap(await client.request('POST', `${page}/incidents`, { incident: create }, signal)));
      if (!created.success) return { kind: 'retry', error: 'POST incidents: answer has no incident id' };
      return { kind: 'delivered', remoteRef: created.data.id };
    }
    unwrap(await client.request('PATCH', `${page}/incidents/${encodeURIComponent(remoteId)}`, { incident: patch }, signal));
    return { kind: 'delivered', remoteRef: remoteId };
  }

  /** Whether no earlier row of this lane exists (so no create can have happened before). */
  async function isFirstOfLane(msg: OutboxMessage): Promise<boolean> {
    if (msg.incidentId === null && msg.maintenanceId == null) return true;
    return !(await read((h) => laneHasEarlierRow(h, laneOf(msg), msg.incidentId, msg.id)));
  }

  return {
    folds: false,
    handles: (t) => t === STATUSPAGE_TARGET,
    breakerKey: () => STATUSPAGE_TARGET,
    pace: () => ({ key: paceKey, intervalMs }),
    async deliver(msg, signal) {
      const unreadable = (issues: z.ZodIssue[]): DeliveryResult => ({
        kind: 'failed',
        error: `unreadable Statuspage payload: ${issues[0]?.message ?? 'invalid'}`,
      });
      try {
        if (msg.kind === 'statuspage.maintenance') {
          const parsed = statuspageMaintenancePayload.safeParse(msg.payload);
          return parsed.success ? await deliverMaintenance(msg, parsed.data, signal) : unreadable(parsed.error.issues);
        }
        const parsed = statuspagePayload.safeParse(msg.payload);
        if (!parsed.success) return unreadable(parsed.error.issues);
        return await deliverParsed(msg, parsed.data, signal);
      } catch (e) {
        if (e instanceof Stop) return e.result;
        throw e;
      }
    },
  };
}
