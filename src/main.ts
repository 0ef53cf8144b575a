import { createServer, type Server } from 'node:http';
import { lt, sql } from 'drizzle-orm';
import { openDatabase, type Db } from '../db/client.js';
import { incidents, processedEvents } from '../db/schema.js';
import { runCli } from '../adapters/console/cli.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import type { CommandContext, Outlet, Scope } from './commands/context.js';
import { runCommandText, type Result } from './commands/execute.js';
import { nudgeStaleDrafts } from './commands/nudge.js';
import { createLogger, type Logger } from './logger.js';
import { renderMetrics, type Collector } from './http/metrics.js';
import { Router } from './http/router.js';
import { ChangeWatcher } from './watch.js';
import { periodic } from './periodic.js';
import type { Target } from './mirror/target.js';
import { registerMirroring } from './mirror/index.js';
import { createWebhooks } from '../adapters/webhook/index.js';
import { registerSlack } from '../adapters/slack/index.js';
import { registerTeams } from '../adapters/teams/index.js';
import { registerStatusPages } from './statuspage/index.js';
import { createStatuspageIo } from '../adapters/statuspage-io/index.js';

// The composition root: the only module that reads the environment (through loadConfig) and wires
// database, outlets, adapters and the HTTP server together. Everything else receives what it needs.

export interface App {
  config: Config;
  db: Db;
  log: Logger;
  now: () => number;
  outlets: Outlet[];
  /** Delivery implementations the outbox worker uses (Slack, Teams, Statuspage, webhooks). */
  targets: Target[];
  /** Extra HTTP routes adapters contribute (Slack events, Teams messages, the status page). */
  routes: Array<(router: Router) => void>;
  /** Started with the server, stopped on shutdown (the outbox worker, nudges…). */
  background: Array<{ start(): void; stop(): Promise<void> }>;
  collectors: Collector[];
  changes: ChangeWatcher;
  contextFor(actor: string, scope: Scope): CommandContext;
  /** Parses and runs one command as `actor`; notifies change listeners after a write. */
  run(text: string, actor: string, scope: Scope): Result;
  close(): void;
}

export interface AppOptions {
  now?: () => number;
  log?: Logger;
}

export function createApp(config: Config, opts: AppOptions = {}): App {
  const log = opts.log ?? createLogger(config.logLevel);
  const db = openDatabase(config.dbFile);
  const now = opts.now ?? (() => Date.now());
  const outlets: Outlet[] = [];
  const targets: Target[] = [];
  const routes: App['routes'] = [];
  const background: App['background'] = [];
  const collectors: Collector[] = [];
  const changes = new ChangeWatcher(db);
  const policy = {
    timezone: config.timezone,
    orgName: config.orgName,
    publicUrl: config.publicUrl,
    approval: config.approval,
    admins: config.admins,
    ...(config.slack.incidentsChannel ? { slackIncidentsChannel: config.slack.incidentsChannel } : {}),
  };
  const app: App = {
    config,
    db,
    log,
    now,
    outlets,
    targets,
    routes,
    background,
    collectors,
    changes,
    contextFor: (actor, scope) => ({ db, now, actor, scope, policy, outlets }),
    run(text, actor, scope) {
      const result = runCommandText(app.contextFor(actor, scope), text, log);
      if (result.ok) changes.notify();
      return result;
    },
    close() {
      changes.stop();
      db.$client.close();
    },
  };
  // --- wiring: each capability registers its outlets, targets, routes and background work below,
  // one call each, in this order: mirroring (outbox worker, webhooks), status pages, Slack, Teams.
  registerMirroring(app, { webhooks: createWebhooks });
  registerStatusPages(app, { statuspageIo: createStatuspageIo });
  registerSlack(app);
  registerTeams(app);
  // (wiring-end)

  background.push(createNudger(app, config.nudgeMinutes * 60_000), createDedupePruner(app));

  collectors.push(() => {
    const open = db.select({ n: sql<number>`count(*)` }).from(incidents).where(sql`${incidents.status} != 'resolved'`).get()?.n ?? 0;
    return [{ name: 'sitrep_incidents_open', help: 'Incidents not yet resolved', type: 'gauge', values: [{ value: open }] }];
  });
  return app;
}

/** Reminds approvers of drafts left waiting (SITREP_NUDGE_MINUTES), checking every 30 s. */
function createNudger(app: App, afterMs: number) {
  return periodic(30_000, () => {
    try {
      if (nudgeStaleDrafts(app.contextFor('system:sitrep', { platform: 'cli' }), afterMs) > 0) app.changes.notify();
    } catch (err) {
      app.log.error({ err }, 'nudging stale drafts failed');
    }
  });
}

/** Slack and Teams redeliver for minutes, not days: processed ids older than a day are dropped. */
function createDedupePruner(app: App) {
  const keepMs = 24 * 60 * 60_000;
  return periodic(
    60 * 60_000,
    () => {
      try {
        app.db.delete(processedEvents).where(lt(processedEvents.at, app.now() - keepMs)).run();
      } catch (err) {
        app.log.warn({ err }, 'could not prune processed platform events');
      }
    },
    { runAtStart: true },
  );
}

export function createRouter(app: App): Router {
  const router = new Router();
  router.add(['GET', 'HEAD'], '/healthz', (_req, res) => {
    try {
      app.db.get(sql`select 1`);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}\n');
    } catch {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"ok":false,"error":"database unreachable"}\n');
    }
  });
  router.add('GET', '/metrics', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(renderMetrics(app.collectors));
  });
  for (const add of app.routes) add(router);
  return router;
}

export interface RunningServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Starts the one HTTP server (and background work) for `app`. `port` 0 picks a free port. */
export async function startServer(app: App, port = app.config.port, host?: string): Promise<RunningServer> {
  const router = createRouter(app);
  const server = createServer((req, res) => {
    router.handle(req, res).catch((err: unknown) => {
      app.log.error({ err, path: req.url }, 'request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
    });
  });
  server.keepAliveTimeout = 5_000;
  app.changes.start(500);
  for (const b of app.background) b.start();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const actualPort = typeof addr === 'object' && addr ? addr.port : port;
  return {
    server,
    url: `http://127.0.0.1:${actualPort}`,
    close: () =>
      (async () => {
        app.changes.stop();
        await Promise.all(app.background.map((b) => b.stop()));
        await new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        });
      })(),
  };
}

async function serve(config: Config): Promise<number> {
  const app = createApp(config);
  const log = app.log;
  if (config.admins.length === 0) log.warn('SITREP_ADMINS is empty: everyone may manage approvers, subscriptions, components and channels');
  const running = await startServer(app);
  const port = new URL(running.url).port;
  const base = config.port === 0 ? `http://localhost:${port}` : config.publicUrl;
  const chat = [
    config.slack.enabled ? (config.slack.socketMode ? 'Slack (Socket Mode)' : 'Slack') : null,
    config.teams.appId ? 'Teams' : null,
  ].filter(Boolean);
  const lines = [
    `Sitrep is running on port ${port}${chat.length ? ` with ${chat.join(' and ')}` : ' in local mode (no chat credentials set)'}.`,
    `  status page:  ${base}/`,
    `  health:       ${base}/healthz`,
    `  teams:        POST ${base}/api/messages${config.teams.appId ? '' : ' (inbound auth off: loopback only)'}`,
    `  console:      npx sitrep console     (or one command: npx sitrep declare "DB down" sev:2)`,
    `  database:     ${config.dbFile}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  const stop = () => {
    log.info('shutting down');
    void running.close().then(() => {
      app.close();
      process.exit(0);
    });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return new Promise<number>(() => undefined);
}

/** Entry point for `npx sitrep …` and `npm start`. Returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const [first, ...rest] = argv;
  if (first === 'serve') return serve(config);
  // The CLI logs only warnings and worse, to stderr, so stdout stays clean for --json.
  const quiet = { ...config, logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel };
  // The interactive console (readline, history) is loaded only when asked for.
  if (first === 'console') return (await import('../adapters/console/console.js')).runConsole(rest, { config: quiet, createApp: (c) => createApp(c) });
  return runCli(argv, { config: quiet, createApp: (c) => createApp(c) });
}
