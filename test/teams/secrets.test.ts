import { existsSync, readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeConnector, type FakeConnector } from '../fakes/teams-connector.js';
import { tempDbFile } from '../helpers.js';
import { activityBuilders } from './harness.js';
import { cliJson, ensureBuilt, serve, type ServerProcess } from './process.js';

// A webhook's signing secret is shown once, only to the person who subscribed. From Teams that
// means a personal chat: in a channel (or group chat) `subscribe webhook:` says where to run it
// and subscribes nothing. The secret never sits in the outbox or in a log line: the reply row
// names the subscription, and the Teams target reads the secret when it sends. Proved on the
// real server process, its database files and its captured output at the most verbose level.

const HOOK = 'webhook:http://127.0.0.1:9/sitrep-hook'; // never called: nothing is published here

let server: ServerProcess | undefined;
let fake: FakeConnector | undefined;
beforeAll(() => ensureBuilt(), 180_000);
afterEach(async () => {
  await server?.kill9();
  await fake?.close();
  server = fake = undefined;
});

async function boot() {
  const db = tempDbFile();
  fake = await startFakeConnector();
  server = await serve({ SITREP_DB: db, LOG_LEVEL: 'trace' });
  const b = activityBuilders(fake.serviceUrl);
  const send = async (a: Record<string, unknown>) => {
    const res = await fetch(`${server!.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(a) });
    await res.text();
    return res.status;
  };
  /** The plain-text answer the fake Connector received in `conversationId`. */
  const answerIn = async (conversationId: string): Promise<string> => {
    await fake!.waitFor((f) => f.messages.some((m) => m.conversationId === conversationId && typeof m.body.text === 'string'));
    return fake!.messages.find((m) => m.conversationId === conversationId)!.body.text as string;
  };
  return { db, b, send, answerIn };
}

const subscriptionsOf = async (db: string) => (await cliJson({ SITREP_DB: db }, 'subscriptions')).subscriptions as unknown[];

describe('subscribe webhook: from Teams', () => {
  it('in a team channel: one line saying where to run it; nothing subscribed, no secret sent', async () => {
    const { db, b, send, answerIn } = await boot();
    const a = b.mention(`subscribe ${HOOK}`);
    expect(await send(a)).toBe(200);
    const answer = await answerIn(a.conversation.id);
    expect(answer).toMatch(/^⚠️ /);
    expect(answer).not.toContain('\n');
    expect(answer).toMatch(/personal chat with Sitrep/);
    expect(answer).toContain('npx sitrep subscribe');
    expect(answer).not.toMatch(/whsec_/);
    expect(JSON.stringify(fake!.calls)).not.toMatch(/whsec_/);
    expect(await subscriptionsOf(db)).toEqual([]);
  });

  it('in a group chat: refused the same way (everyone there reads the answer)', async () => {
    const { db, b, send, answerIn } = await boot();
    const a = b.personal(`subscribe ${HOOK}`);
    a.conversation = { id: '19:group-chat-members@thread.v2', conversationType: 'groupChat', isGroup: true };
    expect(await send(a)).toBe(200);
    expect(await answerIn(a.conversation.id)).toMatch(/personal chat with Sitrep/);
    expect(await subscriptionsOf(db)).toEqual([]);
  });

  it('in a personal chat: the secret reaches that chat, and on disk lives only in the subscription row; no log line has it', async () => {
    const { db, b, send, answerIn } = await boot();
    const a = b.personal(`subscribe ${HOOK}`);
    expect(await send(a)).toBe(200);
    const answer = await answerIn(a.conversation.id);
    const secret = /whsec_[A-Za-z0-9+/=]+/.exec(answer)?.[0];
    expect(secret, answer).toBeDefined();
    expect(answer).toContain('Subscribed S-1');
    expect(await subscriptionsOf(db)).toHaveLength(1);

    // The reply row is finished (delivered) before the files are read.
    const sqlite = new Database(db, { readonly: true });
    try {
      await fake!.waitFor(() => (sqlite.prepare("select count(*) as n from outbox where state in ('pending', 'in_flight')").get() as { n: number }).n === 0);

      // Every row of every table, as text: the secret is in exactly one, the subscription's.
      const tables = (sqlite.prepare("select name from sqlite_master where type = 'table'").all() as Array<{ name: string }>).map((t) => t.name);
      const holding: string[] = [];
      for (const t of tables) {
        for (const row of sqlite.prepare(`select * from "${t}"`).all()) if (JSON.stringify(row).includes(secret!)) holding.push(t);
      }
      expect(holding).toEqual(['subscriptions']);
      expect((sqlite.prepare('select secret from subscriptions where id = 1').get() as { secret: string }).secret).toBe(secret);
      // The reply row carries the reference the target filled in, not the secret.
      const reply = sqlite.prepare("select payload, state from outbox where kind = 'reply'").get() as { payload: string; state: string };
      expect(reply.state).toBe('delivered');
      expect(JSON.parse(reply.payload)).toMatchObject({ secretOf: 1, text: expect.stringContaining('[signing secret of S-1]') });
    } finally {
      sqlite.close();
    }

    // The raw files (database, write-ahead log, shared memory) as bytes: the search does see
    // the secret (it is stored in clear, for signing), next to the outbox's reference.
    const raw = Buffer.concat(
      ['', '-wal', '-shm']
        .map((s) => db + s)
        .filter(existsSync)
        .map((f) => readFileSync(f)),
    );
    expect(raw.includes(secret!)).toBe(true);
    expect(raw.includes('[signing secret of S-1]')).toBe(true);

    // The server's own output at LOG_LEVEL=trace: the delivery was logged, the secret was not.
    await server!.stop();
    const logs = server!.output();
    expect(logs).toMatch(/"msg":"delivered"/);
    expect(logs).toContain('"target":"teams:thread:a:');
    expect(logs).not.toContain(secret!);
    expect(logs).not.toMatch(/whsec_/);
  });
});
