import { createServer, type Server } from 'node:http';
import { pingDatabase } from '../db/client.js';
import { redactUrl } from '../db/open.js';
import { countIncidentsBySeverity } from '../db/queries/incidents.js';
import { createPgGauges } from './pg-gauges.js';
import { SEVERITIES } from './domain/enums.js';
import { pruneProcessedEvents } from '../db/queries/inbox.js';
import { createCheckpointer } from '../db/checkpointer.js';
import { joinApp, openBase, policyOf, type App, type AppOptions, type Base } from './app.js';
import type { Capability } from './capability.js';
import type { Config } from './config.js';
import { executeCommand } from './commands/execute.js';
import { nudgeStaleDrafts } from './commands/nudge.js';
import type { CommandContext } from './commands/context.js';
import { runDueMaintenance } from './commands/maintenance.js';
import { sendReminders } from './commands/remind.js';
import { dueMaintenanceIds } from '../db/queries/maintenances.js';
import { createRunner, forwardRunner, type Runner } from './commands/runner.js';
import { main as entryMain } from './entry.js';
import { createLogger } from './logger.js';
import { Metrics, type Collector } from './http/metrics.js';
import { Router } from './http/router.js';
import { periodic } from './periodic.js';
import { packageVersion } from './version.js';
import { createMirroring } from './mirror/index.js';
import { createStatusPage } from './statuspage/index.js';
import { createWebhooks } from '../adapters/webhook/index.js';
import { createStatuspageIo } from '../adapters/statuspage-io/index.js';
import { createSlack } from '../adapters/slack/index.js';
import { createTeams } from '../adapters/teams/index.js';
import { createPagerDuty } from '../adapters/pagerduty/index.js';

export type { App, AppOptions } from './app.js';

// The server's composition root, and the only module that joins the parts: configuration →
// database → runner → capabilities → outbox worker → HTTP server. Each capability is a value its
// factory returns from the little it needs; none registers itself anywhere. (The CLI takes just
// the outlets of the same factories: src/entry.ts.)

/** `npx sitrep …` with the server at hand (src/bin.ts runs the same through entry.ts). */
export function main(argv: string[]): Promise<number> {
  return entryMain(argv, async () => ({ serve, createApp }));
}

/**
 * The capabilities whose outlets every process that writes needs, in the order their outlets run:
 * webhooks, the built-in status page, Atlassian Statuspage, Slack, Teams. The CLI makes the same
 * list (minus the status page, whose outlet only invalidates this process's snapshot) in
 * src/entry.ts; test/core/cli-app.test.ts holds the two equal.
 */
function capabilities(base: Base, runner: Runner): Capability[] {
  const { config, store, db, log, now } = base;
  const chat = { timezone: config.timezone, deliveryDeadlineMs: config.deliveryDeadlineMinutes * 60_000 };
  return [
    createWebhooks({
      db,
      ...(base.engine === 'pg' ? { store } : {}),
      now,
      config: { publicOnly: config.webhookPublicOnly, allowLinkLocal: config.webhookAllowLinkLocal },
    }),
    // The status page reads on the store's read-only connection: a page view never waits for a
    // writer. On PostgreSQL it reads through the store, asynchronously.
    createStatusPage({
      db: base.readDb,
      ...(base.engine === 'pg' ? { store } : {}),
      now,
      config: { zone: config.timezone, orgName: config.orgName, publicUrl: config.publicUrl },
    }),
    createStatuspageIo({ db, ...(base.engine === 'pg' ? { store } : {}), log, now, config: config.statuspage }),
    createSlack({ runner, store, db, now, log, config: { slack: config.slack, ...chat } }),
    createTeams({ runner, store, db, now, log, config: { teams: config.teams, ...chat } }),
    createPagerDuty({ config: config.pagerDuty, orgName: config.orgName }),
  ];
}

export function createApp(config: Config, opts: AppOptions = {}): App {
  const base = openBase(config, { ...opts, log: opts.log ?? createLogger(config.logLevel) });
  const { db, log, now, changes } = base;
  // The capabilities get the runner when they are made; the runner gets their outlets.
  const late = forwardRunner();
  const parts = capabilities(base, late.runner);
  const metrics = new Metrics();
  // PostgreSQL: /metrics' database gauges loaded in the background, read by the collectors.
  const pgGauges = base.engine === 'pg' ? createPgGauges(base.store) : null;
  const runner = late.bind(
    createRunner({
      store: base.store,
      now,
      log,
      policy: policyOf(config),
      outlets: parts.flatMap((c) => c.outlets),
      execute: executeCommand,
      onChange: () => changes.notify(),
      onCommand: (surface, seconds) => metrics.command(surface, seconds),
    }),
  );
  // The worker, made last, with every target there is.
  const extra: Capability = { outlets: [], targets: opts.targets?.(base) ?? [], routes: [], services: [] };
  const mirroring = createMirroring({
    db,
    readDb: base.readDb,
    store: base.store,
    log,
    now,
    runner,
    targets: [extra, ...parts].flatMap((c) => c.targets),
    observe: metrics,
    engine: base.engine,
    config,
    ...(pgGauges ? { liveDeliveries: pgGauges.deliveries } : {}),
  });
  const incidentGauges: Collector = () => {
    const rows = new Map((pgGauges ? pgGauges.incidents() : countIncidentsBySeverity(db)).map((r) => [r.severity, r]));
    const per = (k: 'declared' | 'open') => SEVERITIES.map((s) => ({ labels: { severity: String(s) }, value: rows.get(s)?.[k] ?? 0 }));
    return [
      { name: 'sitrep_incidents_declared_total', help: 'Incidents declared, by severity', type: 'counter', values: per('declared') },
      { name: 'sitrep_incidents_open', help: 'Incidents not yet resolved, by severity', type: 'gauge', values: per('open') },
    ];
  };
  const housekeeping: Capability = {
    outlets: [],
    targets: [],
    routes: [],
    services: [
      createNudger(base, runner, config.nudgeMinutes * 60_000),
      createMaintenanceScheduler(base, runner),
      createReminders(base, runner),
      createDedupePruner(base),
      // WAL checkpoints on a thread of their own, not inside the commit of whichever command
      // crossed the threshold (db/checkpointer.ts). SQLite's only.
      ...(base.engine === 'sqlite' ? [createCheckpointer(db, config.dbFile, { onError: (error) => log.warn({ error }, 'WAL checkpoint failed') })] : []),
    ],
    collectors: [incidentGauges],
  };
  // On PostgreSQL, createMirroring makes PostgreSQL's worker and pruner (src/mirror/worker.pg.ts):
  // every replica delivers. The targets read (and write) through the store there, and answer
  // their synchronous hooks from what lookup() loaded for the claimed batch.
  const delivering = mirroring;
  return joinApp(base, runner, [delivering, extra, ...parts, housekeeping, ...(pgGauges ? [pgGauges.capability] : [])], metrics);
}

/**
 * Sitrep's own recurring work as a command of `system:sitrep`: `work` gets that context and says
 * how many changes it wrote (listeners are told when any); a failure is logged as `what` and the
 * next tick tries again.
 */
function systemTask(
  base: Base,
  runner: Runner,
  everyMs: number,
  what: string,
  work: (ctx: CommandContext) => Promise<number>,
  opts: { runAtStart?: boolean } = {},
) {
  return periodic(
    everyMs,
    async () => {
      try {
        if ((await work(runner.context('system:sitrep', { platform: 'cli' }))) > 0) runner.notify();
      } catch (err) {
        base.log.error({ err }, `${what} failed`);
      }
    },
    opts,
  );
}

/** Reminds approvers of drafts left waiting (SITREP_NUDGE_MINUTES), checking every 30 s. */
function createNudger(base: Base, runner: Runner, afterMs: number) {
  return systemTask(base, runner, 30_000, 'nudging stale drafts', (ctx) => nudgeStaleDrafts(ctx, afterMs));
}

/**
 * Cadence and monitoring reminders (SITREP_UPDATE_CADENCE, SITREP_MONITORING_NUDGE_HOURS), checked
 * every 30 s and at start, so a gap that ran out while the server was down is reminded at once.
 */
function createReminders(base: Base, runner: Runner) {
  const policy = { cadenceMinutes: base.config.updateCadenceMinutes, monitoringMs: base.config.monitoringNudgeHours * 3_600_000 };
  return systemTask(base, runner, 30_000, 'sending reminders', (ctx) => sendReminders(ctx, policy), { runAtStart: true });
}

/**
 * Starts and completes scheduled maintenance when due. Each tick asks the database what is due by
 * now (two index seeks), so nothing depends on being up at the scheduled second: after a restart,
 * or on a server that was down at the time, the first tick applies what fell due meanwhile, each
 * change dated at its scheduled time.
 */
function createMaintenanceScheduler(base: Base, runner: Runner) {
  return systemTask(
    base,
    runner,
    1_000,
    'starting or completing scheduled maintenance',
    async (ctx) => {
      const due = await base.store.read((db) => dueMaintenanceIds(db, base.now()));
      return due.length ? runDueMaintenance(ctx, due) : 0;
    },
    { runAtStart: true },
  );
}

/** Slack and Teams redeliver for minutes, not days: processed ids older than a day are dropped. */
function createDedupePruner(base: Base) {
  const keepMs = 24 * 60 * 60_000;
  return periodic(
    60 * 60_000,
    async () => {
      try {
        await base.store.transaction((tx) => pruneProcessedEvents(tx, base.now() - keepMs));
      } catch (err) {
        base.log.warn({ err }, 'could not prune processed platform events');
      }
    },
    { runAtStart: true },
  );
}

const fallback = new WeakMap<App, Metrics>();
/** An app joined without a registry (not createApp's) still answers /metrics from its collectors. */
function fallbackMetrics(app: App): Metrics {
  let m = fallback.get(app);
  if (!m) {
    m = new Metrics();
    m.collectFrom(app.collectors);
    fallback.set(app, m);
  }
  return m;
}

export function createRouter(app: App): Router {
  const router = new Router();
  const version = packageVersion();
  router.add(['GET', 'HEAD'], '/healthz', async (_req, res) => {
    try {
      // SQLite: one synchronous round trip; PostgreSQL: the version row, through the pool.
      if (app.engine === 'pg') await app.store.version();
      else pingDatabase(app.db);
      res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify({ ok: true, version })}\n`);
    } catch {
      res.writeHead(503, { 'content-type': 'application/json' }).end(`${JSON.stringify({ ok: false, version, error: 'database unreachable' })}\n`);
    }
  });
  router.add('GET', '/metrics', (_req, res) => {
    const metrics = app.metrics ?? fallbackMetrics(app);
    metrics.render().then(
      (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
      (err: unknown) => {
        app.log.error({ err }, 'metrics scrape failed');
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics unavailable\n');
      },
    );
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
  if (config.databaseUrl) {
    // Connect and migrate before serving: a replica that cannot reach its database says so and stops.
    try {
      await app.store.version();
    } catch (err) {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      await app.close().catch(() => undefined);
      return 1;
    }
  }
  if (config.admins.length === 0) log.warn('SITREP_ADMINS is empty: everyone may manage approvers, subscriptions, components and channels');
  const running = await startServer(app);
  const port = new URL(running.url).port;
  const base = config.port === 0 ? `http://localhost:${port}` : config.publicUrl;
  const chat = [config.slack.enabled ? (config.slack.socketMode ? 'Slack (Socket Mode)' : 'Slack') : null, config.teams.appId ? 'Teams' : null].filter(Boolean);
  const lines = [
    `Sitrep is running on port ${port}${chat.length ? ` with ${chat.join(' and ')}` : ' in local mode (no chat credentials set)'}.`,
    `  status page:  ${base}/`,
    `  health:       ${base}/healthz`,
    `  teams:        POST ${base}/api/messages${config.teams.appId ? '' : ' (inbound auth off: loopback only)'}`,
    `  console:      npx sitrep console     (or one command: npx sitrep declare "DB down" sev:2)`,
    `  database:     ${config.databaseUrl ? redactUrl(config.databaseUrl) : config.dbFile}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  const stop = () => {
    log.info('shutting down');
    void running
      .close()
      .then(() => app.close())
      .then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return new Promise<number>(() => undefined);
}
