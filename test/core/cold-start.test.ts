import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ensureBuilt } from '../slack/process.js';
import { writeLoadedFilesProbe } from '../../bench/loaded-files.js';

// A CLI command runs one read or one write: it must not load the platform SDKs (Bolt and the Web
// API client, the Microsoft 365 Agents SDK and MSAL), which take most of a cold start. Checked on
// the real `sitrep` process with every platform configured, by listing the files it loaded. A CLI
// write still enqueues the Slack and Teams thread posts: the outlets are plain SQL. A read loads no
// outlet at all.

const exec = promisify(execFile);

const SDK_PATHS = ['node_modules/@slack/', 'node_modules/@microsoft/', 'node_modules/@azure/'];
const TEAMS_CHANNEL = '19:incidents@thread.tacv2';

let dir: string;

/** Runs `sitrep <argv>` as its own process and returns its output and every module file it loaded. */
async function sitrep(env: Record<string, string>, ...argv: string[]) {
  const loaded = join(dir, `loaded-${argv[0]}-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(loaded, '');
  const { stdout } = await exec(process.execPath, ['--import', join(dir, 'preload.mjs'), BIN, ...argv], {
    env: { PATH: process.env.PATH ?? '', HOME: dir, USER: 'ops', LOG_LEVEL: 'warn', SITREP_TEST_LOADED: loaded, ...env },
  });
  const files = readFileSync(loaded, 'utf8').split('\n').filter(Boolean);
  return { stdout, files, sdk: files.filter((f) => SDK_PATHS.some((p) => f.includes(p))) };
}

beforeAll(async () => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'sitrep-cold-'));
  writeLoadedFilesProbe(dir, 'SITREP_TEST_LOADED');
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
});

describe('CLI cold start', () => {
  const platforms = (db: string, extra: Record<string, string> = {}) => ({
    SITREP_DB: db,
    SLACK_SIGNING_SECRET: 'cold-start-secret',
    SLACK_BOT_TOKEN: 'xoxb-cold-start',
    SLACK_INCIDENTS_CHANNEL: 'C0INCIDENTS',
    // Nothing listens here: a CLI command must not call Slack at all.
    SLACK_API_URL: 'http://127.0.0.1:9/api/',
    MICROSOFT_APP_ID: '00000000-0000-0000-0000-000000000001',
    MICROSOFT_APP_PASSWORD: 'cold-start-password',
    MICROSOFT_APP_TENANT_ID: '00000000-0000-0000-0000-000000000002',
    ...extra,
  });

  for (const mode of ['HTTP', 'Socket Mode'] as const) {
    it(`with Slack (${mode}) and Teams configured, a write enqueues both threads' posts and a read lists it, neither loading a platform SDK`, async () => {
      const db = join(dir, `${mode === 'HTTP' ? 'http' : 'socket'}.db`);
      const env = platforms(db, mode === 'Socket Mode' ? { SLACK_APP_TOKEN: 'xapp-cold-start' } : {});
      // The first command creates and migrates the database; Teams learns its incidents channel
      // from Teams itself, so it is bound here the way that leaves it.
      await sitrep(env, 'help');
      const seed = new Database(db);
      seed
        .prepare('insert into settings (key, value, updated_by, updated_at) values (?, ?, ?, ?)')
        .run('incidents_channel:teams', TEAMS_CHANNEL, 'teams:test', Date.now());
      seed.close();

      const declared = await sitrep(env, 'declare', 'Checkout errors', 'sev:2', '--json');
      expect(JSON.parse(declared.stdout)).toMatchObject({ id: 'INC-1' });
      expect(declared.sdk).toEqual([]);
      // The probe itself works: it saw the outlets the write ran and the database driver.
      expect(declared.files.some((f) => f.endsWith('/dist/adapters/slack/outlet.js'))).toBe(true);
      expect(declared.files.some((f) => f.endsWith('/dist/adapters/teams/outlet.js'))).toBe(true);
      expect(declared.files.some((f) => f.includes('node_modules/better-sqlite3/'))).toBe(true);
      // The outlets ran: the posts wait in the outbox for the server's worker.
      const rows = new Database(db, { readonly: true });
      const targets = rows.prepare('select distinct target from outbox order by target').pluck().all();
      rows.close();
      expect(targets).toEqual(['slack:thread:C0INCIDENTS', `teams:thread:${TEAMS_CHANNEL}`]);

      const listed = await sitrep(env, 'list', '--json');
      expect(JSON.parse(listed.stdout).incidents.map((i: { id: string }) => i.id)).toEqual(['INC-1']);
      expect(listed.sdk).toEqual([]);
      // A read loads its verb and no outlet: nothing it does can reach one.
      expect(listed.files.some((f) => f.endsWith('/dist/src/commands/read.js'))).toBe(true);
      expect(listed.files.filter((f) => /\/dist\/adapters\/(slack|teams)\/outlet\.js$/.test(f))).toEqual([]);
    });
  }

  it('the server still loads Bolt and answers Slack: the probe sees the SDK where it is used', async () => {
    const db = join(dir, 'serve.db');
    const loaded = join(dir, 'loaded-serve.txt');
    writeFileSync(loaded, '');
    const child = spawn(process.execPath, ['--import', join(dir, 'preload.mjs'), BIN, 'serve'], {
      env: { PATH: process.env.PATH ?? '', HOME: dir, USER: 'ops', LOG_LEVEL: 'warn', PORT: '0', SITREP_TEST_LOADED: loaded, ...platforms(db) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.on('data', () => {
        const m = /Sitrep is running on port (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`server exited (${code}): ${out}`)));
    });
    try {
      // An unsigned request reaches the Slack receiver, which Bolt's module provides, and is refused.
      const res = await fetch(`http://127.0.0.1:${port}/slack/events`, {
        method: 'POST',
        body: 'command=%2Fincident',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(res.status).toBe(401);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    const files = readFileSync(loaded, 'utf8').split('\n').filter(Boolean);
    expect(files.some((f) => f.includes('node_modules/@slack/bolt/'))).toBe(true);
  });
});
