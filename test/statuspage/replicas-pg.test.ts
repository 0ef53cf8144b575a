import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type App, type RunningServer } from '../../src/main.js';
import { LISTENER_NAME } from '../../db/listen.pg.js';
import { runOk, testApp } from '../helpers.js';
import { createTestDatabase, postgresUnavailable, sayPostgresSkipped, type TestPostgres } from '../support/postgres.js';

// Two replicas on one PostgreSQL database: a change made through one of them, or by the CLI in a
// process of its own, is on the other's status page within 2 s, told by LISTEN/NOTIFY. Replica B
// polls the version only once a minute here, so only the notification can tell it in time; and
// after its listening connection is killed, it listens again and still hears every change.

const exec = promisify(execFile);
// Built by `npm run build` (the pretest step), as the other CLI-process tests.
const BIN = new URL('../../dist/src/bin.js', import.meta.url).pathname;
const skip = postgresUnavailable();
sayPostgresSkipped();

const DEADLINE = { timeout: 2_000, interval: 50 };

let db: TestPostgres | null = null;
const apps: App[] = [];
const servers: RunningServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const a of apps.splice(0)) await a.close();
  await db?.drop();
  db = null;
});

async function replica(url: string): Promise<{ app: App; url: string }> {
  const app = testApp({ SITREP_DATABASE_URL: url, SITREP_APPROVAL: 'off', SITREP_ADMINS: 'cli:admin,cli:tester' });
  apps.push(app);
  const server = await startServer(app, 0, '127.0.0.1');
  servers.push(server);
  return { app, url: server.url };
}

async function summary(url: string): Promise<any> {
  const res = await fetch(`${url}/api/v2/summary.json`);
  expect(res.status).toBe(200);
  return res.json();
}

const incidents = async (url: string) => (await summary(url)).incidents.map((i: any) => `${i.name} ${i.status}`);

async function sitrep(env: Record<string, string>, ...args: string[]) {
  const r = await exec(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', USER: 'tester', ...env } });
  return r.stdout;
}

/** The listening connections of every replica on the database. */
async function listeners(url: string, terminate = false): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const what = terminate ? 'pg_terminate_backend(pid)' : 'pid';
    const r = await c.query(`select ${what} from pg_stat_activity where datname = current_database() and application_name = $1`, [LISTENER_NAME]);
    return r.rowCount ?? 0;
  } finally {
    await c.end();
  }
}

describe.skipIf(skip)('two replicas on one PostgreSQL database', () => {
  it("show each other's and the CLI's changes within 2 s, also after the listening connection was killed", async () => {
    db = await createTestDatabase();
    const a = await replica(db.url);
    const b = await replica(db.url);
    // B hears others only through LISTEN/NOTIFY: its fallback poll is a minute apart.
    b.app.changes.stop();
    b.app.changes.start(60_000);
    await expect.poll(() => listeners(db!.url), { timeout: 10_000, interval: 50 }).toBe(2);
    expect(await incidents(b.url)).toEqual([]);

    await runOk(a.app, 'component add "Web App"', 'cli:admin');
    await runOk(a.app, 'declare "Login broken" components:web-app=major');
    await runOk(a.app, 'draft INC-1 We are investigating failed logins.');
    await expect.poll(() => incidents(b.url), DEADLINE).toEqual(['Login broken investigating']);
    expect((await summary(b.url)).components.map((c: any) => c.status)).toEqual(['major_outage']);

    // The CLI, a process of its own, on the same database.
    await sitrep({ SITREP_DATABASE_URL: db.url, SITREP_APPROVAL: 'off' }, 'draft', 'INC-1', 'status:identified', 'Found the cause.');
    await expect.poll(() => incidents(b.url), DEADLINE).toEqual(['Login broken identified']);
    await expect.poll(() => incidents(a.url), DEADLINE).toEqual(['Login broken identified']);

    // Every listening connection killed: they are opened again, and changes still arrive.
    expect(await listeners(db.url, true)).toBe(2);
    await runOk(a.app, 'draft INC-1 status:monitoring A fix is out.');
    await expect.poll(() => incidents(b.url), DEADLINE).toEqual(['Login broken monitoring']);
    await expect.poll(() => listeners(db!.url), { timeout: 10_000, interval: 50 }).toBe(2);
    await sitrep({ SITREP_DATABASE_URL: db.url, SITREP_APPROVAL: 'off' }, 'draft', 'INC-1', 'status:resolved', 'Logins work again.');
    await expect.poll(() => incidents(b.url), DEADLINE).toEqual([]);
    const page = await fetch(`${b.url}/incidents/INC-1`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Logins work again.');
  });
});
