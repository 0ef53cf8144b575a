import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeConnector, type FakeConnector } from '../fakes/teams-connector.js';
import { tempDbFile } from '../helpers.js';
import { activityBuilders, jsonFixture } from './harness.js';
import { cliJson, ensureBuilt, serve, type ServerProcess } from './process.js';

// An activity Teams got a 2xx for is durable: its writes commit before the answer is sent. Shown
// with kill -9: a real server process takes a stream of messages (`note`), Action.Execute invokes
// (the Update button) and conversationUpdates, and is killed the moment it has acknowledged a
// number of them, with more on the way. Everything that got a 2xx is there after the restart.

const TOTAL = 360;
const KILL_AFTER = 150;
const IN_FLIGHT = 8;

let server: ServerProcess | undefined;
let fake: FakeConnector | undefined;
beforeAll(() => ensureBuilt(), 180_000);
afterEach(async () => {
  await server?.kill9();
  await fake?.close();
  server = fake = undefined;
});

type Kind = 'message' | 'invoke' | 'conversationUpdate';
interface Sent {
  kind: Kind;
  /** What to look for afterwards: the note's or update's text, or the conversation id remembered. */
  mark: string;
  body: string;
}

describe('kill -9 right after the answer', () => {
  it('every message, invoke and conversationUpdate that got a 2xx survives', async () => {
    const db = tempDbFile();
    const env = { SITREP_DB: db };
    expect((await cliJson(env, 'declare', 'Durability drill')).id).toBe('INC-1');
    fake = await startFakeConnector();
    server = await serve(env);
    const b = activityBuilders(fake.serviceUrl);

    const stream: Sent[] = Array.from({ length: TOTAL }, (_, i): Sent => {
      switch (i % 3) {
        case 0: {
          const mark = `note-${i}`;
          return { kind: 'message', mark, body: JSON.stringify(b.personal(`note INC-1 ${mark}`)) };
        }
        case 1: {
          const mark = `update-${i}`;
          return { kind: 'invoke', mark, body: JSON.stringify(b.execute({ sitrep: 'sitrep.update', incident: 'INC-1', text: mark }, { rootId: '1' })) };
        }
        default: {
          const a = jsonFixture('conversationUpdate-bot-added-to-team-channel-docs.json');
          a.serviceUrl = fake!.serviceUrl;
          a.conversation.id = `19:durable-${i}@thread.tacv2`;
          delete a.channelData.channel; // the conversation itself is what is remembered
          return { kind: 'conversationUpdate', mark: a.conversation.id, body: JSON.stringify(a) };
        }
      }
    });

    const acked: Sent[] = [];
    const answers: string[] = [];
    let refused = 0;
    let lost = 0;
    let next = 0;
    const child = server.child;
    async function sender(): Promise<void> {
      while (next < stream.length) {
        const s = stream[next++]!;
        try {
          const res = await fetch(`${server!.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: s.body });
          const text = await res.text();
          if (res.status < 200 || res.status > 299) {
            refused++;
            continue;
          }
          if (s.kind === 'invoke') answers.push(String(JSON.parse(text).value));
          acked.push(s);
          // Killed the moment the answer is in: the requests still on their way are cut off.
          if (acked.length === KILL_AFTER) child.kill('SIGKILL');
        } catch {
          lost++; // no answer: the server was gone
        }
      }
    }
    await Promise.all(Array.from({ length: IN_FLIGHT }, sender));
    await server.kill9();

    expect(refused).toBe(0);
    expect(answers.filter((v) => !/INC-1 updated/.test(v))).toEqual([]); // each button press did the update
    expect(acked.length).toBeGreaterThanOrEqual(KILL_AFTER);
    expect(lost).toBeGreaterThan(0); // the kill did land mid-stream
    expect(acked.length + lost).toBe(TOTAL);
    for (const kind of ['message', 'invoke', 'conversationUpdate'] as const) expect(acked.some((s) => s.kind === kind)).toBe(true);

    // Restart on the same file, then read it back the way an operator would.
    server = await serve(env);
    const timeline = (await cliJson(env, 'timeline', 'INC-1')).events as Array<{ kind: string; text: string }>;
    const notes = new Set(timeline.filter((e) => e.kind === 'note').map((e) => e.text));
    const updates = new Set(timeline.filter((e) => e.kind === 'update').map((e) => e.text));
    const missing = acked.filter((s) => (s.kind === 'message' ? !notes.has(s.mark) : s.kind === 'invoke' ? !updates.has(s.mark) : false));
    expect(missing.map((s) => s.mark)).toEqual([]);

    const sqlite = new Database(db, { readonly: true });
    try {
      const has = sqlite.prepare<[string], { n: number }>('select count(*) as n from settings where key = ?');
      const forgotten = acked.filter((s) => s.kind === 'conversationUpdate' && has.get(`teams:ref:${s.mark}`)!.n !== 1);
      expect(forgotten.map((s) => s.mark)).toEqual([]);
    } finally {
      sqlite.close();
    }
    // Nothing was applied twice either (each activity id is recorded with its writes).
    expect(timeline.filter((e) => e.kind === 'note').length).toBe(notes.size);
  }, 120_000);
});
