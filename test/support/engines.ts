import pg from 'pg';
import { afterAll, afterEach } from 'vitest';
import type { App } from '../../src/main.js';
import { rowCounts, testApp } from '../helpers.js';
import { toPg } from '../../db/queries/prepared.js';
import { PgStore } from '../../db/store.pg.js';
import { createTestDatabase, postgresUnavailable, sayPostgresSkipped, type TestPostgres } from './postgres.js';

// The engines a suite runs on: `describe.each(engines)('… on $name', (engine) => …)`. SQLite is an
// in-memory database per app, as testApp makes it. PostgreSQL is a new database per app on the
// test server (test/support/postgres.ts), copied from a template migrated once per test file, so
// every app starts empty as on SQLite; without a server the PostgreSQL suites are skipped, saying so.

export interface Engine {
  name: 'SQLite' | 'PostgreSQL';
  /** Why this engine's suites are skipped here (null: they run). */
  skip: string | null;
  /** A new app on an empty database of this engine (testApp's arguments). */
  app(env?: Record<string, string>, now?: () => number): Promise<App>;
  /** Row counts of every table: the "nothing was written" check. */
  rowCounts(app: App): Promise<Record<string, number>>;
  /** PostgreSQL: the app's database URL (for a CLI run or a second app on it); SQLite: null. */
  databaseUrl(app: App): string | null;
  /** The rows of one SQL query (`?` parameters; quote mixed-case aliases), to check what was stored. */
  rows(app: App, text: string, ...params: unknown[]): Promise<any[]>;
}

const sqlite: Engine = {
  name: 'SQLite',
  skip: null,
  app: async (env = {}, now) => testApp(env, now),
  rowCounts: async (app) => rowCounts(app.db),
  databaseUrl: () => null,
  rows: async (app, text, ...params) => app.db.$client.prepare(text).all(...params),
};

const opened: App[] = [];
const databases: TestPostgres[] = [];
const byFile = new Map<string, TestPostgres>();
let template: Promise<TestPostgres> | null = null;
const urls = new WeakMap<App, string>();

/** A database migrated once for this file, that every app's database is copied from. */
async function migratedTemplate(): Promise<string> {
  template ??= (async () => {
    const db = await createTestDatabase();
    const store = await PgStore.open(db.url, { max: 1 });
    await store.close();
    return db;
  })();
  return new URL((await template).url).pathname.slice(1);
}

// Counts and epoch milliseconds as numbers, as the store reads them (db/client.pg.ts).
const types = { getTypeParser: (oid: number, format?: 'text' | 'binary') => (oid === 20 || oid === 1700 ? Number : pg.types.getTypeParser(oid, format)) };

async function connect(app: App): Promise<pg.Client> {
  const url = urls.get(app);
  if (!url) throw new Error('not an app made by the PostgreSQL engine');
  const c = new pg.Client({ connectionString: url, types });
  await c.connect();
  return c;
}

const postgres: Engine = {
  name: 'PostgreSQL',
  skip: postgresUnavailable(),
  async app(env = {}, now) {
    // A SITREP_DB file names one database: a second app on the same file (a restart, another
    // process) gets the same PostgreSQL database, as it would the same SQLite file.
    const key = env.SITREP_DB && env.SITREP_DB !== ':memory:' ? env.SITREP_DB : null;
    let db = key ? byFile.get(key) : undefined;
    if (!db) {
      db = await createTestDatabase({ template: await migratedTemplate() });
      databases.push(db);
      if (key) byFile.set(key, db);
    }
    const app = testApp({ ...env, SITREP_DATABASE_URL: db.url }, now);
    opened.push(app);
    urls.set(app, db.url);
    return app;
  },
  databaseUrl: (app) => urls.get(app) ?? null,
  async rows(app, text, ...params) {
    const c = await connect(app);
    try {
      return (await c.query(toPg(text), params)).rows;
    } finally {
      await c.end();
    }
  },
  async rowCounts(app) {
    const c = await connect(app);
    try {
      const tables = await c.query<{ name: string }>(
        "select table_name as name from information_schema.tables where table_schema = 'public' and table_name <> 'data_version'",
      );
      const out: Record<string, number> = {};
      for (const { name } of tables.rows) out[name] = Number((await c.query<{ n: string }>(`select count(*) as n from "${name}"`)).rows[0]!.n);
      return out;
    } finally {
      await c.end();
    }
  },
};

if (postgres.skip) sayPostgresSkipped();

// Each test's apps and databases go when it ends, so parallel files do not pile up connections.
afterEach(async () => {
  for (const app of opened.splice(0)) await app.close().catch(() => undefined);
  for (const db of databases.splice(0)) await db.drop().catch(() => undefined);
  byFile.clear();
});
afterAll(async () => {
  const made = await (template ?? Promise.resolve(null)).catch(() => null);
  await made?.drop().catch(() => undefined);
});

export const engines: readonly Engine[] = [sqlite, postgres];
