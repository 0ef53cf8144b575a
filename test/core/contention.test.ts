import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDbFile } from '../helpers.js';

// Two processes on one SQLite file, as on a real machine: the built CLI and another writer that
// keeps taking the write lock. No CLI run may fail because the other holds the lock for a moment,
// and one that cannot get it at all says so in one line and writes nothing.

const exec = promisify(execFile);
const BIN = new URL('../../dist/src/bin.js', import.meta.url).pathname;
const ROOT = new URL('../../', import.meta.url).pathname;

async function sitrep(db: string, ...args: string[]) {
  try {
    const r = await exec(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', SITREP_DB: db, USER: 'tester' } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/**
 * Another process that writes to the file in a loop: each round holds the write lock for `holdMs`
 * (a real IMMEDIATE transaction with a write in it), then lets go for `gapMs`. It prints "holding"
 * once its first transaction has begun.
 */
function lockHolder(db: string, holdMs: number, gapMs: number): Promise<ChildProcess> {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(${JSON.stringify(db)});
    db.pragma('busy_timeout = 5000');
    db.exec('create table if not exists holder_ticks (n integer)');
    const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    let first = true;
    for (;;) {
      db.exec('begin immediate');
      db.prepare('insert into holder_ticks values (1)').run();
      if (first) { process.stdout.write('holding\\n'); first = false; }
      sleep(${holdMs});
      db.exec('commit');
      sleep(${gapMs});
    }`;
  const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.stdout!.once('data', () => resolve(child));
  });
}

const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

const mode = (f: string) => statSync(f).mode & 0o777;

describe('writers on one database file', () => {
  it('never fail because another process holds the write lock for a moment', async () => {
    const db = tempDbFile();
    expect((await sitrep(db, 'declare', 'Contended', 'sev:2')).code).toBe(0);
    children.push(await lockHolder(db, 40, 5));
    // Commands that read before they write (the incident, then the timeline), the case a
    // deferred transaction cannot survive when the other writer commits in between.
    const runs = [];
    for (let i = 0; i < 8; i++) runs.push(await sitrep(db, 'note', 'INC-1', `contended note ${i}`, '--as', 'alice'));
    runs.push(await sitrep(db, 'draft', 'INC-1', 'We are looking into it.', '--as', 'alice', '--json'));
    for (const r of runs) {
      expect(r.stderr).not.toMatch(/locked|busy/i);
      expect(r.code).toBe(0);
    }
    // The database and its WAL companions are the owner's alone, also while another process has them open.
    for (const f of [db, `${db}-wal`, `${db}-shm`]) expect(mode(f)).toBe(0o600);
    children.pop()!.kill('SIGKILL');
    const timeline = JSON.parse((await sitrep(db, 'timeline', 'INC-1', '--json')).stdout);
    const notes = timeline.events.filter((e: { kind: string }) => e.kind === 'note').map((e: { text: string }) => e.text);
    expect(notes).toEqual(Array.from({ length: 8 }, (_, i) => `contended note ${i}`));
  });

  it('says in one line that the database is busy, exits 1 and writes nothing when the lock never comes free', async () => {
    const db = tempDbFile();
    expect((await sitrep(db, 'declare', 'Held', 'sev:2')).code).toBe(0);
    const before = new Database(db, { readonly: true });
    const count = () => before.prepare('select count(*) as n from timeline_events').get() as { n: number };
    const n0 = count().n;
    children.push(await lockHolder(db, 20_000, 0));
    const r = await sitrep(db, 'note', 'INC-1', 'this must not be written');
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/database is busy.*nothing was written, try again/);
    const json = await sitrep(db, 'note', 'INC-1', 'nor this', '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/busy/) });
    children.pop()!.kill('SIGKILL');
    expect(count().n).toBe(n0);
    before.close();
  }, 30_000);
});
