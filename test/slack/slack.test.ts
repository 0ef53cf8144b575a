import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { asc, eq } from 'drizzle-orm';
import { incidentThreads, incidents, outbox, timelineEvents } from '../../db/schema.js';
import { rowCounts } from '../helpers.js';
import { INCIDENTS, blockAction, dedicatedDeclareSubmission, fixture, jsonFixture, sign, startHarness, viewSubmission, type Harness } from './harness.js';
import type { FakeMessage } from '../fakes/slack-api.js';

// End to end through real HTTP: signed Slack requests → the real receiver and Bolt → commands on a
// real SQLite database → outbox → SlackTarget → the fake Slack Web API.

const ACK_BOUND_MS = 3_000; // Slack's own limit; a correctness bound, not a performance target.

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

const root = (channel = INCIDENTS) => h.fake.messages.find((m) => m.channel === channel && !m.thread_ts);
const replies = (ts: string) => h.fake.messages.filter((m) => m.thread_ts === ts);
const blocksText = (m: { blocks?: unknown[] } | undefined) => JSON.stringify(m?.blocks ?? []);

async function declare(text = 'declare Checkout errors sev:2') {
  const res = await h.slash(text);
  expect(res.status).toBe(200);
  await h.fake.waitFor((f) => f.responses.length > 0);
  await h.drain();
  return root()!;
}

describe('/incident', () => {
  it('start-up makes no Slack Web API call (no auth.test)', async () => {
    await new Promise((r) => setTimeout(r, 50));
    expect(h.fake.calls).toEqual([]);
  });

  it('with no text answers help in the ack, ephemerally', async () => {
    const res = await h.slash('');
    expect(res.status).toBe(200);
    expect(res.ms).toBeLessThan(ACK_BOUND_MS);
    const body = res.json();
    expect(body.response_type).toBe('ephemeral');
    expect(body.text).toContain('declare');
    expect(body.text).toContain('&lt;title&gt;'); // placeholders are escaped, not mrkdwn links
  });

  it('declare: acks at once, replies ephemerally, posts the root message and threads the timeline', async () => {
    const res = await h.slash('declare Checkout errors sev:2');
    expect(res.status).toBe(200);
    expect(res.ms).toBeLessThan(ACK_BOUND_MS);
    // Nothing shown in the channel: the answer is ephemeral, in the ack (applied at once).
    expect(res.json()).toMatchObject({ response_type: 'ephemeral' });
    await h.fake.waitFor((f) => f.responses.length === 1);
    expect(h.fake.responses[0]!.body).toMatchObject({ response_type: 'ephemeral' });
    expect(String(h.fake.responses[0]!.body.text)).toContain('INC-1 declared');

    await h.drain();
    const r = root()!;
    expect(r).toBeDefined();
    const card = blocksText(r);
    expect(card).toContain('INC-1 · Checkout errors');
    expect(card).toContain('sev2');
    expect(card).toContain('investigating');
    expect(card).toContain('<@U0ALICE>'); // lead defaults to the declarer
    expect(card).toContain('Last customer update');
    for (const id of ['sitrep_open_update', 'sitrep_open_draft', 'sitrep_open_resolve']) expect(card).toContain(id);
    // The root ts is recorded so thread replies and commands from the thread find the incident.
    const thread = h.app.db.select().from(incidentThreads).get()!;
    expect(thread).toMatchObject({ incidentId: 1, platform: 'slack', channel: INCIDENTS, rootRef: r.ts, dedicated: false });
    const declared = replies(r.ts);
    expect(declared).toHaveLength(1);
    expect(blocksText(declared[0])).toMatch(/<!date\^\d+\^\{date_short_pretty\} \{time\}\|[^>]+>/);
  });

  it('every change edits the root in place and adds a thread reply; status changes are broadcast', async () => {
    const r = await declare();
    const updatesBefore = h.fake.callsOf('chat.update').length;

    await h.slash('note INC-1 DB failover started');
    await h.fake.waitFor((f) => f.responses.length === 2);
    await h.drain();
    expect(h.fake.callsOf('chat.update').length).toBe(updatesBefore + 1);
    const noteReply = replies(r.ts).at(-1)!;
    expect(noteReply.thread_ts).toBe(r.ts);
    expect(blocksText(noteReply)).toContain('DB failover started');
    expect(noteReply.reply_broadcast).toBeUndefined();

    await h.slash('update INC-1 status:identified Primary DB lost its disk');
    await h.fake.waitFor((f) => f.responses.length === 3);
    await h.drain();
    const updates = h.fake.callsOf('chat.update');
    expect(updates.length).toBe(updatesBefore + 2);
    expect(updates.at(-1)!.params).toMatchObject({ channel: INCIDENTS, ts: r.ts });
    expect(JSON.stringify(updates.at(-1)!.params.blocks)).toContain('identified');
    const statusReply = replies(r.ts).at(-1)!;
    expect(statusReply.reply_broadcast).toBe(true);

    await h.slash('severity INC-1 1');
    await h.fake.waitFor((f) => f.responses.length === 4);
    await h.drain();
    expect(h.fake.callsOf('chat.update').length).toBe(updatesBefore + 3);
    expect(JSON.stringify(h.fake.callsOf('chat.update').at(-1)!.params.blocks)).toContain('sev1');
    // Every Web API call the adapter made carried the required parameters.
    expect(h.fake.calls.filter((c) => !c.valid)).toEqual([]);
  });

  it('a bad command is answered in the ack with how to write it, and writes nothing', async () => {
    const before = rowCounts(h.app.db);
    const res = await h.slash('declair DB down');
    expect(res.status).toBe(200);
    const body = res.json();
    expect(body.response_type).toBe('ephemeral');
    expect(body.text).toContain('did you mean `declare`');
    expect(body.text).toContain('/incident help');
    expect(rowCounts(h.app.db)).toEqual(before);
  });

  it('execution errors come back ephemerally on response_url', async () => {
    const res = await h.slash('note INC-9 hello');
    expect(res.status).toBe(200);
    await h.fake.waitFor((f) => f.responses.length === 1);
    expect(h.fake.responses[0]!.body.response_type).toBe('ephemeral');
    expect(String(h.fake.responses[0]!.body.text)).toContain('INC-9 not found');
  });

  it('user text cannot ping the channel or fake links in the thread', async () => {
    const r = await declare();
    await h.slash('note INC-1 &lt;!channel&gt; look at <https://example.com|this> &amp; <!here> <@U0BOB|bob>');
    await h.fake.waitFor((f) => f.responses.length === 2);
    await h.drain();
    const reply = blocksText(replies(r.ts).at(-1));
    expect(reply).not.toContain('<!channel>');
    expect(reply).not.toContain('<!here>');
    expect(reply).toContain('&lt;!channel&gt;');
    expect(reply).toContain('https://example.com');
    expect(reply).toContain('&amp;');
    expect(reply).toContain('<@U0BOB>'); // people named in the note are still mentioned
    const stored = h.app.db.select().from(timelineEvents).where(eq(timelineEvents.kind, 'note')).get()!;
    expect(stored.text).toBe('<!channel> look at https://example.com & <!here> <@U0BOB|bob>');
  });

  it('/incident declare with no title opens the declare modal; submitting it declares', async () => {
    await h.app.run('component add API', 'cli:admin', { platform: 'cli' });
    await h.app.run('component add Web App', 'cli:admin', { platform: 'cli' });
    const res = await h.slash('declare');
    expect(res.status).toBe(200);
    expect(res.ms).toBeLessThan(ACK_BOUND_MS);
    await h.fake.waitFor((f) => f.callsOf('views.open').length === 1);
    const open = h.fake.callsOf('views.open')[0]!;
    expect(open.params.trigger_id).toMatch(/^trigger\./);
    const view = open.params.view as any;
    expect(view.callback_id).toBe('sitrep_declare');
    const blockIds = view.blocks.map((b: any) => b.block_id);
    expect(blockIds).toEqual(['title', 'severity', 'components', 'lead', 'started', 'dedicated']);
    const comp = view.blocks.find((b: any) => b.block_id === 'components');
    expect(comp.element.type).toBe('multi_static_select');
    expect(comp.element.option_groups.map((g: any) => g.label.text)).toEqual(['API', 'Web App']);
    expect(JSON.stringify(comp)).toContain('api=major_outage');
    const meta = JSON.parse(view.private_metadata);

    const startedSec = Math.floor(Date.now() / 1000) - 600;
    const sub = await h.interaction(
      viewSubmission({
        callbackId: 'sitrep_declare',
        meta,
        values: {
          title: { type: 'plain_text_input', value: 'Payments "slow" <!here>' },
          severity: { type: 'static_select', selected_option: { value: '1' } },
          components: {
            type: 'multi_static_select',
            selected_options: [{ value: 'api=partial_outage' }, { value: 'api=major_outage' }, { value: 'web-app=degraded_performance' }],
          },
          lead: { type: 'users_select', selected_user: 'U0BOB' },
          started: { type: 'datetimepicker', selected_date_time: startedSec },
          dedicated: { type: 'checkboxes', selected_options: [] },
        },
      }),
    );
    expect(sub.status).toBe(200);
    expect(sub.text).toBe(''); // closes the modal
    const inc = h.app.db.select().from(incidents).get()!;
    expect(inc).toMatchObject({ title: 'Payments "slow" <!here>', severity: 1, lead: 'slack:U0BOB', createdBy: 'slack:U0ALICE', startedAt: startedSec * 1000 });
    await h.drain();
    const card = blocksText(root());
    expect(card).toContain('API: major outage'); // the worst status picked for a component wins
    expect(card).toContain('Web App: degraded performance');
    // Header text is plain_text (never parsed); every mrkdwn text must keep the ping inert.
    const mrkdwnTexts = JSON.stringify(root()!.blocks).match(/"type":"mrkdwn","text":"[^"]*(?:\\"[^"]*)*"/g) ?? [];
    expect(mrkdwnTexts.length).toBeGreaterThan(0);
    expect(mrkdwnTexts.join()).not.toContain('<!here>');
    expect(root()!.text).not.toContain('<!here>');
  });

  it('a refused modal submission shows the error in the modal and writes nothing', async () => {
    const before = rowCounts(h.app.db);
    const sub = await h.interaction(
      viewSubmission({
        callbackId: 'sitrep_declare',
        values: {
          title: { type: 'plain_text_input', value: 'DB down' },
          severity: { type: 'static_select', selected_option: { value: '2' } },
          components: { type: 'multi_static_select', selected_options: [{ value: 'nope=major_outage' }] },
        },
      }),
    );
    expect(sub.status).toBe(200);
    expect(sub.json()).toMatchObject({ response_action: 'errors' });
    expect(sub.json().errors.title).toContain('unknown component');
    expect(rowCounts(h.app.db)).toEqual(before);
  });

  it('a dedicated channel: conversations.create (retrying on name_taken), invites, root there, link in the incidents channel', async () => {
    h.fake.channels.set('C0TAKEN', 'inc-1-db-down');
    const sub = await h.interaction(dedicatedDeclareSubmission());
    expect(sub.status).toBe(200);
    await h.drain();
    const creates = h.fake.calls.filter((c) => c.method === 'conversations.create');
    expect(creates.map((c) => c.params.name)).toEqual(['inc-1-db-down', 'inc-1-db-down-2']);
    const channel = [...h.fake.channels].find(([, n]) => n === 'inc-1-db-down-2')![0];
    expect(h.fake.callsOf('conversations.invite')[0]!.params).toMatchObject({ channel, users: 'U0ALICE,U0BOB' });
    const own = root(channel)!;
    expect(blocksText(own)).toContain('INC-1 · DB down!');
    const link = root(INCIDENTS)!;
    expect(blocksText(link)).toContain(`<#${channel}>`);
    // Commands typed in the dedicated channel are about its incident.
    await h.slash('note checking replicas', { channel });
    await h.fake.waitFor((f) => f.responses.length === 1);
    expect(String(h.fake.responses[0]!.body.text)).toContain('Noted on INC-1');
    await h.drain();
    expect(blocksText(replies(own.ts).at(-1))).toContain('checking replicas');
  });
});

describe('buttons and modals on the root message', () => {
  it('Update opens a modal whose submission updates the incident', async () => {
    const r = await declare();
    const click = await h.interaction(blockAction({ actionId: 'sitrep_open_update', value: 'INC-1', channel: INCIDENTS, messageTs: r.ts }));
    expect(click.status).toBe(200);
    await h.fake.waitFor((f) => f.callsOf('views.open').length === 1);
    const view = h.fake.callsOf('views.open')[0]!.params.view as any;
    expect(view.callback_id).toBe('sitrep_update');
    const sub = await h.interaction(
      viewSubmission({
        callbackId: 'sitrep_update',
        meta: JSON.parse(view.private_metadata),
        values: {
          status: { type: 'static_select', selected_option: { value: 'identified' } },
          text: { type: 'plain_text_input', value: 'Found it: a bad deploy' },
        },
      }),
    );
    expect(sub.status).toBe(200);
    expect(h.app.db.select().from(incidents).get()!.status).toBe('identified');
    await h.drain();
    expect(replies(r.ts).at(-1)!.reply_broadcast).toBe(true);
    expect(JSON.stringify(h.fake.callsOf('chat.update').at(-1)!.params.blocks)).toContain('identified');
  });

  it('Draft customer update → approval request in the thread → Approve publishes it; a double click is harmless', async () => {
    const r = await declare();
    expect((await h.app.run('approver add slack:U0BOB', 'cli:admin', { platform: 'cli' })).ok).toBe(true);
    const sub = await h.interaction(
      viewSubmission({
        callbackId: 'sitrep_draft',
        meta: { incidentId: 1, channel: INCIDENTS, threadTs: r.ts },
        values: {
          status: { type: 'static_select', selected_option: { value: 'investigating' } },
          text: { type: 'plain_text_input', value: 'We are looking into checkout errors.' },
        },
      }),
    );
    expect(sub.status).toBe(200);
    await h.drain();
    const request = replies(r.ts).find((m) => blocksText(m).includes('sitrep_approve'))!;
    expect(blocksText(request)).toContain('D-1 needs approval');
    for (const id of ['sitrep_approve', 'sitrep_edit_approve', 'sitrep_reject']) expect(blocksText(request)).toContain(id);

    const click = blockAction({ user: 'U0BOB', actionId: 'sitrep_approve', value: 'D-1', channel: INCIDENTS, messageTs: request.ts, threadTs: r.ts });
    click.response_url = h.fake.responseUrl('approve');
    const res = await h.interaction(click);
    expect(res.status).toBe(200);
    const again = await h.interaction(click); // Slack redelivering the same click
    expect(again.status).toBe(200);
    await h.fake.waitFor((f) => f.responses.some((x) => x.id === 'approve'));
    expect(String(h.fake.responses.find((x) => x.id === 'approve')!.body.text)).toContain('D-1 approved and published');
    await h.drain();
    expect(h.fake.responses.filter((x) => x.id === 'approve')).toHaveLength(1);
    // The root card now shows the published text as the last customer update.
    expect(blocksText(root())).toContain('We are looking into checkout errors.');
    // The request itself is edited: decided, no buttons left to press.
    const decided = h.fake.messages.find((m) => m.ts === request.ts)!;
    expect(blocksText(decided)).toContain('D-1 approved by <@U0BOB> and published');
    expect(blocksText(decided)).not.toContain('sitrep_approve');
  });

  it('Edit & approve opens the draft text for rewording; submitting publishes the new wording', async () => {
    const r = await declare();
    await h.app.run('approver add slack:U0BOB', 'cli:admin', { platform: 'cli' });
    await h.app.run('draft INC-1 We r looking', 'slack:U0ALICE', { platform: 'slack' });
    await h.drain();
    const request = replies(r.ts).find((m) => blocksText(m).includes('sitrep_edit_approve'))!;
    await h.interaction(
      blockAction({ user: 'U0BOB', actionId: 'sitrep_edit_approve', value: 'D-1', channel: INCIDENTS, messageTs: request.ts, threadTs: r.ts }),
    );
    await h.fake.waitFor((f) => f.callsOf('views.open').length === 1);
    const view = h.fake.callsOf('views.open')[0]!.params.view as any;
    expect(view.callback_id).toBe('sitrep_approve_edit');
    expect(view.blocks[0].element.initial_value).toBe('We r looking');
    const sub = await h.interaction(
      viewSubmission({
        user: 'U0BOB',
        callbackId: 'sitrep_approve_edit',
        meta: JSON.parse(view.private_metadata),
        values: { text: { type: 'plain_text_input', value: 'We are looking into it.' } },
      }),
    );
    expect(sub.status).toBe(200);
    await h.drain();
    expect(blocksText(root())).toContain('We are looking into it.');
    expect(blocksText(h.fake.messages.find((m) => m.ts === request.ts))).toContain('approved by <@U0BOB>');
  });

  it('Reject opens a modal for the reason; the request then says who rejected it and why', async () => {
    const r = await declare();
    await h.app.run('draft INC-1 Everything is fine <!here>', 'slack:U0ALICE', { platform: 'slack' });
    await h.drain();
    const request = replies(r.ts).find((m) => blocksText(m).includes('sitrep_reject'))!;
    expect(blocksText(request)).not.toContain('<!here>');
    await h.interaction(blockAction({ actionId: 'sitrep_reject', value: 'D-1', channel: INCIDENTS, messageTs: request.ts, threadTs: r.ts }));
    await h.fake.waitFor((f) => f.callsOf('views.open').length === 1);
    const view = h.fake.callsOf('views.open')[0]!.params.view as any;
    expect(view.callback_id).toBe('sitrep_reject');
    const sub = await h.interaction(
      viewSubmission({
        callbackId: 'sitrep_reject',
        meta: JSON.parse(view.private_metadata),
        values: { reason: { type: 'plain_text_input', value: 'it is not fine' } },
      }),
    );
    expect(sub.status).toBe(200);
    await h.drain();
    const decided = h.fake.messages.find((m) => m.ts === request.ts)!;
    expect(blocksText(decided)).toContain('D-1 rejected by <@U0ALICE>');
    expect(blocksText(decided)).toContain('it is not fine');
  });

  it('Resolve opens its modal; submitting resolves and broadcasts', async () => {
    const r = await declare();
    await h.interaction(blockAction({ actionId: 'sitrep_open_resolve', value: 'INC-1', channel: INCIDENTS, messageTs: r.ts }));
    await h.fake.waitFor((f) => f.callsOf('views.open').length === 1);
    const view = h.fake.callsOf('views.open')[0]!.params.view as any;
    expect(view.callback_id).toBe('sitrep_resolve');
    await h.interaction(
      viewSubmission({ callbackId: 'sitrep_resolve', meta: JSON.parse(view.private_metadata), values: { text: { type: 'plain_text_input', value: null } } }),
    );
    expect(h.app.db.select().from(incidents).get()!.status).toBe('resolved');
    await h.drain();
    expect(replies(r.ts).at(-1)!.reply_broadcast).toBe(true);
    expect(JSON.stringify(h.fake.callsOf('chat.update').at(-1)!.params.blocks)).toContain('sitrep_reopen');
  });
});

describe('events', () => {
  function mention(text: string, threadTs: string | undefined, eventId: string) {
    const env = jsonFixture('event_callback-app_mention-channel.json');
    env.event_id = eventId;
    env.event = { ...env.event, text, user: 'U0CAROL', channel: INCIDENTS, ts: `${Date.now() / 1000}`, ...(threadTs ? { thread_ts: threadTs } : {}) };
    return env;
  }

  it('url_verification is answered with the challenge', async () => {
    const body = jsonFixture('url_verification-docs.json');
    const res = await h.event(body);
    expect(res.status).toBe(200);
    expect(res.text).toContain(body.challenge);
  });

  it('@Sitrep in an incident thread runs the command for that incident; a retried event is applied once', async () => {
    const r = await declare();
    await h.app.run('declare Another one', 'cli:x', { platform: 'cli' }); // two open incidents: the thread decides
    const env = mention('<@U02P23SK0SV> note DB failover done &amp; verified', r.ts, 'Ev0MENTION1');
    const first = await h.event(env);
    expect(first.status).toBe(200);
    expect(first.ms).toBeLessThan(ACK_BOUND_MS);
    const retry = await h.event(env, { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' });
    expect(retry.status).toBe(200);
    await h.drain();
    const notes = h.app.db.select().from(timelineEvents).where(eq(timelineEvents.kind, 'note')).all();
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ incidentId: 1, actor: 'slack:U0CAROL', text: 'DB failover done & verified' });
    expect(blocksText(replies(r.ts).at(-1))).toContain('DB failover done &amp; verified');
    const eph = h.fake.callsOf('chat.postEphemeral');
    expect(eph).toHaveLength(1);
    expect(eph[0]!.params).toMatchObject({ channel: INCIDENTS, user: 'U0CAROL', thread_ts: r.ts });
  });

  it('a 📌 on a thread message puts it on the timeline with its author and time', async () => {
    const r = await declare();
    const ts = `${Math.floor(Date.now() / 1000) - 120}.000300`;
    h.fake.addMessage({ channel: INCIDENTS, ts, thread_ts: r.ts, user: 'U0DAVE', text: 'replica lag is 40s &lt;- bad' });
    const env = jsonFixture('event_callback-reaction_added.json'); // the captured, old-style envelope
    env.event = { ...env.event, reaction: 'pushpin', user: 'U0ERIN', item: { type: 'message', channel: INCIDENTS, ts }, item_user: 'U0DAVE' };
    const res = await h.event(env);
    expect(res.status).toBe(200);
    await h.fake.waitFor((f) => f.callsOf('conversations.replies').length === 1);
    await h.event(env); // the same reaction delivered again
    await h.drain();
    const pinned = h.app.db.select().from(timelineEvents).where(eq(timelineEvents.kind, 'pinned')).all();
    expect(pinned).toHaveLength(1);
    expect(pinned[0]).toMatchObject({ incidentId: 1, actor: 'slack:U0DAVE', text: 'replica lag is 40s <- bad', occurredAt: Math.round(Number(ts) * 1000) });
    // Not echoed into the thread it came from; other reactions are ignored.
    expect(replies(r.ts).some((m) => blocksText(m).includes('replica lag'))).toBe(false);
    // 📌 on one of Sitrep's own replies adds nothing: it is already on the timeline (and is not read).
    const own = replies(r.ts)[0]!;
    env.event.item.ts = own.ts;
    await h.event(env);
    env.event.reaction = 'eyes';
    env.event.item.ts = r.ts;
    await h.event(env);
    await h.drain();
    expect(h.app.db.select().from(timelineEvents).where(eq(timelineEvents.kind, 'pinned')).all()).toHaveLength(1);
    expect(h.fake.callsOf('conversations.replies')).toHaveLength(1);
  });
});

describe('captured payloads we do not act on', () => {
  it('are acknowledged at once, never left to time out', async () => {
    const before = rowCounts(h.app.db);
    const forms = ['block_actions-static_select-message.form.txt', 'block_actions-button-message.form.txt'].map((f) => fixture(f).replace(/^\uFEFF/, ''));
    for (const body of forms) {
      const res = await h.post(body, 'application/x-www-form-urlencoded');
      expect(res.status).toBe(200);
      expect(res.ms).toBeLessThan(ACK_BOUND_MS);
    }
    for (const f of [
      'block_actions-button-docs.json',
      'view_submission-org-plain_text_input-datepicker-timepicker.json',
      'view_submission-static_select-datepicker-plain_text_input.json',
    ]) {
      const res = await h.interaction(jsonFixture(f));
      expect(res.status).toBe(200);
      expect(res.ms).toBeLessThan(ACK_BOUND_MS);
    }
    // The captured mention ("Her there.", outside any incident): told privately how to write a command.
    const res = await h.event(jsonFixture('event_callback-app_mention-channel.json'));
    expect(res.status).toBe(200);
    await h.drain();
    expect(h.fake.callsOf('chat.postEphemeral')[0]!.params).toMatchObject({ channel: 'C02NLG80TEH', user: 'U02DGLZ7ABA' });
    expect(String(h.fake.callsOf('chat.postEphemeral')[0]!.params.text)).toContain('unknown command');
    const after = rowCounts(h.app.db);
    expect({ ...after, processed_events: 0, outbox: 0 }).toEqual({ ...before, processed_events: 0, outbox: 0 });
  });
});

describe('request signing', () => {
  it('forged, stale and missing signatures get 401 and write nothing', async () => {
    const before = rowCounts(h.app.db);
    const form = new URLSearchParams(fixture('slash_command-real.form.txt'));
    form.set('command', '/incident');
    form.set('text', 'declare Forged sev:1');
    const body = form.toString();
    const now = Math.floor(Date.now() / 1000);
    const send = (headers: Record<string, string>) =>
      fetch(`${h.url}/slack/events`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
    const forged = await send({ 'x-slack-request-timestamp': String(now), 'x-slack-signature': sign(body, now, 'wrong-secret') });
    expect(forged.status).toBe(401);
    const stale = await send({ 'x-slack-request-timestamp': String(now - 6 * 60), 'x-slack-signature': sign(body, now - 6 * 60) });
    expect(stale.status).toBe(401);
    const missing = await send({});
    expect(missing.status).toBe(401);
    const future = await send({ 'x-slack-request-timestamp': String(now + 6 * 60), 'x-slack-signature': sign(body, now + 6 * 60) });
    expect(future.status).toBe(401);
    const tampered = await send({ 'x-slack-request-timestamp': String(now), 'x-slack-signature': sign(body.replace('Forged', 'Forgex'), now) });
    expect(tampered.status).toBe(401);
    // The right signature in a wrong shape: another version, cut short, with a byte more, as text.
    const good = sign(body, now);
    for (const signature of [good.replace('v0=', 'v1='), good.slice(0, -2), `${good}00`, `v0=${'zz'.repeat(32)}`, good.slice(3)]) {
      const res = await send({ 'x-slack-request-timestamp': String(now), 'x-slack-signature': signature });
      expect(res.status, signature).toBe(401);
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(rowCounts(h.app.db)).toEqual(before);
    expect(h.fake.calls).toEqual([]);
  });
});

describe('docs test vector', () => {
  it("accepts Slack's published signature when the clock says 2018", async () => {
    await h.close();
    h = await startHarness({ SLACK_SIGNING_SECRET: '8f742231b10e8888abcd99yyyzzz85a5' }, () => 1531420618_000 + 30_000);
    const body = fixture('slash_command-signed-docs-example.form.txt');
    const res = await fetch(`${h.url}/slack/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': '1531420618',
        'x-slack-signature': 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
      },
      body,
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { text: string }).text).toContain('/incident only');
  });
});

describe('a root message Slack refuses', () => {
  it('fails the thread for good instead of retrying it forever', async () => {
    h.fake.failNext('chat.postMessage', { error: 'not_in_channel' });
    await h.slash('declare Nobody invited the bot');
    await h.fake.waitFor((f) => f.responses.length === 1);
    await h.drain();
    const rows = h.app.db.select().from(outbox).orderBy(asc(outbox.id)).all();
    expect(rows.map((r) => [r.kind, r.state])).toEqual([
      ['root_post', 'dead'],
      ['thread_reply', 'dead'],
    ]);
    expect(rows[0]!.lastError).toContain('not_in_channel');
  });
});

describe('customer channels', () => {
  const inChannel = () => h.fake.messages.filter((m) => m.channel === 'C0CUSTOMERS');
  const textOf = (m: { blocks?: unknown[]; text: string }) => JSON.stringify(m.blocks ?? []) + m.text;

  it('one message per incident, kept current with chat.update, each approved update a reply in its thread; nothing pings', async () => {
    expect((await h.app.run('subscribe slack:C0CUSTOMERS', 'cli:admin', { platform: 'cli' })).ok).toBe(true);
    await declare();
    await h.app.run('update INC-1 internal detail: db-7 is on fire', 'slack:U0ALICE', { platform: 'slack' });
    const d = await h.app.run('draft INC-1 We are investigating errors <!channel> at checkout <@U0ALICE>.', 'slack:U0ALICE', { platform: 'slack' });
    expect(d.ok).toBe(true);
    await h.drain();
    expect(inChannel()).toEqual([]);
    expect((await h.app.run('approve D-1', 'slack:U0BOB', { platform: 'slack' })).ok).toBe(false); // not an approver
    await h.app.run('approver add slack:U0BOB', 'cli:admin', { platform: 'cli' });
    expect((await h.app.run('approve D-1', 'slack:U0BOB', { platform: 'slack' })).ok).toBe(true);
    await h.drain();
    let posted = inChannel();
    expect(posted).toHaveLength(2);
    const [root, first] = posted as [FakeMessage, FakeMessage];
    expect(root.thread_ts).toBeUndefined();
    expect(textOf(root)).toContain('Investigating');
    expect(textOf(root)).toContain('/incidents/INC-1|status page>');
    expect(first.thread_ts).toBe(root.ts);
    expect(textOf(first)).toContain('We are investigating errors');
    for (const m of posted) {
      expect(textOf(m)).not.toContain('<!channel>');
      expect(textOf(m)).not.toContain('<@U0ALICE>');
      expect(textOf(m)).not.toContain('db-7');
    }

    // A second update edits the one message and replies in its thread; a long body is split.
    const long = Array.from({ length: 80 }, (_, i) => `Line ${i}: the payment processor is recovering region by region.`).join('\n');
    await h.app.run(`draft INC-1 status:identified ${long}`, 'slack:U0ALICE', { platform: 'slack' });
    expect((await h.app.run('approve D-2', 'slack:U0BOB', { platform: 'slack' })).ok).toBe(true);
    await h.drain();
    posted = inChannel();
    expect(posted.filter((m) => !m.thread_ts)).toHaveLength(1);
    const replyMsgs = posted.filter((m) => m.thread_ts === root.ts);
    expect(replyMsgs).toHaveLength(2);
    const sections = (replyMsgs[1]!.blocks as Array<{ type: string; text?: { text: string } }>).filter((b) => b.type === 'section');
    expect(sections.length).toBeGreaterThan(2);
    expect(sections.every((b) => b.text!.text.length <= 3000)).toBe(true);
    expect(sections.map((b) => b.text!.text).join('\n')).toContain('Line 79:');
    const edit = h.fake.calls.filter((c) => c.method === 'chat.update' && c.params.channel === 'C0CUSTOMERS').at(-1)!;
    expect(edit.params.ts).toBe(root.ts);
    expect(JSON.stringify(edit.params.blocks)).toContain('Identified');
  });
});

describe('delivery', () => {
  it('429 with Retry-After, 5xx and ratelimited from Slack are retried until the thread is complete, in order', async () => {
    h.fake.failNext('chat.postMessage', { status: 429, retryAfter: 1 });
    h.fake.failNext('chat.postMessage', { status: 503 });
    h.fake.failNext('chat.postMessage', { error: 'ratelimited' });
    await h.slash('declare Rate limited sev:3');
    await h.fake.waitFor((f) => f.responses.length === 1);
    await h.slash('note INC-1 one');
    await h.fake.waitFor((f) => f.responses.length === 2);
    await h.drain();
    const r = root()!;
    expect(blocksText(r)).toContain('INC-1 · Rate limited');
    const texts = replies(r.ts).map((m) => blocksText(m));
    expect(texts).toHaveLength(2);
    expect(texts[0]).toContain('Declared');
    expect(texts[1]).toContain('one');
    const first = h.fake.calls.filter((c) => c.method === 'chat.postMessage');
    expect(first.slice(0, 3).map((c) => c.status)).toEqual([429, 503, 200]);
    const rows = h.app.db.select().from(outbox).orderBy(asc(outbox.id)).all();
    expect(rows.every((x) => x.state === 'delivered')).toBe(true);
    expect(rows.find((x) => x.kind === 'root_post')!.attempts).toBeGreaterThanOrEqual(3);
  });
});
