import { createServer, type Server } from 'node:http';
import { lt, sql } from 'drizzle-orm';
import { incidents, processedEvents } from '../db/schema.js';
import { createCheckpointer } from '../db/checkpointer.js';
import { assembleApp, type App, type AppOptions } from './app.js';
import type { Config } from './config.js';
import { executeCommand } from './commands/execute.js';
import { nudgeStaleDrafts } from './commands/nudge.js';
import { createLogger } from './logger.js';
import { renderMetrics } from './http/metrics.js';
import { Router } from './http/router.js';
import { periodic } from './periodic.js';
import { registerMirroring } from './mirror/index.js';
import { createWebhooks } from '../adapters/webhook/index.js';
import { registerSlack } from '../adapters/slack/index.js';
import { registerTeams } from '../adapters/teams/index.js';
import { registerStatusPages } from './statuspage/index.js';
import { createStatuspageIo } from '../adapters/statuspage-io/index.js';

export type { App, AppOptions } from './app.js';
// The process entry (`npx sitrep …`, `npm start`) lives in entry.ts, which loads this module only
// for the server and the console.
export { main } from './entry.js';

// The server's composition root: wires database, outlets, adapters and the HTTP server together.
// Everything else receives what it needs. (The CLI's is entry.ts: a CLI command needs one verb and,
// when it writes, the outlets, and loads nothing more.)

export function createApp(config: Config, opts: AppOptions = {}): App {
  const app = assembleApp(config, { ...opts, log: opts.log ?? createLogger(config.logLevel) }, executeCommand);
  const { db, collectors, background } = app;
  // --- wiring: each capability registers its outlets, targets, routes and background work below,
  // one call each, in this order: mirroring (outbox worker, webhooks), status pages, Slack, Teams.
  registerMirroring(app, { webhooks: createWebhooks });
  registerStatusPages(app, { statuspageIo: createStatuspageIo });
  registerSlack(app);
  registerTeams(app);
  // (wiring-end)

  background.push(createNudger(app, config.nudgeMinutes * 60_000), createDedupePruner(app));
  // WAL checkpoints on a thread of their own, not inside the commit of whichever command crossed
  // the threshold (db/checkpointer.ts).
  background.push(createCheckpointer(db, config.dbFile, { onError: (error) => app.log.warn({ error }, 'WAL checkpoint failed') }));

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

/** `npx sitrep serve`, `npm start`: the server, until SIGINT or SIGTERM. */
export async function serve(config: Config): Promise<number> {
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
