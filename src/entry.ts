import { runCliCommand } from '../adapters/console/cli.js';
import { joinApp, openBase, policyOf, type App, type AppOptions } from './app.js';
import type { Capability } from './capability.js';
import { ConfigError, loadProcessConfig, type Config } from './config.js';
import type { Outlet } from './commands/context.js';
import { parseText } from './commands/run.js';
import { createRunner, forwardRunner, type Runner } from './commands/runner.js';
import { loadVerbs, onlyReads } from './commands/verbs.js';
import type { Db } from '../db/client.js';
import type { Store } from '../db/store.js';
import type { Logger } from './logger.js';
import { createLazyLogger } from './logger.js';
import { packageVersion } from './version.js';

// The process entry (`npx sitrep …`, `npm start`): the only module besides src/config.ts that
// reads the environment, and the CLI's composition root. `serve` and `console` get the whole app
// from src/main.ts, which src/bin.ts hands in as a loader (so nothing here loads it for a CLI
// command). A CLI command runs one command line and exits, and loading is most of its time, so it
// gets an app made for that command line: its verb's module and nothing else, plus, when the
// command writes, the outlets of the capabilities, which turn what it wrote into outbox rows in
// the same transaction (plain SQL: no platform SDK is loaded, nothing is sent, no server code).

/** What `serve` and `console` need of src/main.ts. */
export interface Server {
  serve(config: Config): Promise<number>;
  createApp(config: Config, opts?: AppOptions): App;
}

/** Entry point for `npx sitrep …` and `npm start`. Returns the process exit code. */
export async function main(argv: string[], loadServer: () => Promise<Server>): Promise<number> {
  // Before the configuration is read: the version is printed whatever the environment holds.
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  let config: Config;
  try {
    config = loadProcessConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    throw e;
  }
  const [first, ...rest] = argv;
  if (first === 'serve') return (await loadServer()).serve(config);
  // Not a command of the language: it copies SITREP_DB into PostgreSQL (db/migrate-to.ts).
  if (first === 'migrate-to') return (await import('../adapters/console/migrate-to.js')).runMigrateTo(rest, { config });
  // The CLI logs only warnings and worse, to stderr, so stdout stays clean for --json.
  const quiet = { ...config, logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel };
  // The interactive console (readline, history) may run any command: it gets the whole app.
  if (first === 'console') {
    const [{ runConsole }, { createApp }] = await Promise.all([import('../adapters/console/console.js'), loadServer()]);
    return runConsole(rest, { config: quiet, createApp: (c) => createApp(c) });
  }
  return runCliCommand(argv, { config: quiet, createApp: (c, text) => createCliApp(c, text) });
}

/**
 * The app for one CLI command line: parsed once, here; its verb loaded; the outlets loaded unless
 * the command only reads. The logger loads pino only if something is logged.
 */
export async function createCliApp(config: Config, text: string, opts: AppOptions = {}): Promise<App> {
  const now = opts.now ?? (() => Date.now());
  const policy = policyOf(config);
  const parsed = parseText({ now, policy, scope: { platform: 'cli' } }, text);
  const reads = parsed.ok && onlyReads(parsed.command);
  const [execute, makeCapabilities] = await Promise.all([
    loadVerbs(parsed.ok ? [parsed.command.verb] : []),
    parsed.ok && !reads ? loadCliCapabilities(config) : null,
  ]);
  const base = openBase(config, { now, log: opts.log ?? createLazyLogger(config.logLevel) });
  const late = forwardRunner();
  // Only the outlets are taken: the CLI sends nothing, serves nothing and runs no background work.
  const outlets: readonly Outlet[] = makeCapabilities
    ? makeCapabilities({ runner: late.runner, store: base.store, db: base.db, now, log: base.log }).flatMap((c) => c.outlets)
    : parsed.ok
      ? refusingOutlets(parsed.command.verb)
      : [];
  const runner = late.bind(
    createRunner({
      store: base.store,
      now,
      log: base.log,
      policy,
      outlets,
      execute,
      onChange: () => base.changes.notify(),
      parse: (line, platform) => (line === text && platform === 'cli' ? parsed : parseText({ now, policy, scope: { platform } }, line)),
    }),
  );
  return joinApp(base, runner, [{ outlets: makeCapabilities ? outlets : [], targets: [], routes: [], services: [] }]);
}

/**
 * A read never reaches the outlets; if one ever did, it fails (inside its transaction, so nothing
 * is written) instead of writing something no outlet heard of.
 */
function refusingOutlets(verb: string): readonly Outlet[] {
  const refuse: Outlet[] = [];
  refuse[Symbol.iterator] = () => {
    throw new Error(`\`${verb}\` only reads, yet it reached for the outlets`);
  };
  return refuse;
}

/**
 * The capabilities src/main.ts makes, in the same order, whose outlets a CLI write needs:
 * webhooks, Atlassian Statuspage (when configured), Slack (when configured), Teams. Not the
 * built-in status page: its outlet only invalidates the server's in-memory snapshot.
 * test/core/cli-app.test.ts holds the two lists of outlets equal. Each factory loads no SDK
 * (they are loaded when a server first needs them).
 */
async function loadCliCapabilities(config: Config): Promise<(deps: { runner: Runner; store: Store; db: Db; now: () => number; log: Logger }) => Capability[]> {
  const slack = Boolean(config.slack.enabled && config.slack.botToken && config.slack.signingSecret);
  const [webhook, statuspage, slackCap, teams, pagerDuty] = await Promise.all([
    import('../adapters/webhook/index.js'),
    config.statuspage.enabled ? import('../adapters/statuspage-io/index.js') : null,
    slack ? import('../adapters/slack/index.js') : null,
    import('../adapters/teams/index.js'),
    config.pagerDuty.routingKey ? import('../adapters/pagerduty/index.js') : null,
  ]);
  const chat = { timezone: config.timezone, deliveryDeadlineMs: config.deliveryDeadlineMinutes * 60_000 };
  return ({ runner, store, db, now, log }) => [
    webhook.createWebhooks({ db, now, config: { publicOnly: config.webhookPublicOnly, allowLinkLocal: config.webhookAllowLinkLocal } }),
    ...(statuspage ? [statuspage.createStatuspageIo({ db, log, now, config: config.statuspage })] : []),
    ...(slackCap ? [slackCap.createSlack({ runner, store, db, now, log, config: { slack: config.slack, ...chat } })] : []),
    teams.createTeams({ runner, db, now, log, config: { teams: config.teams, ...chat } }),
    ...(pagerDuty ? [pagerDuty.createPagerDuty({ config: config.pagerDuty, orgName: config.orgName })] : []),
  ];
}
