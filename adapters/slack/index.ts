import type { App as BoltApp, LogLevel, Logger as BoltLogger, Receiver } from '@slack/bolt';
import { createSlackWebApi, type SlackWebApi } from './web-api.js';
import type { Db } from '../../db/client.js';
import type { Store } from '../../db/store.js';
import type { Capability, Route, Service } from '../../src/capability.js';
import type { Runner } from '../../src/commands/runner.js';
import type { Config } from '../../src/config.js';
import type { Logger } from '../../src/logger.js';
import { createSlackOutlet } from './outlet.js';
import { periodic } from '../../src/periodic.js';
import type { SitrepSocketReceiver } from './socket-receiver.js';
import { SlackInbox } from './inbox.js';
import { createSlackTarget } from './target.js';
import { createSlackCustomerTarget } from './customer.js';
import { createSlackHistoryTarget } from './history.js';
import { createCustomerChannelOutlet } from '../../src/mirror/customer-channels.js';

// Slack as a capability: createSlack(deps) from src/main.ts (and, for its outlets, src/entry.ts). HTTP mode serves POST /slack/events on Sitrep's one
// server; Socket Mode (SLACK_APP_TOKEN) connects out instead. Every Web API call goes to
// SLACK_API_URL, and nothing is called at start-up except, in Socket Mode, apps.connections.open
// there: the authorize function hands Bolt the bot token without an auth.test round trip.
// Either way every request is committed to the inbox before it can be acknowledged, and start-up
// replays what a killed process acknowledged but did not apply (inbox.ts).
//
// Bolt (and the Web API client, Socket Mode, Express… it brings) takes a few hundred milliseconds
// to load, and a CLI command never needs it: CLI writes only enqueue thread posts through the
// outlet, which is plain SQL. So only the outlets are made at registration; Bolt, the receiver and
// the listeners are loaded when the server starts (or the first request comes). Web API calls go through web-api.ts, plain HTTP.

/** The settings of Bolt's own WebClient (Sitrep's calls go through web-api.ts): no retries, no waits. */
export function slackClientOptions(apiUrl: string) {
  return {
    slackApiUrl: apiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 10_000,
    // LogLevel.ERROR, spelled out so that reading the options does not load Bolt.
    logLevel: 'error' as LogLevel,
  };
}

export function toBoltLogger(log: Logger): BoltLogger {
  const fmt = (m: unknown[]) => m.map((x) => (x instanceof Error ? x.message : typeof x === 'string' ? x : JSON.stringify(x))).join(' ');
  return {
    // Bolt logs at debug on every event: nothing is formatted unless debug is on.
    debug: (...m) => {
      if (log.isLevelEnabled('debug')) log.debug({ platform: 'slack' }, fmt(m));
    },
    info: (...m) => log.info({ platform: 'slack' }, fmt(m)),
    warn: (...m) => log.warn({ platform: 'slack' }, fmt(m)),
    error: (...m) => log.error({ platform: 'slack' }, fmt(m)),
    setLevel: () => undefined,
    getLevel: () => 'info' as LogLevel,
    setName: () => undefined,
  };
}

export interface SlackDeps {
  runner: Runner;
  store: Store;
  db: Db;
  now: () => number;
  log: Logger;
  config: {
    slack: Config['slack'];
    timezone: string;
    /** SITREP_DELIVERY_DEADLINE_MINUTES, for customer channels. */
    deliveryDeadlineMs: number;
  };
}

const NOTHING: Capability = { outlets: [], targets: [], routes: [], services: [] };

/**
 * Slack's outlets (thread, customer channels), targets, POST /slack/events (HTTP mode) and the
 * receiver's background work; nothing when Slack is not configured.
 */
export function createSlack(deps: SlackDeps): Capability {
  const cfg = deps.config.slack;
  if (!cfg.enabled || !cfg.botToken || !cfg.signingSecret) return NOTHING;
  const { db, log, now } = deps;
  const botToken = cfg.botToken;
  const signingSecret = cfg.signingSecret;
  const clientOptions = slackClientOptions(cfg.apiUrl);
  const web = createSlackWebApi({ token: botToken, apiUrl: cfg.apiUrl, timeoutMs: clientOptions.timeout });
  const outlet = createSlackOutlet();
  // Customer channels (`subscribe slack:C123`) hear published updates only, fully escaped.
  const outlets = [outlet, createCustomerChannelOutlet({ platform: 'slack', deadlineMs: deps.config.deliveryDeadlineMs })];
  // Both receivers commit every request to the inbox before it is answered (inbox.ts).
  const inbox = new SlackInbox(db, deps.store);
  // On PostgreSQL (`db` is SQLite's handle only there, a stand-in that refuses every use; the
  // inbox is shared by the replicas) the thread's target reads and writes through the store.
  const deliveryStore = inbox.shared ? { store: deps.store } : {};
  const targets = [
    createSlackTarget({ db, ...deliveryStore, client: web, timezone: deps.config.timezone, now }),
    createSlackCustomerTarget(web),
    // The reads a 📌 needs (conversations.replies), queued so a rate limit delays a pin, never drops it.
    createSlackHistoryTarget({ client: web, runner: deps.runner, store: deps.store, log }),
  ];
  const wiring: BoltWiring = { botToken, clientOptions, web, inbox, runner: deps.runner, store: deps.store, db, now, log };
  const logger = toBoltLogger(log);

  // Requests a killed process acknowledged but did not apply. Started before the server listens
  // (HTTP) or the socket connects, so the replayed commands take their places in the work queue
  // ahead of anything new.
  let replaying: Promise<void> = Promise.resolve();
  const failed = (what: string) => (err: unknown) => log.error({ platform: 'slack', err }, what);
  const routes: Route[] = [];
  const services: Service[] = [];
  let receiver: () => Promise<{ replay(receivedBefore?: number): Promise<void> }>;
  if (!(cfg.socketMode && cfg.appToken)) {
    const http = once(async () => {
      const { SitrepReceiver } = await import('./receiver.js');
      return wireBolt(new SitrepReceiver({ signingSecret, now, log, inbox }), logger, wiring);
    });
    // A request that comes in while Bolt is still loading waits for it (and so for the replay).
    routes.push((r) => r.add('POST', '/slack/events', async (req, res) => (await http()).handle(req, res)));
    receiver = http;
    services.push({
      start: () => {
        replaying = http()
          .then((receiver) => receiver.replay())
          .catch(failed('replaying the Slack inbox failed'));
      },
      stop: () => replaying,
    });
  } else {
    const appToken = cfg.appToken;
    const socket = once(async () => {
      const { SitrepSocketReceiver } = await import('./socket-receiver.js');
      return wireBolt(new SitrepSocketReceiver({ appToken, apiUrl: cfg.apiUrl, now, log, logger, inbox }), logger, wiring);
    });
    receiver = socket;
    let started: Promise<SitrepSocketReceiver | null> = Promise.resolve(null);
    let stopping = false;
    services.push({
      start: () => {
        started = socket().then(
          (receiver) => {
            if (stopping) return null;
            replaying = receiver.replay().catch(failed('replaying the Slack inbox failed'));
            receiver.start().catch(failed('Socket Mode connection failed'));
            return receiver;
          },
          (err: unknown) => {
            failed('loading Slack Socket Mode failed')(err);
            return null;
          },
        );
      },
      stop: async () => {
        stopping = true;
        await (await started)?.stop().catch(() => undefined);
        await replaying;
      },
    });
  }
  if (inbox.shared) {
    // PostgreSQL: a replica that dies leaves its acknowledged, unapplied requests in the shared
    // inbox, and the others may run on for days without a restart. Each replica looks for rows
    // older than any live replica takes to apply one (a request is applied within its 3 s ack
    // window) and replays them; the claim in the applying transaction keeps that once.
    services.push(
      periodic(ORPHAN_SWEEP_MS, async () => {
        await (await receiver()).replay(now() - ORPHANED_AFTER_MS).catch(failed('replaying orphaned Slack requests failed'));
      }),
    );
  }
  return { outlets, targets, routes, services };
}

/** How often a replica on PostgreSQL looks for requests a dead replica left in the inbox. */
const ORPHAN_SWEEP_MS = 5_000;
/** A row this old belongs to no live replica any more (they apply each within seconds). */
const ORPHANED_AFTER_MS = 30_000;

function once<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | null = null;
  return () => (loaded ??= load());
}

interface BoltWiring {
  botToken: string;
  clientOptions: ReturnType<typeof slackClientOptions>;
  web: SlackWebApi;
  inbox: SlackInbox;
  runner: Runner;
  store: Store;
  db: Db;
  now: () => number;
  log: Logger;
}

/** Loads Bolt and the listeners, and puts them behind `receiver`. */
async function wireBolt<R extends Receiver>(receiver: R, logger: BoltLogger, deps: BoltWiring): Promise<R> {
  const [{ App: Bolt }, { registerHandlers }] = await Promise.all([import('@slack/bolt'), import('./handlers.js')]);
  const { botToken, inbox } = deps;
  const bolt: BoltApp = new Bolt({
    receiver,
    // No conversation store: no listener keeps state per conversation, and the default one costs
    // every event a failed lookup (a rejected promise with a fresh Error and its stack).
    convoStore: false,
    // No auth.test: the bot token is all a listener needs, and mentions are found by their position.
    authorize: async () => ({ botToken }),
    // A copy: Bolt writes its logger into the options it is given, and the targets' client, made
    // later from the same options, must keep logging at error only (a debug log would print
    // request bodies, webhook signing secrets among them).
    clientOptions: { ...deps.clientOptions },
    logger,
  });
  registerHandlers(bolt, { runner: deps.runner, store: deps.store, db: deps.db, now: deps.now, log: deps.log, web: deps.web, inbox });
  return receiver;
}
