import type { Db } from '../db/client.js';
import { openStore } from '../db/open.js';
import type { Store } from '../db/store.js';
import type { Capability, Route, Service } from './capability.js';
import type { Config } from './config.js';
import type { CommandContext, Outlet, Policy, Scope } from './commands/context.js';
import type { Result } from './commands/run.js';
import type { Runner } from './commands/runner.js';
import type { Logger } from './logger.js';
import type { Collector, Metrics } from './http/metrics.js';
import type { Target } from './mirror/target.js';
import { ChangeWatcher } from './watch.js';

// What a Sitrep process holds once its composition root has joined its parts: the database, the
// clock, the runner, and every capability's outlets, targets, routes and background work, as
// values. The server's app (src/main.ts: every verb, every capability) and the CLI's
// (src/entry.ts: one verb, the outlets when it writes) are both joined here, so they cannot differ
// in how a command runs. Nothing here is changed after it is made.

export interface App {
  readonly config: Config;
  /** The storage port: every command runs in `store.transaction`. */
  readonly store: Store;
  /** The writer connection, for the parts that still run synchronous SQLite (the outbox worker, the status page's read model). */
  readonly db: Db;
  /** Which engine holds the data: SQLite (SITREP_DB) or PostgreSQL (SITREP_DATABASE_URL). */
  readonly engine: 'sqlite' | 'pg';
  readonly log: Logger;
  readonly now: () => number;
  readonly runner: Runner;
  readonly outlets: readonly Outlet[];
  /** Delivery implementations the outbox worker uses (Slack, Teams, Statuspage, webhooks). */
  readonly targets: readonly Target[];
  /** HTTP routes capabilities contribute (Slack events, Teams messages, the status page). */
  readonly routes: readonly Route[];
  /** Started with the server, stopped on shutdown (the outbox worker, nudges…). */
  readonly background: readonly Service[];
  /** Metrics for GET /metrics (a plain array: a test instruments each collector in place). */
  readonly collectors: Collector[];
  /**
   * The registry /metrics renders: the collectors' samples and what the runner and the worker
   * observed. The server's app has one; the CLI's does not load prom-client at all.
   */
  readonly metrics?: Metrics;
  readonly changes: ChangeWatcher;
  contextFor(actor: string, scope: Scope): CommandContext;
  /** Parses and runs one command as `actor`; notifies change listeners after a write. */
  run(text: string, actor: string, scope: Scope): Promise<Result>;
  /** Stops watching for changes and closes the database (after any transaction in progress). */
  close(): Promise<void>;
}

export interface AppOptions {
  now?: () => number;
  log?: Logger;
  /**
   * Targets the outbox worker tries before every capability's, made with the app's database and
   * clock (a test's webhook target with a fake resolver; a benchmark's in-process sink).
   */
  targets?: (base: Base) => Target[];
}

/** The policy every command reads, from the configuration. */
export function policyOf(config: Config): Policy {
  return {
    timezone: config.timezone,
    orgName: config.orgName,
    publicUrl: config.publicUrl,
    approval: config.approval,
    admins: config.admins,
    ...(config.slack.incidentsChannel ? { slackIncidentsChannel: config.slack.incidentsChannel } : {}),
    // Where `subscribe webhook:…` may point.
    webhooks: { publicOnly: config.webhookPublicOnly, allowLinkLocal: config.webhookAllowLinkLocal },
    ...(config.pagerDuty.routingKey ? { paging: { severity: config.pagerDuty.pageSeverity } } : {}),
    cadenceMinutes: config.updateCadenceMinutes,
  };
}

/** What every process opens first: the database, the clock, the log and the change watcher. */
export interface Base {
  config: Config;
  store: Store;
  db: Db;
  /** The store's read-only connection, for the read models that run synchronous SQLite (the status page). */
  readDb: Db;
  /** Which engine holds the data: SQLite (SITREP_DB) or PostgreSQL (SITREP_DATABASE_URL). */
  engine: 'sqlite' | 'pg';
  log: Logger;
  now: () => number;
  changes: ChangeWatcher;
}

export function openBase(config: Config, opts: { now?: () => number; log: Logger }): Base {
  const { store, db, readDb, engine } = openStore({ file: config.dbFile, ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}) });
  const changes = new ChangeWatcher(engine === 'pg' ? store : db);
  return { config, store, db, readDb, engine, log: opts.log, now: opts.now ?? (() => Date.now()), changes };
}

/** Joins a base, its runner and its capabilities (in order) into the app. */
export function joinApp(base: Base, runner: Runner, capabilities: readonly Capability[], metrics?: Metrics): App {
  const { store, changes } = base;
  for (const c of capabilities) if (c.onChange) changes.onChange(c.onChange);
  const collectors = capabilities.flatMap((c) => c.collectors ?? []);
  metrics?.collectFrom(collectors);
  return {
    ...base,
    runner,
    outlets: capabilities.flatMap((c) => c.outlets),
    targets: capabilities.flatMap((c) => c.targets),
    routes: capabilities.flatMap((c) => c.routes),
    background: capabilities.flatMap((c) => c.services),
    collectors,
    ...(metrics ? { metrics } : {}),
    contextFor: (actor, scope) => runner.context(actor, scope),
    run: (text, actor, scope) => runner.run(text, actor, scope),
    async close() {
      changes.stop();
      await store.close();
    },
  };
}
