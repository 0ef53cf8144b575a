import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDbFile } from '../helpers.js';
import { startFakeSlackApi, type FakeSlackApi } from '../fakes/slack-api.js';
import { INCIDENTS, blockAction, jsonFixture, onSocketAck, slashEnvelope, startHarness, viewSubmission, type Harness } from './harness.js';

// Socket Mode (SLACK_APP_TOKEN set): the app connects out through apps.connections.open at
// SLACK_API_URL and receives the same payloads over a WebSocket; acks go back as envelope replies.

let h: Harness | undefined;
let reader: Database.Database | undefined;
let replies: FakeSlackApi | undefined;
afterEach(async () => {
  reader?.close();
  reader = undefined;
  await h?.close();
  h = undefined;
  await replies?.close();
  replies = undefined;
});

describe('Socket Mode', () => {
  it('connects through SLACK_API_URL only, serves no /slack/events, and runs /incident over the socket', async () => {
    h = await startHarness({ SLACK_APP_TOKEN: 'xapp-test-token' });
    await h.fake.waitFor((f) => f.socket.connected());
    // The only Web API call at start-up: apps.connections.open with the app-level token.
    expect(h.fake.calls.map((c) => c.method)).toEqual(['apps.connections.open']);
    expect((await fetch(`${h.url}/slack/events`, { method: 'POST', body: '{}' })).status).toBe(404);

    h.fake.socket.send({
      envelope_id: 'env-1',
      type: 'slash_commands',
      accepts_response_payload: true,
      payload: {
        token: 'legacy',
        team_id: 'T0FAKE',
        channel_id: 'C0GENERAL',
        user_id: 'U0ALICE',
        command: '/incident',
        text: 'declare Socket outage sev:2',
        api_app_id: 'A0FAKE',
        response_url: h.fake.responseUrl('socket'),
        trigger_id: 'trigger.socket',
      },
    });
    await h.fake.waitFor((f) => f.socket.acks.some((a) => a.envelope_id === 'env-1'));
    await h.fake.waitFor((f) => f.responses.some((r) => r.id === 'socket'));
    expect(String(h.fake.responses.find((r) => r.id === 'socket')!.body.text)).toContain('INC-1 declared');
    await h.drain();
    const root = h.fake.messages.find((m) => m.channel === INCIDENTS && !m.thread_ts)!;
    expect(JSON.stringify(root.blocks)).toContain('INC-1 · Socket outage');

    // An event over the socket: a mention in the incident's thread.
    const env = jsonFixture('event_callback-app_mention-channel.json');
    env.event_id = 'Ev0SOCKET';
    env.event = {
      ...env.event,
      text: '<@U02P23SK0SV> note over the socket',
      user: 'U0BOB',
      channel: INCIDENTS,
      ts: `${Date.now() / 1000}`,
      thread_ts: root.ts,
    };
    h.fake.socket.send({ envelope_id: 'env-2', type: 'events_api', accepts_response_payload: false, payload: env });
    await h.fake.waitFor((f) => f.socket.acks.some((a) => a.envelope_id === 'env-2'));
    await h.fake.waitFor((f) => f.messages.some((m) => m.thread_ts === root.ts && JSON.stringify(m.blocks).includes('over the socket')));
  });

  it('commits every envelope before its ack: at the moment an ack arrives, the inbox row or its applied note is on disk', async () => {
    const file = tempDbFile();
    h = await startHarness({ SLACK_APP_TOKEN: 'xapp-test-token', SITREP_DB: file });
    await h.fake.waitFor((f) => f.socket.connected());
    expect((await h.app.run('declare Socket durability sev:2', 'slack:U0ALICE', { platform: 'slack', channel: 'C0GENERAL' })).ok).toBe(true);
    // A second connection, as another process would read the file: it sees committed rows only.
    reader = new Database(file, { readonly: true, fileMustExist: true });
    const inboxBodies = reader.prepare<[], { body: string }>("select body from inbox where platform = 'slack'");
    const applied = reader.prepare<[], { text: string }>("select text from timeline_events where incident_id = 1 and kind in ('note', 'update') order by id");
    const committed = (marker: string) => applied.all().some((r) => r.text === marker) || inboxBodies.all().some((r) => r.body.includes(marker));

    // Slash commands, with a modal submission (an interaction) and a mention (an event, which Bolt
    // acknowledges before any listener runs) among them. Markers have one width, so none is part
    // of another.
    const sent: Array<{ envelopeId: string; marker: string }> = [];
    const markerOf = new Map<string, string>();
    const notCommittedAtAck: string[] = [];
    onSocketAck(h.fake, (ack) => {
      const marker = markerOf.get(String(ack.envelope_id));
      if (marker !== undefined && !committed(marker)) notCommittedAtAck.push(marker);
    });
    const COUNT = 150;
    const MODAL = 50;
    const MENTION = 100;
    for (let i = 0; i < COUNT; i++) {
      const marker = `m-${String(i).padStart(3, '0')}`;
      const envelopeId = `env-${marker}`;
      sent.push({ envelopeId, marker });
      markerOf.set(envelopeId, marker);
      if (i === MODAL) {
        const payload = viewSubmission({ callbackId: 'sitrep_update', meta: { incidentId: 1 }, values: { text: { type: 'plain_text_input', value: marker } } });
        h.fake.socket.send({ envelope_id: envelopeId, type: 'interactive', accepts_response_payload: true, payload });
      } else if (i === MENTION) {
        const env = jsonFixture('event_callback-app_mention-channel.json');
        env.event_id = 'Ev0DURABLE';
        env.event = { ...env.event, text: `<@U02P23SK0SV> note INC-1 ${marker}`, user: 'U0BOB', channel: 'C0GENERAL', ts: `${Date.now() / 1000}` };
        delete env.event.blocks;
        h.fake.socket.send({ envelope_id: envelopeId, type: 'events_api', accepts_response_payload: false, payload: env });
      } else {
        h.fake.socket.send(slashEnvelope(envelopeId, `note INC-1 ${marker}`, h.fake.responseUrl(marker)));
      }
    }
    await h.fake.waitFor((f) => sent.every((s) => f.socket.acks.some((a) => a.envelope_id === s.envelopeId)));
    await h.fake.waitFor(() => applied.all().length === COUNT);

    expect(notCommittedAtAck).toEqual([]);
    // Each applied once, and nothing left behind. The slash commands apply in the order they came
    // off the socket; the modal and the mention take their own paths through Bolt, so within one
    // burst they may be queued a little later than the commands sent after them.
    const texts = applied.all().map((r) => r.text);
    expect([...texts].sort()).toEqual(sent.map((s) => s.marker));
    const slashMarkers = sent.filter((_, i) => i !== MODAL && i !== MENTION).map((s) => s.marker);
    expect(texts.filter((t) => slashMarkers.includes(t))).toEqual(slashMarkers);
    expect(inboxBodies.all()).toEqual([]);
    await h.fake.waitFor((f) => f.responses.filter((r) => r.id.startsWith('m-')).length === COUNT - 2);
  });

  it('start-up replays the envelopes a killed process left in the inbox, once each, in arrival order, ahead of new ones', async () => {
    const file = tempDbFile();
    h = await startHarness({ SLACK_APP_TOKEN: 'xapp-test-token', SITREP_DB: file });
    const run = async (text: string) => expect((await h!.app.run(text, 'slack:U0ALICE', { platform: 'slack', channel: 'C0GENERAL' })).ok).toBe(true);
    await run('declare Socket replay sev:2');
    await run('draft INC-1 We are looking into it');
    expect((await h.app.run('approver add slack:U0BOB', 'cli:admin', { platform: 'cli' })).ok).toBe(true);
    await h.drain();
    const rootTs = h.fake.messages.find((m) => m.channel === INCIDENTS && !m.thread_ts)!.ts;
    await h.close();
    h = undefined;

    // The rows exactly as the Socket Mode receiver commits them: each envelope's payload as JSON.
    replies = await startFakeSlackApi({ token: 'unused' });
    const slash = (text: string, id: string) => slashEnvelope(id, text, replies!.responseUrl(id)).payload;
    const mention = jsonFixture('event_callback-app_mention-channel.json');
    mention.event_id = 'Ev0SOCKETREPLAY';
    mention.event = {
      ...mention.event,
      text: '<@U02P23SK0SV> note INC-1 r-mention',
      user: 'U0CAROL',
      channel: INCIDENTS,
      ts: `${Date.now() / 1000}`,
      thread_ts: rootTs,
    };
    delete mention.event.blocks;
    const approve = blockAction({ user: 'U0BOB', actionId: 'sitrep_approve', value: 'D-1', channel: INCIDENTS, messageTs: rootTs });
    approve.response_url = replies.responseUrl('approve');
    const payloads: Array<Record<string, unknown>> = [
      slash('note INC-1 r-slash-1', 'slash-1'),
      viewSubmission({
        callbackId: 'sitrep_update',
        viewId: 'V0SOCKETREPLAY',
        meta: { incidentId: 1 },
        values: { text: { type: 'plain_text_input', value: 'r-modal' } },
      }),
      mention,
      approve,
      slash('declare', 'declare-form'),
      slash('note INC-1 r-slash-2', 'slash-2'),
    ];
    const db = new Database(file);
    const insert = db.prepare("insert into inbox (platform, received_at, content_type, body) values ('slack', ?, 'application/json', ?)");
    for (const p of payloads) insert.run(Date.now(), JSON.stringify(p));
    db.close();

    h = await startHarness({ SLACK_APP_TOKEN: 'xapp-test-token', SITREP_DB: file });
    await h.fake.waitFor((f) => f.socket.connected());
    // Sent the moment the socket is up: it must land after every replayed command.
    h.fake.socket.send(slashEnvelope('env-new', 'note INC-1 new-after-restart', h.fake.responseUrl('new')));
    await h.fake.waitFor((f) => f.responses.some((r) => r.id === 'new'));
    await replies.waitFor((f) => ['slash-1', 'approve', 'slash-2'].every((id) => f.responses.some((r) => r.id === id)));

    const timeline = h.app.db.$client
      .prepare<[], { kind: string; text: string }>(
        "select kind, text from timeline_events where incident_id = 1 and kind in ('note', 'update', 'published') order by id",
      )
      .all();
    expect(timeline).toEqual([
      { kind: 'note', text: 'r-slash-1' },
      { kind: 'update', text: 'r-modal' },
      { kind: 'note', text: 'r-mention' },
      expect.objectContaining({ kind: 'published' }),
      { kind: 'note', text: 'r-slash-2' },
      { kind: 'note', text: 'new-after-restart' },
    ]);
    expect(h.app.db.$client.prepare('select count(*) as n from inbox').get()).toEqual({ n: 0 });
    // A replayed form opener opens nothing (its trigger_id is long dead) and answers nothing.
    expect(h.fake.callsOf('views.open')).toEqual([]);
    expect(replies.responses.map((r) => r.id).sort()).toEqual(['approve', 'slash-1', 'slash-2']);
  });
});
