import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startServer, type App, type RunningServer } from '../../src/main.js';
import { engines } from '../support/engines.js';
import { startFakeSlackApi, type FakeSlackApi } from '../fakes/slack-api.js';
import { INCIDENTS, SECRET, TOKEN, fixture, jsonFixture, sign, slashEnvelope } from './harness.js';

// Two Sitrep replicas on one PostgreSQL database, each with its own HTTP server, as behind a load
// balancer. Slack (or a proxy retrying a slow answer) may deliver the same signed request to both:
// it is applied once. A request is committed to the inbox before it is acknowledged, and rows a
// killed replica left are replayed by whichever replica starts, once.

const postgres = engines.find((e) => e.name === 'PostgreSQL')!;

let fake: FakeSlackApi;
const servers: RunningServer[] = [];
beforeEach(async () => {
  fake = await startFakeSlackApi({ token: TOKEN });
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  await fake.close();
});

async function replica(): Promise<{ app: App; url: string }> {
  // The same SITREP_DB key: the same PostgreSQL database (test/support/engines.ts).
  const app = await postgres.app({
    SITREP_DB: 'replicas',
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_BOT_TOKEN: TOKEN,
    SLACK_API_URL: fake.apiUrl,
    SLACK_INCIDENTS_CHANNEL: INCIDENTS,
  });
  const server = await startServer(app, 0, '127.0.0.1');
  servers.push(server);
  return { app, url: server.url };
}

async function post(url: string, body: string, contentType: string, headers: Record<string, string> = {}) {
  const ts = Math.floor(Date.now() / 1000);
  const res = await fetch(`${url}/slack/events`, {
    method: 'POST',
    headers: { 'content-type': contentType, 'x-slack-request-timestamp': String(ts), 'x-slack-signature': sign(body, ts), ...headers },
    body,
  });
  return { status: res.status, text: await res.text() };
}

function slashForm(text: string, trigger: string): string {
  const form = new URLSearchParams(fixture('slash_command-real.form.txt'));
  form.set('command', '/incident');
  form.set('text', text);
  form.set('user_id', 'U0ALICE');
  form.set('channel_id', 'C0GENERAL');
  form.set('trigger_id', trigger);
  form.set('response_url', fake.responseUrl(trigger));
  return form.toString();
}

function mention(text: string, eventId: string): string {
  const env = jsonFixture('event_callback-app_mention-channel.json');
  env.event_id = eventId;
  env.event = { ...env.event, text, user: 'U0CAROL', channel: INCIDENTS, ts: `${Date.now() / 1000}` };
  return JSON.stringify(env);
}

const notes = async (app: App, text: string) => (await postgres.rows(app, "select id from timeline_events where kind = 'note' and text = ?", text)).length;
const inboxRows = async (app: App) => (await postgres.rows(app, 'select id from inbox')).length;

/** Waits (polling, no time asserted) until `check` holds; fails after 15 s. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.skipIf(postgres.skip)('Slack on two replicas of one PostgreSQL database', () => {
  it('the same signed slash command delivered to both replicas is applied once; the other answers with nothing', async () => {
    const a = await replica();
    const b = await replica();
    const declared = await post(a.url, slashForm('declare Replicas sev:3', 'trigger.declare'), 'application/x-www-form-urlencoded');
    expect(declared.status).toBe(200);
    expect(declared.text).toContain('INC-1');

    const body = slashForm('note INC-1 failover started', 'trigger.note-1');
    const [ra, rb] = await Promise.all([post(a.url, body, 'application/x-www-form-urlencoded'), post(b.url, body, 'application/x-www-form-urlencoded')]);
    expect([ra.status, rb.status]).toEqual([200, 200]);
    // One of them applied it and says so in its ack; the other found the key taken.
    const answers = [ra.text, rb.text].map((t) => (JSON.parse(t) as { text: string }).text);
    expect(answers.filter((t) => t.includes('INC-1')).length).toBe(1);
    expect(answers.filter((t) => t === '').length).toBe(1);
    expect(await notes(a.app, 'failover started')).toBe(1);

    // A new invocation (a new trigger_id) of the same text is a new command.
    const again = await post(b.url, slashForm('note INC-1 failover started', 'trigger.note-2'), 'application/x-www-form-urlencoded');
    expect(again.status).toBe(200);
    expect(await notes(a.app, 'failover started')).toBe(2);
    expect(await inboxRows(a.app)).toBe(0);
  });

  it('an event delivered to both replicas (and retried) is committed before its ack and applied once', async () => {
    const a = await replica();
    const b = await replica();
    expect((await post(a.url, slashForm('declare Events sev:3', 'trigger.d'), 'application/x-www-form-urlencoded')).status).toBe(200);
    // Acknowledged means committed: the moment its 200 is read, the request is in the inbox or
    // already applied (its note and its row's removal commit together), never neither.
    const early = mention('<@U02P23SK0SV> note INC-1 acknowledged early', 'Ev0EARLY1');
    expect((await post(b.url, early, 'application/json')).status).toBe(200);
    const seen = await postgres.rows(
      a.app,
      "select (select count(*) from inbox) + (select count(*) from timeline_events where kind = 'note' and text = ?) as n",
      'acknowledged early',
    );
    expect(Number(seen[0].n)).toBe(1);

    const body = mention('<@U02P23SK0SV> note INC-1 DB failover done', 'Ev0REPLICAS1');
    const acks = await Promise.all([
      post(a.url, body, 'application/json'),
      post(b.url, body, 'application/json'),
      post(b.url, body, 'application/json', { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' }),
    ]);
    expect(acks.map((r) => r.status)).toEqual([200, 200, 200]);
    await until(async () => (await notes(a.app, 'DB failover done')) >= 1 && (await inboxRows(a.app)) === 0, 'the mention to be applied');
    expect(await notes(b.app, 'DB failover done')).toBe(1);
    // The person who asked is answered once (an ephemeral reply through the outbox).
    expect((await postgres.rows(a.app, "select id from outbox where kind = 'ephemeral'")).length).toBe(2); // the early one and this one
  });

  it('requests a killed replica acknowledged but did not apply are replayed once by the replicas that start', async () => {
    // A replica that declared INC-1, then was killed with one acknowledged mention in its inbox.
    const first = await replica();
    expect((await post(first.url, slashForm('declare Left behind sev:3', 'trigger.d'), 'application/x-www-form-urlencoded')).status).toBe(200);
    await postgres.rows(
      first.app,
      "insert into inbox (platform, received_at, content_type, body) values ('slack', ?, 'application/json', ?)",
      Date.now(),
      mention('<@U02P23SK0SV> note INC-1 acknowledged before the kill', 'Ev0LEFT1'),
    );
    // Two replicas start at once and both replay what they find.
    await Promise.all([replica(), replica()]);
    await until(async () => (await inboxRows(first.app)) === 0, 'the inbox to be replayed');
    await until(async () => (await notes(first.app, 'acknowledged before the kill')) >= 1, 'the replayed note');
    expect(await notes(first.app, 'acknowledged before the kill')).toBe(1);
  });

  it('a replica that keeps running applies what a dead replica left in the inbox, once it is clearly orphaned', async () => {
    const survivor = await replica();
    expect((await post(survivor.url, slashForm('declare Survivor sev:3', 'trigger.d'), 'application/x-www-form-urlencoded')).status).toBe(200);
    const leave = (text: string, eventId: string, receivedAt: number) =>
      postgres.rows(
        survivor.app,
        "insert into inbox (platform, received_at, content_type, body) values ('slack', ?, 'application/json', ?)",
        receivedAt,
        mention(`<@U02P23SK0SV> note INC-1 ${text}`, eventId),
      );
    // A dead replica's row from a minute ago, and a row as fresh as one a live replica is applying.
    await leave('left by a dead replica', 'Ev0ORPHAN1', Date.now() - 60_000);
    await leave('still being applied elsewhere', 'Ev0FRESH1', Date.now());
    await until(async () => (await notes(survivor.app, 'left by a dead replica')) === 1, 'the orphaned request to be applied');
    expect(await notes(survivor.app, 'still being applied elsewhere')).toBe(0);
    expect(await inboxRows(survivor.app)).toBe(1);
  });

  it('Socket Mode: each replica holds its own connection, and an event Slack redelivers on the other one is applied once', async () => {
    // Two connections, as Slack keeps one per replica (here each replica's own fake endpoint).
    const other = await startFakeSlackApi({ token: TOKEN });
    try {
      const socketReplica = async (api: FakeSlackApi) => {
        const app = await postgres.app({
          SITREP_DB: 'socket-replicas',
          SLACK_SIGNING_SECRET: SECRET,
          SLACK_BOT_TOKEN: TOKEN,
          SLACK_APP_TOKEN: 'xapp-test-token',
          SLACK_API_URL: api.apiUrl,
          SLACK_INCIDENTS_CHANNEL: INCIDENTS,
        });
        servers.push(await startServer(app, 0, '127.0.0.1'));
        await api.waitFor((f) => f.socket.connected());
        return app;
      };
      const a = await socketReplica(fake);
      await socketReplica(other);
      fake.socket.send(slashEnvelope('env-declare', 'declare Socket replicas sev:3', fake.responseUrl('declare')));
      await fake.waitFor((f) => f.responses.some((r) => r.id === 'declare'));
      const env = JSON.parse(mention('<@U02P23SK0SV> note INC-1 over two sockets', 'Ev0SOCKET1'));
      delete env.event.blocks;
      // Slack got no ack in time on the first connection and sends the event again on the other.
      fake.socket.send({ envelope_id: 'env-1', type: 'events_api', accepts_response_payload: false, payload: env });
      other.socket.send({ envelope_id: 'env-2', type: 'events_api', accepts_response_payload: false, payload: env, retry_attempt: 1, retry_reason: 'timeout' });
      await fake.waitFor((f) => f.socket.acks.some((x) => x.envelope_id === 'env-1'));
      await other.waitFor((f) => f.socket.acks.some((x) => x.envelope_id === 'env-2'));
      await until(async () => (await notes(a, 'over two sockets')) >= 1 && (await inboxRows(a)) === 0, 'the event to be applied');
      expect(await notes(a, 'over two sockets')).toBe(1);
    } finally {
      for (const s of servers.splice(0)) await s.close();
      await other.close();
    }
  });
});
