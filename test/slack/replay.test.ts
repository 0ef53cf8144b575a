import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeSlackApi, type FakeSlackApi } from '../fakes/slack-api.js';
import { tempDbFile } from '../helpers.js';
import { INCIDENTS, blockAction, fixture, jsonFixture, startHarness, viewSubmission, type Harness } from './harness.js';

// What a kill -9 between an ack and its work leaves behind: requests committed to the inbox and
// not applied. A server starting on that file applies each of them once, in arrival order, before
// anything new: slash commands, button clicks, modal submissions and mentions alike. Replies that
// go to response_url still go out; forms that could only have opened within 3 s of the click are
// not attempted. (test/slack/durability.test.ts makes this state with real kills; this test lays
// it down exactly, so every kind of request is covered every run.)

let harnesses: Harness[] = [];
let replies: FakeSlackApi | undefined;
afterEach(async () => {
  for (const h of harnesses) await h.close().catch(() => undefined);
  harnesses = [];
  await replies?.close();
});

function slashForm(text: string, responseUrl: string, user = 'U0ALICE'): string {
  const form = new URLSearchParams(fixture('slash_command-real.form.txt'));
  form.set('command', '/incident');
  form.set('text', text);
  form.set('user_id', user);
  form.set('channel_id', 'C0GENERAL');
  form.set('trigger_id', 'trigger.dead');
  form.set('response_url', responseUrl);
  return form.toString();
}

const interactionForm = (payload: Record<string, unknown>) => new URLSearchParams({ payload: JSON.stringify(payload) }).toString();

describe('start-up replays acknowledged requests a killed server left unapplied', () => {
  it('each is applied once, in arrival order, ahead of new work; response_url replies go out; no form is opened', async () => {
    const file = tempDbFile();
    const first = await startHarness({ SITREP_DB: file });
    harnesses.push(first);
    expect((await first.slash('declare Replay test sev:2')).status).toBe(200);
    expect((await first.slash('draft INC-1 We are looking into it')).status).toBe(200);
    await first.fake.waitFor((f) => f.responses.length === 2);
    expect((await first.app.run('approver add slack:U0BOB', 'cli:admin', { platform: 'cli' })).ok).toBe(true);
    await first.drain();
    const rootTs = first.fake.messages.find((m) => m.channel === INCIDENTS && !m.thread_ts)!.ts;
    await first.close();
    harnesses = [];

    // The requests, exactly as Slack sent them and the receiver committed them.
    replies = await startFakeSlackApi({ token: 'unused' });
    const mention = jsonFixture('event_callback-app_mention-channel.json');
    mention.event_id = 'Ev0REPLAY';
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
    const rows: Array<[string, string]> = [
      ['application/x-www-form-urlencoded', slashForm('note INC-1 r-slash-1', replies.responseUrl('slash-1'))],
      [
        'application/x-www-form-urlencoded',
        interactionForm(
          viewSubmission({
            callbackId: 'sitrep_update',
            viewId: 'V0REPLAY',
            meta: { incidentId: 1 },
            values: { text: { type: 'plain_text_input', value: 'r-modal' } },
          }),
        ),
      ],
      ['application/json', JSON.stringify(mention)],
      ['application/x-www-form-urlencoded', interactionForm(approve)],
      ['application/x-www-form-urlencoded', slashForm('declare', replies.responseUrl('declare-form'))],
      ['application/x-www-form-urlencoded', slashForm('help', replies.responseUrl('help'))],
      ['application/x-www-form-urlencoded', slashForm('note INC-1 r-slash-2', replies.responseUrl('slash-2'))],
    ];
    const db = new Database(file);
    const insert = db.prepare("insert into inbox (platform, received_at, content_type, body) values ('slack', ?, ?, ?)");
    for (const [type, body] of rows) insert.run(Date.now(), type, body);
    db.close();

    const second = await startHarness({ SITREP_DB: file });
    harnesses.push(second);
    // Sent the moment the server listens: it must land after every replayed command.
    expect((await second.slash('note INC-1 new-after-restart', { responseId: 'new' })).status).toBe(200);
    await replies.waitFor((f) => ['slash-1', 'approve', 'slash-2'].every((id) => f.responses.some((r) => r.id === id)));
    await second.fake.waitFor((f) => f.responses.some((r) => r.id === 'new'));

    const timeline = () =>
      second.app.db.$client
        .prepare<[], { kind: string; text: string }>(
          "select kind, text from timeline_events where incident_id = 1 and kind in ('note', 'update', 'published') order by id",
        )
        .all();
    expect(timeline()).toEqual([
      { kind: 'note', text: 'r-slash-1' },
      { kind: 'update', text: 'r-modal' },
      { kind: 'note', text: 'r-mention' },
      expect.objectContaining({ kind: 'published' }),
      { kind: 'note', text: 'r-slash-2' },
      { kind: 'note', text: 'new-after-restart' },
    ]);
    expect(second.app.db.$client.prepare('select state from customer_updates where id = 1').get()).toEqual({ state: 'published' });
    expect(second.app.db.$client.prepare('select count(*) as n from inbox').get()).toEqual({ n: 0 });
    // Replies to the person, ephemeral, as if nothing had happened in between.
    for (const id of ['slash-1', 'approve', 'slash-2']) {
      const reply = replies.responses.find((r) => r.id === id)!;
      expect(reply.body).toMatchObject({ response_type: 'ephemeral' });
    }
    expect(String(replies.responses.find((r) => r.id === 'slash-1')!.body.text)).toContain('INC-1');
    // The replayed `/incident declare` (a form) and `help` answer nothing and open nothing.
    expect(replies.responses.map((r) => r.id).sort()).toEqual(['approve', 'slash-1', 'slash-2']);
    expect(second.fake.callsOf('views.open')).toEqual([]);
    // The mention's answer is private to who asked.
    await second.drain().catch(() => undefined);
    expect(second.fake.calls.filter((c) => c.method === 'chat.postEphemeral').map((c) => c.params.user)).toContain('U0CAROL');
    await second.close();
    harnesses = [];

    // A further restart finds nothing left to do: nothing is applied twice.
    const third = await startHarness({ SITREP_DB: file });
    harnesses.push(third);
    await new Promise((r) => setTimeout(r, 100));
    expect(
      third.app.db.$client
        .prepare<[], { kind: string; text: string }>(
          "select kind, text from timeline_events where incident_id = 1 and kind in ('note', 'update', 'published') order by id",
        )
        .all(),
    ).toHaveLength(6);
  });
});
