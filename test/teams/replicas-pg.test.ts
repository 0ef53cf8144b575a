import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startServer, type App, type RunningServer } from '../../src/main.js';
import { engines } from '../support/engines.js';
import { startFakeConnector, type FakeConnector } from '../fakes/teams-connector.js';
import { activityBuilders } from './harness.js';

// Two Sitrep replicas on one PostgreSQL database, each serving POST /api/messages (local mode: no
// Entra app, loopback only). Teams redelivers an activity it got no answer for, and behind a load
// balancer the redelivery may reach the other replica: the activity is applied once, through the
// unique key of processed_events.

const postgres = engines.find((e) => e.name === 'PostgreSQL')!;

let fake: FakeConnector;
const servers: RunningServer[] = [];
beforeEach(async () => {
  fake = await startFakeConnector();
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  await fake.close();
});

async function replica(): Promise<{ app: App; send: (a: Record<string, unknown>) => Promise<number> }> {
  const app = await postgres.app({ SITREP_DB: 'teams-replicas' });
  const server = await startServer(app, 0, '127.0.0.1');
  servers.push(server);
  const send = async (activity: Record<string, unknown>) => {
    const res = await fetch(`${server.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(activity) });
    await res.text();
    return res.status;
  };
  return { app, send };
}

describe.skipIf(postgres.skip)('Teams on two replicas of one PostgreSQL database', () => {
  it('the same activity delivered to both replicas (and redelivered) is applied once', async () => {
    const a = await replica();
    const b = await replica();
    const teams = activityBuilders(fake.serviceUrl);
    expect(await a.send(teams.mention('declare Teams replicas sev:3'))).toBe(200);
    expect((await postgres.rows(a.app, 'select id from incidents')).length).toBe(1);

    const note = teams.mention('note INC-1 paged the database team');
    const statuses = await Promise.all([a.send(note), b.send(note), b.send(note), a.send(note)]);
    expect(statuses).toEqual([200, 200, 200, 200]);
    const notes = await postgres.rows(b.app, "select id from timeline_events where kind = 'note' and text = ?", 'paged the database team');
    expect(notes.length).toBe(1);
    // One answer to the person, whichever replica applied it.
    const replies = await postgres.rows(b.app, "select id from outbox where target like 'teams:%' and kind = 'reply'");
    const declareAndNote = 2;
    expect(replies.length).toBe(declareAndNote);
    // A new activity with the same text is a new command.
    expect(await b.send(teams.mention('note INC-1 paged the database team'))).toBe(200);
    expect((await postgres.rows(a.app, "select id from timeline_events where kind = 'note' and text = ?", 'paged the database team')).length).toBe(2);
  });
});
