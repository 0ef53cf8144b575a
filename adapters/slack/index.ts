import type { App as BoltApp, LogLevel, Logger as BoltLogger, Receiver } from '@slack/bolt';
import { createSlackWebApi, type SlackWebApi } from './web-api.js';
import type { App } from '../../src/main.js';
import { createSlackOutlet, type SlackOutlet } from './outlet.js';
import type { SitrepSocketReceiver } from './socket-receiver.js';
import { SlackInbox } from './inbox.js';
import { createSlackTarget } from './target.js';
import { createSlackCustomerTarget } from './customer.js';
import { createCustomerChannelOutlet } from '../../src/mirror/customer-channels.js';

// Slack wiring: one call from src/main.ts. HTTP mode serves POST /slack/events on Sitrep's one
// server; Socket Mode (SLACK_APP_TOKEN) connects out instead. Every Web API call goes to
// SLACK_API_URL, and nothing is called at start-up except, in Socket Mode, apps.connections.open
// there: the authorize function hands Bolt the bot token without an auth.test round trip.
// Either way every request is committed to the inbox before it can be acknowledged, and start-up
// replays what a killed process acknowledged but did not apply (inbox.ts).
//
// Bolt (and the Web API client, Socket Mode, Express… it brings) takes a few hundred milliseconds
// to load, and a CLI command never needs it: CLI writes only enqueue thread posts through the
// outlet, which is plain SQL. So only the outlets are made at registration; Bolt, the receiver and
// the listeners are loaded when the server starts. Web API calls go through web-api.ts, plain HTTP.

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

export function toBoltLogger(log: App['log']): BoltLogger {
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

export function registerSlack(app: App): void {
  const cfg = app.config.slack;
  if (!cfg.enabled || !cfg.botToken || !cfg.signingSecret) return;
  const botToken = cfg.botToken;
  const signingSecret = cfg.signingSecret;
  const clientOptions = slackClientOptions(cfg.apiUrl);
  const web = createSlackWebApi({ token: botToken, apiUrl: cfg.apiUrl, timeoutMs: clientOptions.timeout });
  const outlet = createSlackOutlet(app.db);
  app.outlets.push(outlet);
  app.targets.push(createSlackTarget({ db: app.db, client: web, timezone: app.config.timezone, now: app.now }));
  // Customer channels (`subscribe slack:C123`) hear published updates only, fully escaped.
  app.outlets.push(createCustomerChannelOutlet({ platform: 'slack', deadlineMs: app.config.deliveryDeadlineMinutes * 60_000 }));
  app.targets.push(createSlackCustomerTarget(web));

  // Both receivers commit every request to the inbox before it is answered (inbox.ts).
  const inbox = new SlackInbox(app.db);
  const wiring: BoltWiring = { botToken, clientOptions, web, outlet, inbox };
  const logger = toBoltLogger(app.log);

  // Requests a killed process acknowledged but did not apply. Started before the server listens
  // (HTTP) or the socket connects, so the replayed commands take their places in the work queue
  // ahead of anything new.
  let replaying: Promise<void> = Promise.resolve();
  const failed = (what: string) => (err: unknown) => app.log.error({ platform: 'slack', err }, what);
  if (!(cfg.socketMode && cfg.appToken)) {
    const http = once(async () => {
      const { SitrepReceiver } = await import('./receiver.js');
      return wireBolt(app, new SitrepReceiver({ signingSecret, now: app.now, log: app.log, inbox }), logger, wiring);
    });
    // A request that comes in while Bolt is still loading waits for it (and so for the replay).
    app.routes.push((r) => r.add('POST', '/slack/events', async (req, res) => (await http()).handle(req, res)));
    app.background.push({
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
      return wireBolt(app, new SitrepSocketReceiver({ appToken, apiUrl: cfg.apiUrl, now: app.now, log: app.log, logger, inbox }), logger, wiring);
    });
    let started: Promise<SitrepSocketReceiver | null> = Promise.resolve(null);
    let stopping = false;
    app.background.push({
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
}

function once<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | null = null;
  return () => (loaded ??= load());
}

interface BoltWiring {
  botToken: string;
  clientOptions: ReturnType<typeof slackClientOptions>;
  web: SlackWebApi;
  outlet: SlackOutlet;
  inbox: SlackInbox;
}

/** Loads Bolt and the listeners, and puts them behind `receiver`. */
async function wireBolt<R extends Receiver>(app: App, receiver: R, logger: BoltLogger, deps: BoltWiring): Promise<R> {
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
  registerHandlers(bolt, { app, web: deps.web, outlet: deps.outlet, inbox });
  return receiver;
}
