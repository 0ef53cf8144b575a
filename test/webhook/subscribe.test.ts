import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../adapters/console/cli.js';
import { openDatabase, type Db } from '../../db/client.js';
import { loadConfig } from '../../src/config.js';
import { createApp } from '../../src/main.js';
import { createLogger } from '../../src/logger.js';
import { tempDb } from '../mirror/helpers.js';

// The subscription commands through the real CLI entry: exit codes, one-line errors, --json
// shapes, and "nothing written" checked with row counts of every table.

function cli(db: string, env: Record<string, string> = {}) {
  return async (...argv: string[]) => {
    let stdout = '';
    let stderr = '';
    const config = loadConfig({ SITREP_DB: db, LOG_LEVEL: 'silent', USER: 'admin', SITREP_APPROVAL: 'off', SITREP_ADMINS: 'cli:admin', ...env });
    const code = await runCli(argv, {
      config,
      createApp: (c) => createApp(c, { log: createLogger('silent') }),
      out: (s) => (stdout += s + '\n'),
      err: (s) => (stderr += s + '\n'),
    });
    return { code, stdout, stderr, json: () => JSON.parse(stdout) };
  };
}

function rowCounts(db: Db): Record<string, number> {
  const tables = db.all<{ name: string }>(sql`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like '__drizzle%'`);
  return Object.fromEntries(tables.map(({ name }) => [name, db.get<{ n: number }>(sql.raw(`select count(*) as n from "${name}"`))!.n]));
}

function counts(file: string) {
  const db = openDatabase(file);
  try {
    return rowCounts(db);
  } finally {
    db.$client.close();
  }
}

describe('subscribe / unsubscribe / subscriptions', () => {
  it('subscribes a webhook, prints its secret once, and never shows it again', async () => {
    const db = tempDb();
    const sitrep = cli(db);
    expect((await sitrep('component', 'add', 'Web App')).code).toBe(0);
    const r = await sitrep('subscribe', 'webhook:https://hooks.example.com/sitrep?token=abc', 'components:web-app', '--json');
    expect(r.code).toBe(0);
    const j = r.json();
    expect(j).toMatchObject({
      id: 'S-1',
      target: 'webhook:https://hooks.example.com/sitrep?token=abc',
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{32}$/),
    });
    expect(Buffer.from(j.secret.slice(6), 'base64')).toHaveLength(24);
    const text = await sitrep('subscribe', 'webhook:http://10.0.0.5/hook');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/S-2/);
    expect(text.stdout).toMatch(/whsec_\S+/);
    expect((await sitrep('subscribe', 'slack:C0123ABCD')).json).toBeDefined();
    const slack = (await sitrep('subscribe', 'teams:19:abc123@thread.tacv2', '--json')).json();
    expect(slack).toMatchObject({ id: 'S-4', target: 'teams:19:abc123@thread.tacv2', secret: null });

    const list = await sitrep('subscriptions');
    expect(list.stdout).toContain('webhook:https://hooks.example.com/sitrep?token=abc');
    expect(list.stdout).toContain('components: web-app');
    expect(list.stdout).not.toContain('whsec_');
    const lj = await sitrep('subscriptions', '--json');
    expect(lj.stdout).not.toContain('whsec_');
    expect(lj.json().subscriptions.map((s: { id: string }) => s.id)).toEqual(['S-1', 'S-2', 'S-3', 'S-4']);

    expect((await sitrep('unsubscribe', 'webhook:http://10.0.0.5/hook')).code).toBe(0);
    expect((await sitrep('unsubscribe', 'S-4')).code).toBe(0);
    expect((await sitrep('subscriptions', '--json')).json().subscriptions.map((s: { id: string }) => s.id)).toEqual(['S-1', 'S-3']);
  });

  it.each([
    ['webhook:ftp://example.com/x', /http or https/],
    ['webhook:not a url', /not a URL/],
    ['webhook:javascript:alert(1)', /http or https/],
    ['webhook:http://169.254.169.254/latest/meta-data/', /metadata/],
    ['webhook:http://2852039166/', /metadata/],
    ['webhook:http://metadata.google.internal/computeMetadata/v1/', /metadata/],
    ['webhook:http://169.254.10.1/hook', /link-local/],
    ['webhook:http://[fe80::1]/hook', /link-local/],
    ['webhook:http://[::ffff:169.254.169.254]/', /metadata/],
    ['webhook:http://[fd00:ec2::254]/', /metadata/],
    ['https://example.com/hook', /starts with webhook:/],
    ['slack:#general', /Slack channel ID/],
    ['teams:', /Teams conversation/],
    ['email:ops@example.com', /not a subscription target/],
  ])('refuses %s with one line and writes nothing', async (target, why) => {
    const db = tempDb();
    const sitrep = cli(db);
    await sitrep('component', 'add', 'Web App');
    const before = counts(db);
    const r = await sitrep('subscribe', target);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(why);
    expect(counts(db)).toEqual(before);
  });

  it('refuses an unknown component, a duplicate, and a non-admin, writing nothing', async () => {
    const db = tempDb();
    const sitrep = cli(db);
    await sitrep('component', 'add', 'Web App');
    await sitrep('subscribe', 'webhook:https://hooks.example.com/a');
    const before = counts(db);
    const unknown = await sitrep('subscribe', 'webhook:https://hooks.example.com/b', 'components:web-app,billing', '--json');
    expect(unknown.code).toBe(1);
    expect(unknown.json().error.message).toMatch(/unknown component billing/);
    const dup = await sitrep('subscribe', 'webhook:https://hooks.example.com/a');
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/already subscribed as S-1/);
    const bob = await sitrep('subscribe', 'webhook:https://hooks.example.com/c', '--as', 'bob', '--json');
    expect(bob.code).toBe(3);
    expect(bob.json().error.code).toBe('FORBIDDEN');
    expect((await sitrep('unsubscribe', 'S-1', '--as', 'bob')).code).toBe(3);
    expect((await sitrep('subscriptions', '--as', 'bob')).code).toBe(3);
    expect((await sitrep('deliveries', 'retry', '1', '--as', 'bob')).code).toBe(3);
    const missing = await sitrep('unsubscribe', 'webhook:https://nowhere.example.com/');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/not subscribed/);
    expect((await sitrep('deliveries', 'retry', '99')).code).toBe(1);
    expect((await sitrep('deliveries', 'INC-7')).code).toBe(1);
    expect(counts(db)).toEqual(before);
  });

  it('SITREP_WEBHOOK_PUBLIC_ONLY refuses loopback and private addresses; SITREP_WEBHOOK_ALLOW_LINK_LOCAL allows link-local but not cloud metadata', async () => {
    const db = tempDb();
    const strict = cli(db, { SITREP_WEBHOOK_PUBLIC_ONLY: 'true' });
    for (const url of ['http://127.0.0.1:8080/h', 'http://localhost/h', 'http://10.1.2.3/h', 'http://192.168.1.10/h', 'http://[::1]/h', 'http://0.0.0.0/h']) {
      const r = await strict('subscribe', `webhook:${url}`);
      expect(r.code, url).toBe(1);
      expect(r.stderr).toMatch(/SITREP_WEBHOOK_PUBLIC_ONLY/);
    }
    expect((await strict('subscribe', 'webhook:https://hooks.example.com/h')).code).toBe(0);
    const relaxed = cli(db);
    expect((await relaxed('subscribe', 'webhook:http://127.0.0.1:8080/h')).code).toBe(0);
    expect((await relaxed('subscribe', 'webhook:http://169.254.169.254/')).code).toBe(1);
    const linkLocal = cli(db, { SITREP_WEBHOOK_ALLOW_LINK_LOCAL: 'true' });
    expect((await linkLocal('subscribe', 'webhook:http://169.254.10.1/')).code).toBe(0);
    // Cloud metadata addresses stay refused whatever the setting.
    const metadata = await linkLocal('subscribe', 'webhook:http://169.254.169.254/');
    expect(metadata.code).toBe(1);
    expect(metadata.stderr).toMatch(/cloud metadata address/);
  });

  it('deliveries lists id, target, state, attempts, last error and age; --json has the contract shape', async () => {
    const db = tempDb();
    const sitrep = cli(db);
    await sitrep('subscribe', 'webhook:https://hooks.example.com/a');
    await sitrep('declare', 'DB down');
    await sitrep('draft', 'We are investigating');
    const j = (await sitrep('deliveries', '--json')).json();
    expect(j.deliveries).toEqual([expect.objectContaining({ id: expect.any(Number), target: 'webhook:S-1', state: 'pending', attempts: 0, last_error: null })]);
    const t = await sitrep('deliveries', 'INC-1');
    expect(t.stdout).toMatch(/#\d+ +webhook:S-1 +pending +attempts 0 +age \d+m/);
    expect((await sitrep('deliveries', 'retry', String(j.deliveries[0].id))).stderr).toMatch(/only dead deliveries can be retried/);
  });
});
