import { afterEach, describe, expect, it } from 'vitest';
import { INCIDENTS, jsonFixture, startHarness, type Harness } from './harness.js';

// Socket Mode (SLACK_APP_TOKEN set): the app connects out through apps.connections.open at
// SLACK_API_URL and receives the same payloads over a WebSocket; acks go back as envelope replies.

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
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
    env.event = { ...env.event, text: '<@U02P23SK0SV> note over the socket', user: 'U0BOB', channel: INCIDENTS, ts: `${Date.now() / 1000}`, thread_ts: root.ts };
    h.fake.socket.send({ envelope_id: 'env-2', type: 'events_api', accepts_response_payload: false, payload: env });
    await h.fake.waitFor((f) => f.socket.acks.some((a) => a.envelope_id === 'env-2'));
    await h.fake.waitFor((f) => f.messages.some((m) => m.thread_ts === root.ts && JSON.stringify(m.blocks).includes('over the socket')));
  });
});
