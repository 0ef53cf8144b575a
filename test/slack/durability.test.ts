import { Agent } from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSlackApi, type FakeSlackApi } from '../fakes/slack-api.js';
import { ensureBuilt, freePort, noteIndex, readDb, signedSlash, startServerProcess, tempDir, type ServerProcess } from './process.js';

// kill -9 in the middle of a stream of signed slash commands: every command that was answered 200
// is on the timeline exactly once after a restart (Slack never resends a command it got a 200 for),
// and the commands a killed server acknowledged but had not applied yet still get their reply on
// response_url once the restarted server has applied them.

beforeAll(ensureBuilt, 180_000);

const KILLS = 3;
const ACKS_BEFORE_KILL = 200; // per round; the kill lands while requests are still streaming
const STREAMS = 32;

let fake: FakeSlackApi | undefined;
let server: ServerProcess | undefined;
afterEach(async () => {
  await server?.kill9();
  await fake?.close();
});

describe('an acknowledged slash command survives kill -9', () => {
  it(`${KILLS} kills mid-stream: every command answered 200 is on the timeline exactly once, and replayed ones are answered on response_url`, async () => {
    fake = await startFakeSlackApi({ token: 'xoxb-test-token' });
    const db = join(tempDir(), 'sitrep.db');
    const port = await freePort();
    const start = async () => (server = await startServerProcess({ db, port, apiUrl: fake!.apiUrl }));
    await start();
    const agent = new Agent({ keepAlive: true, maxSockets: STREAMS });
    const declared = await signedSlash(server!.url, agent, 'declare Kill test sev:3', { responseUrl: fake.responseUrl('declare'), fake });
    expect(declared.status).toBe(200);
    await fake.waitFor((f) => f.responses.some((r) => r.id === 'declare'));

    const acked = new Set<number>();
    const refused: number[] = [];
    const replayed = new Set<number>(); // acknowledged by a killed server, applied by the next one
    const restarts: Array<{ left: number[]; firstNew: number }> = []; // what each restart found, and where new work began
    let next = 0;

    for (let round = 0; round <= KILLS; round++) {
      let stop = false;
      let ackedThisRound = 0;
      let killed: Promise<void> | undefined;
      const last = round === KILLS;
      const stream = async () => {
        while (!stop) {
          const i = next++;
          try {
            const a = await signedSlash(server!.url, agent, `note INC-1 n-${i}`, { responseUrl: fake!.responseUrl(`n-${i}`), fake: fake! });
            if (a.status === 200) {
              acked.add(i);
              ackedThisRound++;
            } else refused.push(a.status);
          } catch {
            // No answer (the server died under it, or is not up yet): Slack would show an error
            // and the person would type it again. Not acknowledged, so not promised.
            if (killed) await killed;
          }
          if (ackedThisRound >= ACKS_BEFORE_KILL) {
            if (last) stop = true;
            else killed ??= server!.kill9();
          }
          if (killed) stop = true;
        }
      };
      await Promise.all(Array.from({ length: STREAMS }, stream));
      if (last) break;
      await killed;
      // What the killed server left: requests it had committed, and acknowledged or not, but not applied.
      const left: number[] = [];
      for (const body of readDb(db, (d) => d.prepare<[], { body: string }>('select body from inbox order by id').all()).map((r) => r.body)) {
        const i = noteIndex(new URLSearchParams(body).get('text')!.replace(/^note INC-1 /, ''));
        left.push(i);
        if (acked.has(i)) replayed.add(i);
      }
      agent.destroy();
      restarts.push({ left, firstNew: next });
      await start();
    }

    expect(refused).toEqual([]);
    // The restarted server applies what was left before anything new, and then everything else.
    const noteRows = () =>
      readDb(db, (d) => d.prepare<[], { id: number; text: string }>("select id, text from timeline_events where kind = 'note' order by id").all()).map((r) => ({
        id: r.id,
        i: noteIndex(r.text),
      }));
    const notes = () => noteRows().map((r) => r.i);
    const end = Date.now() + 30_000;
    while (![...acked].every((i) => notes().includes(i)) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    const counts = new Map<number, number>();
    for (const i of notes()) counts.set(i, (counts.get(i) ?? 0) + 1);
    const missing = [...acked].filter((i) => !counts.has(i));
    const doubled = [...counts].filter(([, n]) => n > 1).map(([i]) => i);
    expect({ missing, doubled }).toEqual({ missing: [], doubled: [] });
    expect(readDb(db, (d) => d.prepare('select count(*) as n from inbox').get())).toEqual({ n: 0 });
    // Replays keep arrival order and come before anything sent to the restarted server.
    const recorded = new Map(noteRows().map((r) => [r.i, r.id]));
    for (const { left, firstNew } of restarts) {
      const ids = left.map((i) => recorded.get(i)!);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      const firstNewId = Math.min(...[...recorded].filter(([i]) => i >= firstNew).map(([, id]) => id));
      for (const id of ids) expect(id).toBeLessThan(firstNewId);
    }

    // Replies to commands applied by a replay still reach the person who typed them.
    await fake.waitFor((f) => [...replayed].every((i) => f.responses.some((r) => r.id === `n-${i}`)), 15_000);
    for (const i of replayed) {
      const reply = fake.responses.find((r) => r.id === `n-${i}`)!;
      expect(reply.body).toMatchObject({ response_type: 'ephemeral' });
    }
    process.stdout.write(`kill -9 test: ${next} sent, ${acked.size} acknowledged, ${replayed.size} of them applied by a replay after ${KILLS} kills\n`);
    agent.destroy();
  }, 120_000);
});
