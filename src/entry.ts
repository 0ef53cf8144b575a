import type { Db } from '../db/client.js';
import { runCliCommand } from '../adapters/console/cli.js';
import { assembleApp, type App, type AppOptions } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import type { Outlet } from './commands/context.js';
import { parseText } from './commands/run.js';
import { loadVerbs, onlyReads } from './commands/verbs.js';
import { createLazyLogger } from './logger.js';

// The process entry (`npx sitrep …`, `npm start`): the only module besides src/config.ts that
// reads the environment, and the CLI's composition root. `serve` and `console` get the whole app
// from src/main.ts. A CLI command runs one command line and exits, and loading is most of its
// time, so it gets an app made for that command line: its verb's module and nothing else, plus,
// when the command writes, the outlets that turn what it wrote into outbox rows in the same
// transaction (plain SQL: no platform SDK, no target, no server code).

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
  if (first === 'serve') return (await import('./main.js')).serve(config);
  // The CLI logs only warnings and worse, to stderr, so stdout stays clean for --json.
  const quiet = { ...config, logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel };
  // The interactive console (readline, history) may run any command: it gets the whole app.
  if (first === 'console') {
    const [{ runConsole }, { createApp }] = await Promise.all([import('../adapters/console/console.js'), import('./main.js')]);
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
  const parsed = parseText({ now, policy: { timezone: config.timezone }, scope: { platform: 'cli' } }, text);
  const reads = parsed.ok && onlyReads(parsed.command);
  const [execute, outlets] = await Promise.all([
    loadVerbs(parsed.ok ? [parsed.command.verb] : []),
    parsed.ok && !reads ? loadCliOutlets(config) : null,
  ]);
  const app = assembleApp(config, { now, log: opts.log ?? createLazyLogger(config.logLevel) }, execute, (ctx, line) =>
    line === text && ctx.scope.platform === 'cli' ? parsed : parseText(ctx, line),
  );
  // Where `subscribe webhook:…` may point (the server's mirroring sets the same).
  app.contextFor('cli', { platform: 'cli' }).policy.webhooks = { publicOnly: config.webhookPublicOnly, allowLinkLocal: config.webhookAllowLinkLocal };
  if (outlets) app.outlets.push(...outlets(app.db));
  if (reads) {
    // A read never reaches the outlets; if one ever did, it fails (inside its transaction, so
    // nothing is written) instead of writing something no outlet heard of.
    app.outlets[Symbol.iterator] = () => {
      throw new Error(`\`${parsed.command.verb}\` only reads, yet it reached for the outlets`);
    };
  }
  return app;
}

/**
 * The outlets src/main.ts's createApp registers, in the same order, without what else each
 * capability registers (targets, routes, the worker): webhooks (mirroring), Atlassian Statuspage
 * when configured, Slack's thread and customer channels when configured, Teams' thread and
 * customer channels. (The status page's outlet only invalidates the server's in-memory snapshot.)
 * test/core/cli-app.test.ts holds the two lists equal.
 */
async function loadCliOutlets(config: Config): Promise<(db: Db) => Outlet[]> {
  const slack = Boolean(config.slack.enabled && config.slack.botToken && config.slack.signingSecret);
  const deadlineMs = config.deliveryDeadlineMinutes * 60_000;
  const [webhook, statuspage, customer, slackOutlet, teams] = await Promise.all([
    import('../adapters/webhook/outlet.js'),
    config.statuspage.enabled ? import('../adapters/statuspage-io/outlet.js') : null,
    import('./mirror/customer-channels.js'),
    slack ? import('../adapters/slack/outlet.js') : null,
    import('../adapters/teams/outlet.js'),
  ]);
  return (db) => [
    webhook.createWebhookOutlet(),
    ...(statuspage ? [statuspage.createStatuspageOutlet()] : []),
    ...(slackOutlet ? [slackOutlet.createSlackOutlet(db), customer.createCustomerChannelOutlet({ platform: 'slack', deadlineMs })] : []),
    teams.createTeamsOutlet(db),
    customer.createCustomerChannelOutlet({ platform: 'teams', deadlineMs }),
  ];
}
