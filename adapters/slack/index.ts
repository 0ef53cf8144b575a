import { App as BoltApp, LogLevel, webApi, type Logger as BoltLogger } from '@slack/bolt';
import type { App } from '../../src/main.js';
import { createSlackOutlet } from './outlet.js';
import { SitrepReceiver } from './receiver.js';
import { SitrepSocketReceiver } from './socket-receiver.js';
import { SlackInbox } from './inbox.js';
import { createSlackTarget } from './target.js';
import { createSlackCustomerTarget } from './customer.js';
import { createCustomerChannelOutlet } from '../../src/mirror/customer-channels.js';
import { registerHandlers } from './handlers.js';

// Slack wiring: one call from src/main.ts. HTTP mode serves POST /slack/events on Sitrep's one
// server; Socket Mode (SLACK_APP_TOKEN) connects out instead. Every Web API call goes to
// SLACK_API_URL, and nothing is called at start-up except, in Socket Mode, apps.connections.open
// there: the authorize function hands Bolt the bot token without an auth.test round trip.
// Either way every request is committed to the inbox before it can be acknowledged, and start-up
// replays what a killed process acknowledged but did not apply (inbox.ts).

export { SitrepReceiver } from './receiver.js';
export { SitrepSocketReceiver } from './socket-receiver.js';

/** The WebClient settings every Slack call uses: the outbox, not the client, retries and waits. */
export function slackClientOptions(apiUrl: string) {
  return {
    slackApiUrl: apiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 10_000,
    logLevel: LogLevel.ERROR,
  };
}

export function toBoltLogger(log: App['log']): BoltLogger {
  const fmt = (m: unknown[]) => m.map((x) => (x instanceof Error ? x.message : typeof x === 'string' ? x : JSON.stringify(x))).join(' ');
  return {
    debug: (...m) => log.debug({ platform: 'slack' }, fmt(m)),
    info: (...m) => log.info({ platform: 'slack' }, fmt(m)),
    warn: (...m) => log.warn({ platform: 'slack' }, fmt(m)),
    error: (...m) => log.error({ platform: 'slack' }, fmt(m)),
    setLevel: () => undefined,
    getLevel: () => LogLevel.INFO,
    setName: () => undefined,
  };
}

export function registerSlack(app: App): void {
  const cfg = app.config.slack;
  if (!cfg.enabled || !cfg.botToken || !cfg.signingSecret) return;
  const botToken = cfg.botToken;
  const clientOptions = slackClientOptions(cfg.apiUrl);
  const web = new webApi.WebClient(botToken, clientOptions);
  const outlet = createSlackOutlet(app.db);
  app.outlets.push(outlet);
  app.targets.push(createSlackTarget({ db: app.db, client: web, timezone: app.config.timezone, now: app.now }));
  // Customer channels (`subscribe slack:C123`) hear published updates only, fully escaped.
  app.outlets.push(createCustomerChannelOutlet({ platform: 'slack', deadlineMs: app.config.deliveryDeadlineMinutes * 60_000 }));
  app.targets.push(createSlackCustomerTarget(web));

  const logger = toBoltLogger(app.log);
  // Both receivers commit every request to the inbox before it is answered (inbox.ts).
  const inbox = new SlackInbox(app.db);
  const socket = cfg.socketMode && cfg.appToken
    ? new SitrepSocketReceiver({ appToken: cfg.appToken, apiUrl: cfg.apiUrl, now: app.now, log: app.log, logger, inbox })
    : null;
  const http = socket ? null : new SitrepReceiver({ signingSecret: cfg.signingSecret, now: app.now, log: app.log, inbox });
  const bolt = new BoltApp({
    receiver: (socket ?? http)!,
    // No auth.test: the bot token is all a listener needs, and mentions are found by their position.
    authorize: async () => ({ botToken }),
    clientOptions,
    logger,
  });
  registerHandlers(bolt, { app, web, outlet, inbox });

  // Requests a killed process acknowledged but did not apply. Started before the server listens
  // (HTTP) or the socket connects, so the replayed commands take their places in the work queue
  // ahead of anything new.
  let replaying: Promise<void> = Promise.resolve();
  const replay = (receiver: SitrepReceiver | SitrepSocketReceiver) => {
    replaying = receiver.replay().catch((err: unknown) => app.log.error({ platform: 'slack', err }, 'replaying the Slack inbox failed'));
  };
  if (http) {
    app.routes.push((r) => r.add('POST', '/slack/events', (req, res) => http.handle(req, res)));
    app.background.push({ start: () => replay(http), stop: () => replaying });
  }
  if (socket) {
    app.background.push({
      start: () => {
        replay(socket);
        socket.start().catch((err: unknown) => app.log.error({ platform: 'slack', err }, 'Socket Mode connection failed'));
      },
      stop: async () => {
        await socket.stop().catch(() => undefined);
        await replaying;
      },
    });
  }
}
