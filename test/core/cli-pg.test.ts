import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailable, sayPostgresSkipped, type TestPostgres } from '../support/postgres.js';
import { startServer } from '../../src/main.js';
import { testApp } from '../helpers.js';

// The CLI and the server against PostgreSQL (SITREP_DATABASE_URL), as real processes: the
// migrations applied by whichever run comes first, several CLI runs writing at once without a
// lost or doubled number, and an unreachable database said in one line with its password hidden.

const exec = promisify(execFile);
const BIN = new URL('../../dist/src/bin.js', import.meta.url).pathname;
const skip = postgresUnavailable();
sayPostgresSkipped();

async function sitrep(env: Record<string, string>, ...args: string[]) {
  try {
    const r = await exec(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', USER: 'tester', ...env } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe.skipIf(skip)('the CLI on PostgreSQL', () => {
  let db: TestPostgres;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('runs against a new database, and CLI runs writing at once each get their own number', async () => {
    const env = { SITREP_DATABASE_URL: db.url };
    // Four processes start on a database nobody migrated yet.
    const declared = await Promise.all([1, 2, 3, 4].map((n) => sitrep(env, 'declare', `Outage ${n}`, 'sev:2', '--json')));
    for (const r of declared) expect(r).toMatchObject({ code: 0, stderr: '' });
    const ids = declared.map((r) => JSON.parse(r.stdout).id as string).sort();
    expect(ids).toEqual(['INC-1', 'INC-2', 'INC-3', 'INC-4']);
    expect((await sitrep(env, 'update', 'INC-3', 'status:identified', 'Found', 'it')).code).toBe(0);
    const list = JSON.parse((await sitrep(env, 'list', '--json')).stdout);
    expect(list.incidents.map((i: { id: string; status: string }) => `${i.id} ${i.status}`)).toEqual([
      'INC-1 investigating',
      'INC-2 investigating',
      'INC-3 identified',
      'INC-4 investigating',
    ]);
  });

  it('says in one line that the database cannot be reached, exit 1, without its password', async () => {
    const r = await sitrep({ SITREP_DATABASE_URL: 'postgres://sitrep:hunter2@127.0.0.1:1/sitrep' }, 'declare', 'DB down');
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^sitrep: cannot open the PostgreSQL database postgres:\/\/sitrep:\*\*\*@127\.0\.0\.1:1\/sitrep \(.+\); nothing was written, try again$/,
      ),
    ]);
    expect(r.stdout + r.stderr).not.toContain('hunter2');
  });

  it('serves /healthz and /metrics from PostgreSQL', async () => {
    const app = testApp({ SITREP_DATABASE_URL: db.url });
    const server = await startServer(app, 0, '127.0.0.1');
    try {
      const res = await fetch(`${server.url}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ ok: true });
      // The incident gauges, loaded in the background (src/pg-gauges.ts): the four sev:2 incidents
      // the first test declared through the CLI.
      const metrics = await fetch(`${server.url}/metrics`);
      expect(metrics.status).toBe(200);
      await expect
        .poll(async () => /^sitrep_incidents_declared_total\{severity="2"\} (\d+)$/m.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1], {
          timeout: 10_000,
          interval: 100,
        })
        .toBe('4');
    } finally {
      await server.close();
      await app.close();
    }
  });
});
