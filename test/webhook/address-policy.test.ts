import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDb } from '../mirror/helpers.js';

// The subscribe-time address policy through the built binary, as an operator runs it
// (`npx sitrep subscribe webhook:… --json` runs dist/src/bin.js) against a real SQLite file: every
// spelling of a blocked address exits 1 with one JSON line and writes nothing. No request is ever
// made: the check is on the literal URL (names are judged again at connection time, see
// connect-time.test.ts).

const exec = promisify(execFile);
const BIN = new URL('../../dist/src/bin.js', import.meta.url).pathname;

async function sitrep(db: string, env: Record<string, string>, ...args: string[]) {
  try {
    const r = await exec(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', USER: 'admin', SITREP_DB: db, ...env },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

function counts(file: string): Record<string, number> {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%'").all() as Array<{ name: string }>;
    return Object.fromEntries(tables.map(({ name }) => [name, (db.prepare(`select count(*) as n from "${name}"`).get() as { n: number }).n]));
  } finally {
    db.close();
  }
}

const METADATA = [
  'http://[::169.254.169.254]/', // IPv4-compatible
  'http://[::a9fe:a9fe]/',
  'http://[0:0:0:0:0:0:a9fe:a9fe]/latest/meta-data/',
  'http://[::ffff:169.254.169.254]/', // IPv4-mapped
  'http://[::ffff:a9fe:a9fe]/',
  'http://[::FFFF:A9FE:A9FE]:80/',
  'http://[0000:0000:0000:0000:0000:ffff:169.254.169.254]/',
  'http://[::ffff:0:a9fe:a9fe]/', // IPv4-translated
  'http://[64:ff9b::169.254.169.254]/', // NAT64, well-known prefix
  'http://[64:ff9b::a9fe:a9fe]/',
  'http://[0064:FF9B:0000::A9FE:A9FE]/',
  'http://[64:ff9b:1::a9fe:a9fe]/', // NAT64, local-use prefix
  'https://[64:ff9b:1:a9fe:a9:fe00::]/',
  'http://[2002:a9fe:a9fe::1]/', // 6to4
  'http://[fd00:ec2::254]/', // AWS metadata over IPv6
  'http://[FD00:0EC2:0:0:0:0:0:254]/',
  'http://169.254.169.254/',
  'http://0xA9FEA9FE/',
  'http://2852039166/',
  'http://169.254.169.254./',
  'http://[::ffff:100.100.100.200]/',
  'http://metadata.google.internal/',
];

const LINK_LOCAL = [
  'http://[fe80::1]/',
  'http://[FE80:0:0:0:0:0:0:1]/',
  'http://[::ffff:169.254.10.1]/',
  'http://[64:ff9b::a9fe:a01]/',
  'http://169.254.10.1/',
];

// Not URLs at all (a zone id, an over-long group): refused all the same.
const MALFORMED = ['http://[fe80::1%25eth0]/', 'http://[::ffff:a9fe:a9fe%25en0]/', 'http://[00000::ffff:a9fe:a9fe]/'];

const LOOPBACK_OR_PRIVATE = [
  'http://[::1]/',
  'http://[0:0:0:0:0:0:0:1]/',
  'http://[::]/',
  'http://[::ffff:127.0.0.1]/',
  'http://[::ffff:7f00:1]/',
  'http://[::127.0.0.1]/',
  'http://[64:ff9b::7f00:1]/',
  'http://[::ffff:10.0.0.1]/',
  'http://[::a00:1]/',
  'http://[64:ff9b::192.168.1.1]/',
  'http://[fd12::1]/',
  'http://[fec0::1]/',
  'http://localhost:8080/',
  'http://127.1/',
];

let db: string;
let before: Record<string, number>;
beforeAll(async () => {
  db = tempDb();
  const made = await sitrep(db, {}, 'component', 'add', 'Web App', '--json');
  expect(made.code).toBe(0);
  before = counts(db);
  expect(before.subscriptions).toBe(0);
});

async function expectRefused(url: string, env: Record<string, string>, why: RegExp) {
  const r = await sitrep(db, env, 'subscribe', `webhook:${url}`, '--json');
  expect(r.code, r.stdout).toBe(1);
  expect(r.stderr).toBe('');
  const lines = r.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  const err = JSON.parse(lines[0]!).error;
  expect(err.code).toBe('INVALID');
  expect(err.message).toMatch(why);
  expect(err.message).not.toContain('\n');
  expect(counts(db)).toEqual(before);
}

describe('subscribe webhook: refuses blocked addresses in every spelling (the built CLI, a real file)', () => {
  it.each(METADATA)('%s: cloud metadata, refused by default', async (url) => {
    await expectRefused(url, {}, /cloud metadata address/);
  });

  it.each(METADATA)('%s: cloud metadata, still refused with SITREP_WEBHOOK_ALLOW_LINK_LOCAL=true', async (url) => {
    await expectRefused(url, { SITREP_WEBHOOK_ALLOW_LINK_LOCAL: 'true' }, /cloud metadata address; webhooks may never point there/);
  });

  it.each(LINK_LOCAL)('%s: link-local, refused by default', async (url) => {
    await expectRefused(url, {}, /link-local address.*SITREP_WEBHOOK_ALLOW_LINK_LOCAL=true allows it/);
  });

  it.each(MALFORMED)('%s: not a URL a webhook can have', async (url) => {
    await expectRefused(url, {}, /zone|not a URL/);
  });

  it.each(LOOPBACK_OR_PRIVATE)('%s: refused with SITREP_WEBHOOK_PUBLIC_ONLY=true', async (url) => {
    await expectRefused(url, { SITREP_WEBHOOK_PUBLIC_ONLY: 'true' }, /(loopback|private) address and SITREP_WEBHOOK_PUBLIC_ONLY=true refuses those/);
  });

  it('names the IPv4 address a disguised one stands for', async () => {
    const r = await sitrep(db, {}, 'subscribe', 'webhook:http://[::169.254.169.254]/latest/meta-data/', '--json');
    expect(JSON.parse(r.stdout).error.message).toBe('[::a9fe:a9fe] (169.254.169.254) is a cloud metadata address; webhooks may never point there');
  });

  it('allows what the settings allow: link-local with SITREP_WEBHOOK_ALLOW_LINK_LOCAL, loopback by default', async () => {
    const file = tempDb();
    const linkLocal = await sitrep(file, { SITREP_WEBHOOK_ALLOW_LINK_LOCAL: 'true' }, 'subscribe', 'webhook:http://[::ffff:169.254.10.1]/h', '--json');
    expect(linkLocal.code, linkLocal.stdout).toBe(0);
    expect(JSON.parse(linkLocal.stdout)).toMatchObject({ id: 'S-1', target: 'webhook:http://[::ffff:a9fe:a01]/h' });
    const loopback = await sitrep(file, {}, 'subscribe', 'webhook:http://[::ffff:127.0.0.1]:8080/h', '--json');
    expect(loopback.code, loopback.stdout).toBe(0);
    expect(JSON.parse(loopback.stdout)).toMatchObject({ id: 'S-2' });
    expect(counts(file).subscriptions).toBe(2);
  });
});
