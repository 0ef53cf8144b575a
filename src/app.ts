import { openDatabase, type Db } from '../db/client.js';
import type { Config } from './config.js';
import type { CommandContext, Outlet, Policy, Scope } from './commands/context.js';
import { parseText, runParsedText, type Execute, type ParseFrom, type Parsed, type Result } from './commands/run.js';
import type { Logger } from './logger.js';
import type { Collector } from './http/metrics.js';
import type { Router } from './http/router.js';
import type { Target } from './mirror/target.js';
import { ChangeWatcher } from './watch.js';

// What every Sitrep process holds, before any capability registers: the database, the clock, the
// policy commands read, and one way to run a command. The server's app (src/main.ts: every verb,
// every capability) and the CLI's (src/entry.ts: one verb, the outlets when it writes) are both
// made here, so they cannot differ in how a command runs.

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

/**
 * Opens the database and makes the app; `execute` runs the verbs this process may run, and `parse`
 * parses a command line (the CLI's answers for its one line with what it parsed before).
 */
export function assembleApp(
  config: Config,
  opts: { now?: () => number; log: Logger },
  execute: Execute,
  parse: (ctx: ParseFrom, text: string) => Parsed = parseText,
): App {
  const { log } = opts;
  const db = openDatabase(config.dbFile);
  const now = opts.now ?? (() => Date.now());
  const outlets: Outlet[] = [];
  const changes = new ChangeWatcher(db);
  const policy: Policy = {
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
    targets: [],
    routes: [],
    background: [],
    collectors: [],
    changes,
    contextFor: (actor, scope) => ({ db, now, actor, scope, policy, outlets }),
    run(text, actor, scope) {
      const ctx = app.contextFor(actor, scope);
      const result = runParsedText(execute, ctx, parse(ctx, text), log);
      if (result.ok) changes.notify();
      return result;
    },
    close() {
      changes.stop();
      db.$client.close();
    },
  };
  return app;
}
