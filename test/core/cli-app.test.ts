import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../src/main.js';
import { createApp } from '../../src/main.js';
import { createCliApp } from '../../src/entry.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { VERBS } from '../../src/commands/help.js';
import { loadVerbs } from '../../src/commands/verbs.js';
import type { Db } from '../../db/client.js';
import { tempDbFile } from '../helpers.js';

// A CLI command gets an app made for its one command line (src/entry.ts): its verb's module and,
// when it writes, the outlets, and nothing else. These tests hold it to the server's app
// (src/main.ts): the same outlets in the same order, the same policy, and command for command the
// same replies and the same rows.

const SLACK = { SLACK_SIGNING_SECRET: 'secret', SLACK_BOT_TOKEN: 'xoxb-1', SLACK_INCIDENTS_CHANNEL: 'C0INCIDENTS' };
const TEAMS = { MICROSOFT_APP_ID: '00000000-0000-0000-0000-000000000001', MICROSOFT_APP_PASSWORD: 'pw' };
const STATUSPAGE = { STATUSPAGE_API_KEY: 'key', STATUSPAGE_PAGE_ID: 'page' };
const EVERYTHING = { ...SLACK, ...TEAMS, ...STATUSPAGE, SITREP_WEBHOOK_PUBLIC_ONLY: 'true', SITREP_ADMINS: 'cli:root' };

const open: App[] = [];
afterEach(async () => {
  for (const app of open.splice(0)) await app.close();
});

const config = (env: Record<string, string>, db = ':memory:') => loadConfig({ SITREP_DB: db, LOG_LEVEL: 'silent', USER: 'tester', ...env });
const keep = <T extends App>(app: T) => {
  open.push(app);
  return app;
};
const serverApp = (env: Record<string, string>, db?: string, now?: () => number) =>
  keep(createApp(config(env, db), { log: createLogger('silent'), ...(now ? { now } : {}) }));
const cliApp = async (env: Record<string, string>, text: string, db?: string, now?: () => number) =>
  keep(await createCliApp(config(env, db), text, { log: createLogger('silent'), ...(now ? { now } : {}) }));

describe("the CLI's app", () => {
  const configs: Array<[string, Record<string, string>]> = [
    ['nothing configured', {}],
    ['Slack (HTTP)', SLACK],
    ['Slack (Socket Mode)', { ...SLACK, SLACK_APP_TOKEN: 'xapp-1' }],
    ['a Slack signing secret without a bot token', { SLACK_SIGNING_SECRET: 'secret' }],
    ['Atlassian Statuspage', STATUSPAGE],
    ['Teams', TEAMS],
    ['everything', EVERYTHING],
  ];
  it.each(configs)('for a write, has the outlets of the server, in its order (%s)', async (_name, env) => {
    const server = serverApp(env);
    const cli = await cliApp(env, 'declare DB down sev:2');
    // The status page's outlet only invalidates the server's in-memory snapshot.
    expect(cli.outlets.map((o) => o.name)).toEqual(server.outlets.map((o) => o.name).filter((n) => n !== 'status-page'));
    expect(cli.contextFor('cli:a', { platform: 'cli' }).policy).toEqual(server.contextFor('cli:a', { platform: 'cli' }).policy);
  });

  it('for a read, loads no outlet, and a read that reached for one would fail writing nothing', async () => {
    const cli = await cliApp(EVERYTHING, 'list all');
    expect(await cli.run('list all', 'cli:root', { platform: 'cli' })).toMatchObject({ ok: true });
    expect(() => [...cli.contextFor('cli:root', { platform: 'cli' }).outlets]).toThrow(/`list` only reads, yet it reached for the outlets/);
  });

  it('loads every verb', async () => {
    for (const verb of VERBS) await expect(loadVerbs([verb])).resolves.toBeTypeOf('function');
  });

  it('command for command, replies and writes what the server app does', async () => {
    const lines: Array<[actor: string, line: string]> = [
      ['root', 'help'],
      ['root', 'help declare'],
      ['root', 'component add "Web App"'],
      ['root', 'component add "SMS Routing" group:Telephony'],
      ['alice', 'component add Forbidden'],
      ['root', 'component list'],
      ['root', 'component map web-app sp123'],
      ['root', 'component map web-app sp-123'],
      ['root', 'approver add @lee'],
      ['root', 'approver list'],
      ['root', 'subscribe slack:C0CUSTOMERS'],
      ['root', 'subscribe teams:19:customers@thread.tacv2 components:sms-routing'],
      ['root', 'subscribe webhook:https://hooks.example.com/sitrep'],
      ['root', 'subscribe webhook:http://127.0.0.1:9/private'],
      ['root', 'subscriptions'],
      ['root', 'declare "Inbound SMS failing" sev:2 components:sms-routing=major started:2021-12-07T07:32Z'],
      ['root', 'update status:identified Twilio reports an upstream outage'],
      ['root', 'note Paged the telephony on-call'],
      ['root', 'assign comms @bob'],
      ['root', 'severity 1'],
      ['root', 'components sms-routing=partial,web-app=degraded'],
      ['alice', 'draft We have identified the cause of failing inbound SMS.'],
      ['alice', 'approve D-1'],
      ['lee', 'approve D-1'],
      ['root', 'template add calm status:monitoring We are watching {{title}} closely.'],
      ['root', 'template list'],
      ['alice', 'draft template:calm A fix is in place.'],
      ['lee', 'reject D-2 not yet'],
      ['root', 'followup add Alert on replica lag owner:@bob'],
      ['root', 'followup done F-1'],
      ['root', 'show'],
      ['root', 'timeline'],
      ['root', 'list all'],
      ['root', 'deliveries'],
      ['root', 'deliveries retry 1'],
      ['root', 'resolve This incident has been resolved.'],
      ['lee', 'approve D-3'],
      ['root', 'reopen INC-1'],
      ['root', 'resolve INC-1'],
      ['root', 'postmortem'],
      ['root', 'postmortem publish'],
      ['lee', 'approve D-4 We found and fixed the cause.'],
      ['root', 'stats'],
      ['root', 'unsubscribe slack:C0CUSTOMERS'],
      ['root', 'channel incidents'],
      ['root', 'declare Later at:2999-01-01T00:00Z'],
      ['root', 'bogus command'],
      ['root', 'list'],
    ];
    const t0 = Date.parse('2021-12-07T16:00:00Z');
    let i = 0;
    const now = () => t0 + i * 60_000;
    const serverDb = tempDbFile();
    const cliDb = tempDbFile();
    const server = serverApp(EVERYTHING, serverDb, now);
    for (const [who, line] of lines) {
      const scope = { platform: 'cli' as const };
      const expected = normalise(await server.run(line, `cli:${who}`, scope));
      const cli = await createCliApp(config(EVERYTHING, cliDb), line, { now, log: createLogger('silent') });
      let got: unknown;
      try {
        got = normalise(await cli.run(line, `cli:${who}`, scope));
      } finally {
        await cli.close();
      }
      expect(got, line).toEqual(expected);
      i++;
    }
    const cli = await cliApp(EVERYTHING, 'list', cliDb);
    expect(dump(cli.db)).toEqual(dump(server.db));
    // The outlets ran: Slack, Teams, the webhooks and Statuspage all have rows waiting.
    const targets = cli.db.all<{ target: string }>(sql`select distinct target from outbox order by target`).map((r) => r.target.split(':')[0]);
    expect(new Set(targets)).toEqual(new Set(['slack', 'teams', 'webhook', 'statuspage']));
  });
});

/** Every row of every table, with what is random (delivery ids, signing secrets) blanked. */
function dump(db: Db): Record<string, unknown[]> {
  const tables = db.all<{ name: string }>(
    sql`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like '__drizzle%' order by name`,
  );
  const out: Record<string, unknown[]> = {};
  for (const { name } of tables) {
    out[name] = db.all<Record<string, unknown>>(sql.raw(`select * from "${name}" order by rowid`)).map((r) => normalise(r) as Record<string, unknown>);
  }
  return out;
}

function normalise(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value)
      .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
      .replace(/whsec_[A-Za-z0-9+/=_-]+/g, '<secret>'),
  );
}
