import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { cli, tempDbFile } from '../helpers.js';
import { joinArgs } from '../../adapters/console/cli.js';

const exec = promisify(execFile);
const BIN = new URL('../../dist/src/bin.js', import.meta.url).pathname;

/** Runs the built `sitrep` binary as a user would (npx sitrep … runs the same file). */
async function sitrep(env: Record<string, string>, ...args: string[]) {
  try {
    const r = await exec(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', ...env } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('CLI', () => {
  it('joins arguments: an argument with spaces counts as quoted', async () => {
    expect(joinArgs(['declare', 'DB', 'down', 'sev:2'])).toBe('declare DB down sev:2');
    expect(joinArgs(['declare', 'DB down', 'sev:2'])).toBe('declare "DB down" sev:2');
    expect(joinArgs(['note', 'started:2021-12-07 07:32'])).toBe('note started:"2021-12-07 07:32"');
  });

  it('prints --json shapes from the contract with ids of created things', async () => {
    const run = cli(tempDbFile());
    expect((await run('component', 'add', 'SMS Routing')).code).toBe(0);
    const d = await run('declare', 'DB down', 'sev:2', 'components:sms-routing=major', '--json');
    expect(d.code).toBe(0);
    expect(d.json()).toMatchObject({ id: 'INC-1' });
    expect((await run('declare', 'DB', 'down', 'again', '--json')).json()).toMatchObject({ id: 'INC-2', title: 'DB down again' });

    const list = (await run('list', '--json')).json();
    expect(Object.keys(list.incidents[0]).sort()).toEqual(expect.arrayContaining(['id', 'title', 'status', 'severity', 'started_at', 'resolved_at']));

    const show = (await run('show', 'INC-1', '--json')).json();
    expect(show).toMatchObject({
      id: 'INC-1',
      title: 'DB down',
      status: 'investigating',
      severity: 2,
      lead: 'cli:tester',
      resolved_at: null,
      components: [{ slug: 'sms-routing', name: 'SMS Routing', status: 'major_outage' }],
    });
    expect(show.started_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);

    const tl = (await run('timeline', 'INC-1', '--json')).json();
    expect(tl.id).toBe('INC-1');
    expect(Object.keys(tl.events[0]).sort()).toEqual(['actor', 'kind', 'occurred_at', 'recorded_at', 'text']);

    const comps = (await run('component', 'list', '--json')).json();
    expect(comps.components[0]).toMatchObject({ slug: 'sms-routing', name: 'SMS Routing', group: null, status: 'major_outage' });

    const f = await run('followup', 'add', 'INC-1', 'Alert on lag', 'owner:@bob', '--json');
    expect(f.json()).toMatchObject({ id: 'F-1' });
  });

  it('acts as --as, and exits 1 for bad input and 3 when not permitted', async () => {
    const run = cli(tempDbFile(), { SITREP_ADMINS: 'cli:root' });
    const forbidden = await run('component', 'add', 'Web App', '--as', 'alice', '--json');
    expect(forbidden.code).toBe(3);
    expect(forbidden.json()).toEqual({ error: { code: 'FORBIDDEN', message: expect.stringContaining('only admins') } });
    expect((await run('component', 'add', 'Web App', '--as', 'root')).code).toBe(0);
    const bad = await run('declare', '--json');
    expect(bad.code).toBe(1);
    expect(bad.json().error.code).toBe('INVALID');
    const plain = await run('update', 'INC-5', 'hello');
    expect(plain.code).toBe(1);
    expect(plain.stderr.trim().split('\n')).toHaveLength(1);
    const d = await run('declare', 'X', '--as', 'alice', '--json');
    expect((await run('show', '--json')).json().lead).toBe('cli:alice');
    expect(d.code).toBe(0);
    expect((await run('declare', '--as')).code).toBe(1);
  });

  it('runs as a real process against a database a server could share', async () => {
    const db = tempDbFile();
    const env = { SITREP_DB: db, USER: 'pat' };
    const help = await sitrep(env, 'help', 'declare');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('example: declare');
    const d = await sitrep(env, 'declare', 'Checkout errors', 'sev:2', '--json');
    expect(d.code).toBe(0);
    expect(JSON.parse(d.stdout)).toMatchObject({ id: 'INC-1', lead: 'cli:pat' });
    const bad = await sitrep(env, 'declare', 'x', 'sev:7');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^sitrep: "7" is not a severity/);
    const conf = await sitrep({ ...env, SITREP_TIMEZONE: 'Mars/Base' }, 'list');
    expect(conf.code).toBe(1);
    expect(conf.stderr.trim()).toBe('invalid configuration: SITREP_TIMEZONE must be an IANA time zone, e.g. America/Los_Angeles');
    // The file is a normal WAL SQLite database another process can read.
    const raw = new Database(db, { readonly: true });
    expect(raw.prepare('select title from incidents').get()).toEqual({ title: 'Checkout errors' });
    raw.close();
  });

  it('keeps a private incident from whoever need not know, in a real process: the same words as an id never used', async () => {
    const env = { SITREP_DB: tempDbFile(), USER: 'pat', SITREP_ADMINS: 'cli:root' };
    const d = await sitrep(env, 'declare', 'DB credentials leak', 'sev:1', 'lead:@lena', 'visibility:private', '--json');
    expect(d.code).toBe(0);
    expect(JSON.parse(d.stdout)).toMatchObject({ id: 'INC-1', visibility: 'private' });

    const hidden = await sitrep(env, 'show', 'INC-1', '--as', 'mallory');
    const never = await sitrep(env, 'show', 'INC-2', '--as', 'mallory');
    expect(hidden.code).toBe(1);
    expect(hidden.stderr).toMatch(/^sitrep: INC-1 not found/);
    expect(hidden).toEqual({ ...never, stderr: never.stderr.replace('INC-2', 'INC-1') });
    const hiddenJson = await sitrep(env, 'timeline', 'INC-1', '--as', 'mallory', '--json');
    expect(JSON.parse(hiddenJson.stdout)).toEqual({ error: { code: 'NOT_FOUND', message: expect.stringMatching(/^INC-1 not found/) } });
    expect(JSON.parse((await sitrep(env, 'list', 'all', '--as', 'mallory', '--json')).stdout)).toEqual({ incidents: [] });
    expect((await sitrep(env, 'note', 'INC-1', 'hello', '--as', 'mallory')).stderr).toMatch(/^sitrep: INC-1 not found/);

    for (const who of ['root', 'lena', 'pat']) {
      const seen = await sitrep(env, 'show', 'INC-1', '--as', who, '--json');
      expect({ who, code: seen.code }).toEqual({ who, code: 0 });
      expect(JSON.parse(seen.stdout)).toMatchObject({ id: 'INC-1', title: 'DB credentials leak' });
    }
    const refused = await sitrep(env, 'draft', 'INC-1', 'We are investigating', '--as', 'pat');
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toMatch(/^sitrep: INC-1 is private: nothing about it reaches customers/);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
  });
});
