import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { tempDbFile } from '../helpers.js';

// `maintenance …` through the built binary, as a user runs it: the --json shape CONTRACT.md fixes,
// one line and a non-zero exit for bad input, and nothing written by a refused command.

const exec = promisify(execFile);
const BIN = new URL('../../dist/src/bin.js', import.meta.url).pathname;

async function sitrep(env: Record<string, string>, ...args: string[]) {
  try {
    const r = await exec(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', USER: 'tester', ...env } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const counts = (file: string) => {
  const db = new Database(file, { readonly: true });
  try {
    return ['maintenances', 'maintenance_components', 'maintenance_events', 'customer_updates', 'outbox'].map(
      (t) => (db.prepare(`select count(*) as n from ${t}`).get() as { n: number }).n,
    );
  } finally {
    db.close();
  }
};

describe('maintenance from the CLI', () => {
  it('schedules, lists as --json, and refuses bad input in one line writing nothing', async () => {
    const file = tempDbFile();
    const env = { SITREP_DB: file, SITREP_TIMEZONE: 'UTC', SITREP_APPROVAL: 'off' };
    expect((await sitrep(env, 'component', 'add', 'API')).code).toBe(0);
    const day = DateTime.utc().plus({ days: 2 }).toFormat('yyyy-LL-dd');
    const before = counts(file);
    for (const args of [
      ['maintenance', 'schedule', 'Upgrade', `starts:${day}T23:00`, `ends:${day}T22:00`, 'Down.'],
      ['maintenance', 'schedule', 'Upgrade', `starts:${day}T22:00`, `ends:${day}T23:00`, 'components:nope', 'Down.'],
      ['maintenance', 'schedule', 'Upgrade', `ends:${day}T23:00`, 'Down.'],
    ]) {
      const r = await sitrep(env, ...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(counts(file)).toEqual(before);

    const s = await sitrep(
      env,
      'maintenance',
      'schedule',
      'DB upgrade',
      `starts:${day}T22:00`,
      `ends:${day}T23:30`,
      'components:api',
      'We are upgrading.',
      '--json',
    );
    expect(s.code).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({ id: 'M-1', status: 'scheduled', state: 'published' });
    const list = JSON.parse((await sitrep(env, 'maintenance', 'list', '--json')).stdout);
    expect(list).toEqual({
      maintenances: [{ id: 'M-1', title: 'DB upgrade', status: 'scheduled', starts_at: `${day}T22:00:00Z`, ends_at: expect.any(String), components: ['api'] }],
    });
    const bad = await sitrep(env, 'maintenance', 'complete', 'M-1', '--json');
    expect(bad.code).not.toBe(0);
    expect(JSON.parse(bad.stdout)).toEqual({ error: { code: expect.any(String), message: expect.stringMatching(/^M-1 has not started yet/) } });
  });
});
