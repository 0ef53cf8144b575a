import { readFileSync, existsSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSlackApi, type FakeSlackApi } from '../fakes/slack-api.js';
import { jsonFixture } from './harness.js';
import { ensureBuilt, freePort, signedPost, signedSlash, startServerProcess, tempDir, type ServerProcess } from './process.js';

// A webhook's signing secret is shown once, to the person who subscribed, ephemerally: in the
// slash command's response_url reply, or for a mention in chat.postEphemeral. It is never posted
// to a channel or thread, never kept in the outbox or the inbox, never logged. Checked on a real
// server process logging at debug level, down to the bytes of its SQLite files: every place the
// secret occurs in the database file and its WAL is a page of the subscriptions table.

beforeAll(ensureBuilt, 180_000);

let fake: FakeSlackApi | undefined;
let server: ServerProcess | undefined;
afterEach(async () => {
  await server?.kill9();
  await fake?.close();
});

const SECRET_RE = /whsec_[A-Za-z0-9+/=]+/;

function offsets(haystack: Buffer, needle: string): number[] {
  const out: number[] = [];
  for (let i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + 1)) out.push(i);
  return out;
}

/**
 * The tables whose pages hold `secret`, in the database file and in every frame of its WAL
 * (current or left over from before a checkpoint), found from the raw bytes and each page's owner.
 */
function tablesHolding(dbFile: string, secret: string): { file: string[]; wal: string[]; shm: number } {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  let owner: Map<number, string>;
  let pageSize: number;
  try {
    pageSize = Number(db.pragma('page_size', { simple: true }));
    owner = new Map(
      db
        .prepare<[], { name: string; pageno: number }>('select name, pageno from dbstat')
        .all()
        .map((r) => [r.pageno, r.name]),
    );
  } finally {
    db.close();
  }
  const name = (page: number) => owner.get(page) ?? `free page ${page}`;
  const main = readFileSync(dbFile);
  const file = offsets(main, secret).map((o) => name(Math.floor(o / pageSize) + 1));
  const wal: string[] = [];
  if (existsSync(`${dbFile}-wal`)) {
    const w = readFileSync(`${dbFile}-wal`);
    const frame = 24 + pageSize;
    for (const o of offsets(w, secret)) {
      const start = 32 + Math.floor((o - 32) / frame) * frame; // WAL header, then (frame header + page)*
      wal.push(o - start < 24 ? 'a frame header' : name(w.readUInt32BE(start)));
    }
  }
  const shm = existsSync(`${dbFile}-shm`) ? offsets(readFileSync(`${dbFile}-shm`), secret).length : 0;
  return { file, wal, shm };
}

describe('webhook signing secrets from Slack', () => {
  it('subscribe by slash command and by mention: the secret goes only to the subscriber, ephemerally; the database holds it only in subscriptions, the logs never', async () => {
    fake = await startFakeSlackApi({ token: 'xoxb-test-token' });
    const dir = tempDir();
    const db = join(dir, 'sitrep.db');
    const port = await freePort();
    server = await startServerProcess({ db, port, apiUrl: fake.apiUrl, env: { LOG_LEVEL: 'debug', SITREP_ADMINS: 'slack:U0ALICE' } });
    const agent = new Agent({ keepAlive: true });

    // Some ordinary traffic first, so the outbox, the timeline and the thread are not empty.
    expect((await signedSlash(server.url, agent, 'declare Secret test sev:2', { responseUrl: fake.responseUrl('declare'), fake })).status).toBe(200);
    await fake.waitFor((f) => f.responses.some((r) => r.id === 'declare') && f.callsOf('chat.postMessage').length >= 2);

    // 1. The slash command: the answer comes to the person who typed it, ephemeral (in the ack,
    // as the command was applied at once; on response_url when it had to queue).
    const sub = await signedSlash(server.url, agent, 'subscribe webhook:http://127.0.0.1:9/hook-one', { responseUrl: fake.responseUrl('sub'), fake });
    expect(sub.status).toBe(200);
    await fake.waitFor((f) => f.responses.some((r) => r.id === 'sub'));
    expect(fake.responses.filter((r) => r.id === 'sub')).toHaveLength(1);
    const reply = fake.responses.find((r) => r.id === 'sub')!.body;
    expect(reply).toMatchObject({ response_type: 'ephemeral' });
    const viaSlash = SECRET_RE.exec(String(reply.text))?.[0];
    expect(viaSlash).toBeDefined();

    // 2. A mention in a channel: answered with chat.postEphemeral to the person who asked.
    const env = jsonFixture('event_callback-app_mention-channel.json');
    env.event_id = 'Ev0SUBSCRIBE';
    env.event = {
      ...env.event,
      text: '<@U02P23SK0SV> subscribe webhook:http://127.0.0.1:9/hook-two',
      user: 'U0ALICE',
      channel: 'C0GENERAL',
      ts: `${Date.now() / 1000}`,
    };
    delete env.event.blocks;
    expect((await signedPost(server.url, agent, JSON.stringify(env), 'application/json')).status).toBe(200);
    await fake.waitFor((f) => f.callsOf('chat.postEphemeral').length > 0);
    const eph = fake.callsOf('chat.postEphemeral')[0]!.params;
    expect(eph).toMatchObject({ channel: 'C0GENERAL', user: 'U0ALICE' });
    const viaMention = SECRET_RE.exec(String(eph.text))?.[0];
    expect(viaMention).toBeDefined();
    expect(viaMention).not.toBe(viaSlash);

    // Let the server deliver whatever it queued, then look everywhere else.
    await new Promise((r) => setTimeout(r, 300));
    for (const secret of [viaSlash!, viaMention!]) {
      const elsewhere = fake.calls.filter((c) => c.method !== 'chat.postEphemeral' && JSON.stringify(c.params).includes(secret)).map((c) => c.method);
      expect(elsewhere).toEqual([]);
      expect(fake.responses.filter((r) => JSON.stringify(r.body).includes(secret)).map((r) => r.id)).toEqual(secret === viaSlash ? ['sub'] : []);
      expect(server.output().includes(secret)).toBe(false);
      // Row by row: only subscriptions.secret holds it; nothing waits in the inbox.
      const rows = new Database(db, { readonly: true, fileMustExist: true });
      try {
        const tables = rows
          .prepare<[], { name: string }>("select name from sqlite_master where type = 'table'")
          .all()
          .map((t) => t.name);
        const holders = tables.filter((t) =>
          rows
            .prepare(`select * from "${t}"`)
            .all()
            .some((r) => JSON.stringify(r).includes(secret)),
        );
        expect(holders).toEqual(['subscriptions']);
        expect(rows.prepare('select count(*) as n from inbox').get()).toEqual({ n: 0 });
      } finally {
        rows.close();
      }
      // Byte by byte, in the file and in its WAL.
      const raw = tablesHolding(db, secret);
      expect(raw.file.length + raw.wal.length).toBeGreaterThan(0);
      expect({ file: [...new Set(raw.file)], wal: [...new Set(raw.wal)], shm: raw.shm }).toEqual({
        file: raw.file.length ? ['subscriptions'] : [],
        wal: raw.wal.length ? ['subscriptions'] : [],
        shm: 0,
      });
    }
    // The server did log at debug level (so "not in the log" means something).
    expect(server.output()).toMatch(/"level":20/);
    agent.destroy();
  }, 60_000);
});
