import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { is } from 'drizzle-orm';
import { getTableConfig, SQLiteTable } from 'drizzle-orm/sqlite-core';
import { DateTime } from 'luxon';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redactor } from '../../adapters/console/migrate-to.js';
import { copyPlan, migrateToPg, PG_ONLY_TABLES } from '../../db/migrate-to.js';
import * as sqliteSchema from '../../db/schema.js';
import { PgStore } from '../../db/store.pg.js';
import { policyOf } from '../../src/app.js';
import { createRunner } from '../../src/commands/runner.js';
import { loadVerbs } from '../../src/commands/verbs.js';
import { createLogger } from '../../src/logger.js';
import { startWebhookReceiver, type WebhookReceiver } from '../fakes/webhook-receiver.js';
import { tempDbFile, testConfig } from '../helpers.js';
import { startSitrep } from '../ship/support.js';
import { ensureBuilt } from '../slack/process.js';
import { createTestDatabase, postgresUnavailable, sayPostgresSkipped, type TestPostgres } from '../support/postgres.js';

// `npx sitrep migrate-to postgres://…` through the built binary, against a real PostgreSQL
// (test/support/postgres.ts): a SQLite database filled through real commands and a real server
// (which delivered some of its outbox rows) is copied whole, ids and values kept exactly, the
// sequences continue after the largest id, and every refusal is one line that writes nothing and
// never shows the URL's password.

const skip = postgresUnavailable();
sayPostgresSkipped();

const exec = promisify(execFile);
const BIN = new URL('../../dist/src/bin.js', import.meta.url).pathname;
const PASSWORD = 'Tr0ub4dor-and-3';

async function sitrep(env: Record<string, string>, ...args: string[]) {
  try {
    const r = await exec(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', USER: 'tester', ...env } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** The test server trusts local connections, so any password is accepted: one is put in every URL to check it never shows. */
const withPassword = (url: string) => {
  const u = new URL(url);
  u.password = PASSWORD;
  return u.toString();
};

const TABLES = Object.values(sqliteSchema)
  .filter((t) => is(t, SQLiteTable))
  .map((t) => getTableConfig(t as SQLiteTable));

async function pgQuery<T = Record<string, unknown>>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, values)).rows as T[];
  } finally {
    await c.end();
  }
}

async function pgCounts(url: string): Promise<Record<string, number>> {
  const existing = await pgQuery<{ name: string }>(url, "select table_name as name from information_schema.tables where table_schema = 'public'");
  const out: Record<string, number> = {};
  for (const { name } of existing) {
    if (PG_ONLY_TABLES.includes(name)) continue;
    out[name] = Number((await pgQuery<{ n: string }>(url, `select count(*) as n from "${name}"`))[0]!.n);
  }
  return out;
}

function sqliteCounts(file: string): Record<string, number> {
  const db = new Database(file, { readonly: true });
  try {
    return Object.fromEntries(TABLES.map((t) => [t.name, (db.prepare(`select count(*) as n from "${t.name}"`).get() as { n: number }).n]));
  } finally {
    db.close();
  }
}

/**
 * Every row of every table as text, keyed by its primary key: SQLite's values as stored (integers
 * exactly, booleans as 1/0), PostgreSQL's through `::text` (json as the stored text, booleans as
 * true/false mapped to 1/0), so the comparison is exact and not through JavaScript's parsers.
 */
function sqliteRows(file: string, table: string): Map<string, Record<string, string | null>> {
  const t = TABLES.find((x) => x.name === table)!;
  const db = new Database(file, { readonly: true });
  try {
    const rows = db.prepare(`select * from "${table}"`).safeIntegers(true).all() as Array<Record<string, unknown>>;
    return new Map(
      rows.map((r) => {
        const row = Object.fromEntries(t.columns.map((c) => [c.name, r[c.name] === null ? null : String(r[c.name])]));
        return [keyOf(t, row), row];
      }),
    );
  } finally {
    db.close();
  }
}

async function pgRows(url: string, table: string): Promise<Map<string, Record<string, string | null>>> {
  const t = TABLES.find((x) => x.name === table)!;
  const rows = await pgQuery<Record<string, string | null>>(
    url,
    `select ${t.columns.map((c) => `"${c.name}"::text as "${c.name}"`).join(', ')} from "${table}"`,
  );
  const booleans = new Set(t.columns.filter((c) => c.columnType === 'SQLiteBoolean').map((c) => c.name));
  return new Map(
    rows.map((r) => {
      const row = Object.fromEntries(
        t.columns.map((c) => [c.name, booleans.has(c.name) && r[c.name] !== null ? (r[c.name] === 'true' ? '1' : '0') : r[c.name]!]),
      );
      return [keyOf(t, row), row];
    }),
  );
}

function keyOf(t: (typeof TABLES)[number], row: Record<string, string | null>): string {
  const pk = t.primaryKeys[0]?.columns.map((c) => c.name) ?? t.columns.filter((c) => c.primary).map((c) => c.name);
  const cols = pk.length ? pk : t.columns.map((c) => c.name);
  return JSON.stringify(cols.map((c) => row[c]));
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe.skipIf(skip)('sitrep migrate-to', () => {
  const file = tempDbFile();
  const env = { SITREP_DB: file, SITREP_TIMEZONE: 'UTC' };
  const run = (...args: string[]) => sitrep(env, ...args);
  const ok = async (...args: string[]) => {
    const r = await run(...args);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r;
  };
  const databases: TestPostgres[] = [];
  const newDatabase = async () => {
    const d = await createTestDatabase();
    databases.push(d);
    return d;
  };
  let receiver: WebhookReceiver;
  let target: TestPostgres;
  let migrated: Awaited<ReturnType<typeof sitrep>>;
  let secret: string;

  beforeAll(async () => {
    ensureBuilt();
    receiver = await startWebhookReceiver();
    // A database as a team that has used Sitrep has one, made by the commands themselves.
    await ok('component', 'add', 'API');
    await ok('component', 'add', 'SMS Routing', 'group:Messaging');
    await ok('approver', 'add', '@bob');
    const sub = await ok('subscribe', `webhook:${receiver.url}/all`, '--json');
    secret = JSON.parse(sub.stdout).secret;
    await ok('subscribe', `webhook:${receiver.url}/api`, 'components:api');
    await ok('declare', 'Checkout errors', 'sev:2', 'components:api=major');
    await ok('update', 'INC-1', 'status:identified', 'Found the bad deploy: "v2.3" → rollback');
    await ok('draft', 'INC-1', 'status:identified', 'components:api=partial', 'We found the cause and are rolling back.');
    await ok('approve', 'D-1', '--as', 'bob');
    await ok('note', 'INC-1', 'Paged the database team ☎');
    await ok('followup', 'add', 'INC-1', 'Alert on error rate', 'owner:@carol');
    const day = DateTime.utc().plus({ days: 3 }).toFormat('yyyy-LL-dd');
    await ok('maintenance', 'schedule', 'DB upgrade', `starts:${day}T22:00`, `ends:${day}T23:00`, 'components:sms-routing', 'We upgrade the database.');
    await ok('approve', 'D-2', '--as', 'bob');
    await ok('declare', 'Slow search', 'sev:3', 'visibility:private');
    await ok('draft', 'INC-1', 'Everything is fine now?');
    await ok('reject', 'D-3', 'Not yet', '--as', 'bob');
    // A server delivers what is due, then stops: delivered rows.
    const server = await startSitrep(['node', BIN, 'serve'], { ...env, PORT: '0', LOG_LEVEL: 'silent', USER: 'tester' });
    try {
      await receiver.waitFor((r) => r.accepted().length >= 3, 15_000);
      const delivered = () => {
        const db = new Database(file, { readonly: true });
        try {
          return (db.prepare("select count(*) as n from outbox where state = 'delivered'").get() as { n: number }).n;
        } finally {
          db.close();
        }
      };
      for (let i = 0; i < 100 && delivered() < 3; i++) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await server.stop();
    }
    // Written with no server running: pending rows.
    await ok('draft', 'INC-1', 'status:monitoring', 'components:api=operational', 'A fix is in place; we are watching.');
    await ok('approve', 'D-4', '--as', 'bob');
    target = await newDatabase();
    migrated = await sitrep(env, 'migrate-to', withPassword(target.url));
  }, 120_000);

  afterAll(async () => {
    await receiver?.close();
    for (const d of databases.splice(0)) await d.drop().catch(() => undefined);
  });

  it('filled the SQLite database with every kind of row the test is about', () => {
    const n = sqliteCounts(file);
    for (const t of [
      'incidents',
      'customer_updates',
      'approvers',
      'components',
      'subscriptions',
      'maintenances',
      'timeline_events',
      'maintenance_events',
      'followups',
    ])
      expect(n[t], t).toBeGreaterThan(0);
    const db = new Database(file, { readonly: true });
    const states = db.prepare('select state, count(*) as n from outbox group by state').all() as Array<{ state: string; n: number }>;
    db.close();
    expect(states.find((s) => s.state === 'delivered')?.n).toBeGreaterThan(0);
    expect(states.find((s) => s.state === 'pending')?.n).toBeGreaterThan(0);
  });

  it('copies every table, prints the counts of each, and never the password', async () => {
    expect(migrated.code, migrated.stderr).toBe(0);
    const printed = migrated.stdout + migrated.stderr;
    expect(printed).not.toContain(PASSWORD);
    expect(printed).toContain(':***@');
    const want = sqliteCounts(file);
    expect(await pgCounts(target.url)).toEqual(want);
    for (const [table, n] of Object.entries(want)) expect(migrated.stdout).toMatch(new RegExp(`^ +${table} +${n} +${n}$`, 'm'));
    expect(migrated.stdout).toMatch(/every count is equal/);
    // Every table of db/schema.ts is in the plan, drizzle's bookkeeping is not.
    expect(
      copyPlan()
        .map((t) => t.name)
        .sort(),
    ).toEqual(TABLES.map((t) => t.name).sort());
  });

  it('keeps every row exactly: ids, texts, JSON as written, booleans, epoch-ms times', async () => {
    for (const t of TABLES) {
      const [a, b] = [sqliteRows(file, t.name), await pgRows(target.url, t.name)];
      expect([...b.entries()].sort(), t.name).toEqual([...a.entries()].sort());
    }
    // A few fields by name, to be sure the comparison above compares what it says.
    const [sub] = await pgQuery<{ secret: string }>(target.url, 'select secret from subscriptions where id = 1');
    expect(sub!.secret).toBe(secret);
    const [inc] = await pgQuery<{ title: string; started_at: string; visibility: string }>(
      target.url,
      'select title, started_at, visibility from incidents where id = 2',
    );
    const src = new Database(file, { readonly: true });
    const row = src.prepare('select title, started_at, visibility from incidents where id = 2').get() as {
      title: string;
      started_at: number;
      visibility: string;
    };
    const out = src.prepare("select id, payload from outbox where state = 'pending' order by id limit 1").get() as { id: number; payload: string };
    src.close();
    expect(inc).toEqual({ title: 'Slow search', started_at: String(row.started_at), visibility: 'private' });
    const [payload] = await pgQuery<{ text: string; json: unknown }>(target.url, 'select payload::text as text, payload as json from outbox where id = $1', [
      out.id,
    ]);
    expect(payload!.text).toBe(out.payload);
    expect(payload!.json).toEqual(JSON.parse(out.payload));
    const [draft] = await pgQuery<{ moves_status: boolean; is_postmortem: boolean }>(
      target.url,
      'select moves_status, is_postmortem from customer_updates where id = 1',
    );
    expect(draft).toEqual({ moves_status: false, is_postmortem: false });
  });

  it('answers read commands on the migrated database as it answered on SQLite', async () => {
    // In process, on the PostgreSQL store: the CLI does not open SITREP_DATABASE_URL yet. These
    // three verbs' queries run on both engines already; the others follow as the engine lands.
    const store = await PgStore.open(target.url, { max: 2 });
    try {
      const runner = createRunner({
        store,
        now: () => Date.now(),
        log: createLogger('silent'),
        policy: policyOf(testConfig({ SITREP_TIMEZONE: 'UTC' })),
        outlets: [],
        execute: await loadVerbs(['list', 'timeline', 'deliveries']),
      });
      for (const line of ['list all', 'timeline INC-1', 'deliveries INC-1']) {
        const onSqlite = await ok(...line.split(' '), '--json');
        const onPg = await runner.run(line, 'cli:tester', { platform: 'cli' });
        if (!onPg.ok) throw new Error(`${line}: ${onPg.error.message}`);
        // age_seconds is counted from now: the two answers are a moment apart.
        const timeless = (v: unknown) => JSON.parse(JSON.stringify(v, (k, x) => (k === 'age_seconds' ? undefined : x)));
        expect(timeless(onPg.reply.data), line).toEqual(timeless(JSON.parse(onSqlite.stdout)));
        expect(
          Object.values(onPg.reply.data as object).some((v) => Array.isArray(v) && v.length > 1),
          `${line} lists several`,
        ).toBe(true);
      }
    } finally {
      await store.close();
    }
  });

  it('resets every sequence: the next insert gets the id after the largest copied one', async () => {
    const [max] = await pgQuery<{ n: number }>(target.url, 'select max(id) as n from incidents');
    const [inc] = await pgQuery<{ id: number }>(
      target.url,
      "insert into incidents (title, status, severity, created_by, started_at, declared_at, recorded_at, updated_at) values ('After', 'investigating', 3, 'cli:x', 1, 1, 1, 1) returning id",
    );
    expect(inc!.id).toBe(max!.n + 1);
    const [maxOut] = await pgQuery<{ n: number }>(target.url, 'select max(id) as n from outbox');
    const [row] = await pgQuery<{ id: number }>(
      target.url,
      "insert into outbox (delivery_id, target, kind, payload, next_attempt_at, created_at) values ('after', 'webhook:S-1', 'test', '{}', 1, 1) returning id",
    );
    expect(row!.id).toBe(maxOut!.n + 1);
    // Every table with an identity column, not only those two: the next value is past the largest id.
    const seqs = await pgQuery<{ tbl: string; seq: string }>(
      target.url,
      "select table_name as tbl, pg_get_serial_sequence(quote_ident(table_name), column_name) as seq from information_schema.columns where table_schema = 'public' and is_identity = 'YES'",
    );
    expect(seqs.length).toBeGreaterThanOrEqual(10);
    for (const { tbl, seq } of seqs) {
      const [{ last, called }] = (await pgQuery<{ last: string; called: boolean }>(
        target.url,
        `select last_value as last, is_called as called from ${seq}`,
      )) as [{ last: string; called: boolean }];
      const [{ m }] = (await pgQuery<{ m: number | null }>(target.url, `select coalesce(max(id), 0) as m from "${tbl}"`)) as [{ m: number }];
      const next = called ? Number(last) + 1 : Number(last);
      expect(next, tbl).toBeGreaterThan(Number(m));
    }
  });

  it('refuses a database that already holds Sitrep rows, in one line, writing nothing', async () => {
    const before = await pgCounts(target.url);
    const r = await run('migrate-to', withPassword(target.url));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/already holds Sitrep rows .*nothing was written/);
    expect(r.stderr).not.toContain(PASSWORD);
    expect(await pgCounts(target.url)).toEqual(before);
    const json = await run('migrate-to', withPassword(target.url), '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).error.code).toBe('CONFLICT');
  });

  it('copies into a database whose Sitrep tables exist but are empty (a replica started on it first)', async () => {
    const d = await newDatabase();
    const store = await PgStore.open(d.url, { max: 1 });
    await store.close();
    const r = await run('migrate-to', d.url, '--json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.tables.every((t: { sqlite: number; postgres: number }) => t.sqlite === t.postgres)).toBe(true);
    expect(await pgCounts(d.url)).toEqual(sqliteCounts(file));
  });

  it('refuses a URL that is not postgres:// or postgresql://, and a missing SQLite file, in one line, never echoing the password', async () => {
    for (const url of [`mysql://root:${PASSWORD}@127.0.0.1/sitrep`, `http://u:${PASSWORD}@127.0.0.1:5432/x`, `postgres//u:${PASSWORD}@host/db`, 'not a url']) {
      const r = await run('migrate-to', url);
      expect(r.code, url).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n'), url).toHaveLength(1);
      expect(r.stderr).toMatch(/postgres:\/\//);
      expect(r.stderr).not.toContain(PASSWORD);
    }
    const d = await newDatabase();
    const missing = `${tempDbFile()}.nope`;
    const r = await sitrep({ SITREP_DB: missing }, 'migrate-to', withPassword(d.url));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/does not exist/);
    expect(r.stderr).not.toContain(PASSWORD);
    expect(existsSync(missing)).toBe(false);
    // Nothing was written to the target either: not even the migrations.
    expect(await pgQuery(d.url, "select 1 from information_schema.tables where table_schema = 'public'")).toEqual([]);
    // A SQLite file this version's schema does not describe: refused before PostgreSQL is touched.
    for (const [change, says] of [
      ['create table extra (x)', /tables this version of Sitrep does not know \(extra\)/],
      ['alter table followups drop column done_at', /not at this version's schema \(followups has no column done_at\).*npx sitrep list/],
    ] as const) {
      const other = tempDbFile();
      const src = new Database(file, { readonly: true });
      await src.backup(other);
      src.close();
      const w = new Database(other);
      w.exec(change);
      w.close();
      const refused = await sitrep({ SITREP_DB: other }, 'migrate-to', withPassword(d.url));
      expect(refused.code, change).toBe(1);
      expect(refused.stderr.trim().split('\n')).toHaveLength(1);
      expect(refused.stderr).toMatch(says);
      expect(await pgQuery(d.url, "select 1 from information_schema.tables where table_schema = 'public'")).toEqual([]);
    }
    // An unreachable server: one line, the URL shown without its password.
    const u = new URL(withPassword(d.url));
    u.port = '1';
    const down = await run('migrate-to', u.toString());
    expect(down.code).toBe(1);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(down.stderr).toMatch(/cannot connect/);
    expect(down.stderr).not.toContain(PASSWORD);
  });

  it('rolls the whole copy back when a row cannot be copied, leaving the target empty', async () => {
    const copy = `${tempDbFile()}`;
    const src = new Database(file, { readonly: true });
    await src.backup(copy);
    src.close();
    // A value PostgreSQL's bigint refuses, in the last row of a table copied late.
    const bad = new Database(copy);
    bad.prepare("update timeline_events set occurred_at = 'soon' where id = (select max(id) from timeline_events)").run();
    bad.close();
    const d = await newDatabase();
    const r = await sitrep({ SITREP_DB: copy }, 'migrate-to', withPassword(d.url));
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/rolled back.*left empty.*timeline_events\.occurred_at of row \d+ is the text "soon"/);
    expect(r.stderr + r.stdout).not.toContain(PASSWORD);
    const counts = await pgCounts(d.url);
    expect(Object.keys(counts).length).toBe(TABLES.length);
    expect(Object.values(counts).every((n) => n === 0)).toBe(true);
    // A NUL in a text (SQLite keeps it, PostgreSQL's text cannot): named, not PostgreSQL's bare encoding error.
    const nul = new Database(copy);
    nul.prepare("update timeline_events set occurred_at = recorded_at where occurred_at = 'soon'").run();
    nul.prepare("update timeline_events set text = 'a' || char(0) || 'b' where id = 1").run();
    nul.close();
    const r2 = await sitrep({ SITREP_DB: copy }, 'migrate-to', d.url);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/timeline_events\.text of row 1 is a text with a NUL character/);
    // Fixed, it copies into the same (empty) database.
    const fixed = new Database(copy);
    fixed.prepare("update timeline_events set text = 'ab' where id = 1").run();
    fixed.close();
    expect((await sitrep({ SITREP_DB: copy }, 'migrate-to', d.url)).code).toBe(0);
    expect(await pgCounts(d.url)).toEqual(sqliteCounts(copy));
    expect(await pgQuery(d.url, 'select text from timeline_events where id = 1')).toEqual([{ text: 'ab' }]);
  });

  it('reads SQLite on a read-only connection: a writer holding the lock is not waited for, and the file is unchanged', async () => {
    const copy = tempDbFile();
    const src = new Database(file, { readonly: true });
    await src.backup(copy);
    src.close();
    // A server's writer in the middle of a transaction: it holds SQLite's write lock throughout.
    const writer = new Database(copy);
    writer.pragma('journal_mode = WAL');
    writer.exec('begin immediate');
    writer.prepare("insert into approvers (user_ref, added_by, added_at) values ('cli:uncommitted', 'cli:x', 1)").run();
    const before = sha(copy);
    const d = await newDatabase();
    const r = await sitrep({ SITREP_DB: copy }, 'migrate-to', d.url);
    const after = sha(copy);
    writer.exec('commit');
    writer.close();
    expect(r.code, r.stderr).toBe(0);
    expect(after).toBe(before);
    const approvers = await pgQuery<{ user_ref: string }>(d.url, 'select user_ref from approvers');
    expect(approvers.map((a) => a.user_ref)).not.toContain('cli:uncommitted');
  });

  it('copies a table that spans many batches whole and in order', async () => {
    const d = await newDatabase();
    const report = await migrateToPg({ sqliteFile: file, url: d.url, batchRows: 2 });
    expect(report.tables.every((t) => t.sqlite === t.postgres)).toBe(true);
    expect(await pgCounts(d.url)).toEqual(sqliteCounts(file));
    const a = sqliteRows(file, 'timeline_events');
    expect(a.size).toBeGreaterThan(4);
    expect([...(await pgRows(d.url, 'timeline_events')).entries()].sort()).toEqual([...a.entries()].sort());
  });
});

describe('migrate-to in the help', () => {
  beforeAll(() => ensureBuilt());
  it('is named in `sitrep help` and answers --help with its usage', async () => {
    const env = { SITREP_DB: tempDbFile() };
    expect((await sitrep(env, 'help')).stdout).toContain('npx sitrep migrate-to postgres://');
    const usage = await sitrep(env, 'migrate-to', '--help');
    expect(usage.code).toBe(0);
    expect(usage.stdout).toMatch(/^usage: npx sitrep migrate-to postgres:\/\/user:password@host:5432\/database/);
  });
});

describe('the redactor every line of migrate-to goes through', () => {
  it('hides the password in the URL and in any spelling elsewhere in a line', () => {
    const url = 'postgres://sitrep:p%40ss%3Aw%25rd-42@db.internal:5432/sitrep';
    const redact = redactor(url);
    const line = redact(`could not connect to ${url} as sitrep with p%40ss%3Aw%25rd-42 (p@ss:w%rd-42)`);
    expect(line).toBe('could not connect to postgres://sitrep:***@db.internal:5432/sitrep as sitrep with *** (***)');
    expect(redactor('postgres://sitrep@db/sitrep')('postgres://sitrep@db/sitrep is fine')).toBe('postgres://sitrep@db/sitrep is fine');
  });
});

describe('the copy plan', () => {
  it('names every table of both schemas: SQLite’s copied parents first, PostgreSQL’s own listed', () => {
    const plan = copyPlan().map((t) => t.name);
    expect(new Set(plan).size).toBe(TABLES.length);
    // Each table comes after every table its foreign keys name.
    for (const t of TABLES) {
      for (const fk of t.foreignKeys) {
        const parent = getTableConfig(fk.reference().foreignTable).name;
        if (parent !== t.name) expect(plan.indexOf(parent), `${parent} before ${t.name}`).toBeLessThan(plan.indexOf(t.name));
      }
    }
  });
});
