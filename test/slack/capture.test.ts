import { afterEach, describe, expect, it } from 'vitest';
import { asc, eq } from 'drizzle-orm';
import { inbox, outbox, timelineEvents } from '../../db/schema.js';
import { rowCounts } from '../helpers.js';
import { INCIDENTS, jsonFixture, startHarness, type Harness } from './harness.js';

// Timeline capture that scales, through the real receiver: the "Add to timeline" message shortcut
// (a signed message_action payload, shaped like Slack's docs example) records the pin from the
// payload alone, and a 📌 reaction's read of the message goes through the outbox, so Slack's rate
// limit on conversations.replies delays a pin instead of dropping it.

const ACK_BOUND_MS = 3_000; // Slack's own limit; a correctness bound, not a performance target.

let h: Harness;
afterEach(async () => {
  await h.close();
});

const pins = () => h.app.db.select().from(timelineEvents).where(eq(timelineEvents.kind, 'pinned')).orderBy(asc(timelineEvents.id)).all();
const readsOf = () => h.fake.calls.filter((c) => c.method === 'conversations.replies');

async function declare(): Promise<string> {
  await h.slash('declare Checkout errors sev:2');
  await h.fake.waitFor((f) => f.responses.length > 0);
  await h.drain();
  return h.fake.messages.find((m) => m.channel === INCIDENTS && !m.thread_ts)!.ts;
}

/** Waits until every request the receiver committed has been applied (its inbox row claimed). */
async function applied(): Promise<void> {
  const end = Date.now() + 10_000;
  while (h.app.db.select().from(inbox).all().length > 0) {
    if (Date.now() > end) throw new Error('inbox not applied');
    await new Promise((r) => setTimeout(r, 20));
  }
}

let triggers = 0;
/** The docs' message_action payload, used by `user` on `message` in `channel`. */
function shortcut(opts: { channel: string; message: Record<string, unknown>; user?: string; responseId: string; triggerId?: string }) {
  const p = jsonFixture('message_action-docs.json');
  p.callback_id = 'sitrep_add_to_timeline';
  p.trigger_id = opts.triggerId ?? `13345224609.8534564800.${++triggers}`;
  p.response_url = h.fake.responseUrl(opts.responseId);
  p.channel = { id: opts.channel, name: 'incidents' };
  p.user = { ...p.user, id: opts.user ?? 'U0ERIN' };
  p.message = { ...p.message, ...opts.message };
  return p;
}

function reaction(channel: string, ts: string, eventId: string, user = 'U0ERIN') {
  const env = jsonFixture('event_callback-reaction_added.json'); // the captured, old-style envelope
  env.event_id = eventId;
  env.event = { ...env.event, reaction: 'pushpin', user, item: { type: 'message', channel, ts }, item_user: 'U0DAVE' };
  return env;
}

const answers = (id: string) => h.fake.responses.filter((r) => r.id === id).map((r) => r.body);

describe('the "Add to timeline" message shortcut', () => {
  it('records the message from the payload alone, once, and answers ephemerally', async () => {
    h = await startHarness();
    const root = await declare();
    const ts = `${Math.floor(Date.now() / 1000) - 300}.000200`;
    const payload = shortcut({
      channel: INCIDENTS,
      responseId: 'sc-1',
      message: { ts, thread_ts: root, user: 'U0DAVE', text: 'replica lag is 40s &lt;- bad' },
    });

    const res = await h.interaction(payload);
    expect(res.status).toBe(200);
    expect(res.ms).toBeLessThan(ACK_BOUND_MS);
    await h.fake.waitFor(() => answers('sc-1').length === 1);
    expect(answers('sc-1')[0]).toMatchObject({ response_type: 'ephemeral', text: ":pushpin: Added to INC-1's timeline." });
    expect(pins()).toHaveLength(1);
    expect(pins()[0]).toMatchObject({
      incidentId: 1,
      actor: 'slack:U0DAVE',
      text: 'replica lag is 40s <- bad',
      occurredAt: Math.round(Number(ts) * 1000),
      payload: { source: 'slack', channel: INCIDENTS, ts, pinnedBy: 'slack:U0ERIN' },
    });

    // The same interaction delivered again is applied once and answered once.
    await h.interaction(payload);
    await applied();
    // Someone else using it on the same message is told it is already there.
    await h.interaction(shortcut({ channel: INCIDENTS, responseId: 'sc-2', user: 'U0FRANK', message: { ts, thread_ts: root, user: 'U0DAVE', text: 'x' } }));
    await h.fake.waitFor(() => answers('sc-2').length === 1);
    expect(answers('sc-2')[0]!.text).toBe("That message is already on INC-1's timeline.");
    await h.drain();
    expect(pins()).toHaveLength(1);
    expect(answers('sc-1')).toHaveLength(1);
    // Nothing was read from Slack: the payload carried the message.
    expect(readsOf()).toEqual([]);
    expect(h.fake.calls.filter((c) => !c.valid)).toEqual([]);
  });

  it('outside an incident, or on the root card, answers one line and writes nothing', async () => {
    h = await startHarness();
    const root = await declare();
    await h.drain();
    const before = rowCounts(h.app.db);
    await h.interaction(shortcut({ channel: 'C0GENERAL', responseId: 'sc-x', message: { ts: '1700000000.000100', user: 'U0DAVE', text: 'lunch?' } }));
    await h.fake.waitFor(() => answers('sc-x').length === 1);
    expect(answers('sc-x')[0]).toMatchObject({
      response_type: 'ephemeral',
      text: "This message is not in an incident's thread or channel: use Add to timeline on a message there.",
    });
    await h.interaction(shortcut({ channel: INCIDENTS, responseId: 'sc-root', message: { ts: root, user: 'U0SITREP', text: 'INC-1' } }));
    await h.fake.waitFor(() => answers('sc-root').length === 1);
    expect(String(answers('sc-root')[0]!.text)).toContain("INC-1's own card");
    await applied();
    expect(rowCounts(h.app.db)).toEqual(before);
    expect(readsOf()).toEqual([]);
  });
});

describe('📌 reactions', () => {
  it('two pins within a minute both land: the rate-limited read is retried after its Retry-After', async () => {
    // conversations.replies as Slack limits it for new non-Marketplace apps (one call a minute),
    // with the window shortened so the test waits seconds, not a minute.
    h = await startHarness({}, undefined, { methodLimits: { 'conversations.replies': { limit: 1, windowMs: 1_500 } } });
    const root = await declare();
    const t0 = Math.floor(Date.now() / 1000) - 120;
    const first = `${t0}.000100`;
    const second = `${t0 + 1}.000200`;
    h.fake.addMessage({ channel: INCIDENTS, ts: first, thread_ts: root, user: 'U0DAVE', text: 'replica lag is 40s' });
    h.fake.addMessage({ channel: INCIDENTS, ts: second, thread_ts: root, user: 'U0CAROL', text: 'failover started' });

    expect((await h.event(reaction(INCIDENTS, first, 'Ev0PIN1'))).status).toBe(200);
    expect((await h.event(reaction(INCIDENTS, second, 'Ev0PIN2'))).status).toBe(200);
    // A redelivered event does not read (or pin) again.
    await h.event(reaction(INCIDENTS, first, 'Ev0PIN1'), { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' });
    await applied();
    await h.drain();

    expect(pins().map((p) => [p.actor, p.text, p.payload])).toEqual([
      ['slack:U0DAVE', 'replica lag is 40s', { source: 'slack', channel: INCIDENTS, ts: first, pinnedBy: 'slack:U0ERIN' }],
      ['slack:U0CAROL', 'failover started', { source: 'slack', channel: INCIDENTS, ts: second, pinnedBy: 'slack:U0ERIN' }],
    ]);
    // The second read was refused with 429 and tried again no sooner than its Retry-After (≥ 1 s).
    const reads = readsOf();
    expect(reads.map((c) => [c.params.ts, c.status])).toEqual([
      [first, 200],
      [second, 429],
      [second, 200],
    ]);
    expect(reads[2]!.at - reads[1]!.at).toBeGreaterThanOrEqual(1_000);
    const rows = h.app.db.select().from(outbox).where(eq(outbox.target, 'slack:history')).orderBy(asc(outbox.id)).all();
    expect(rows.map((r) => [r.kind, r.state, r.attempts])).toEqual([
      ['pin_read', 'delivered', 1],
      ['pin_read', 'delivered', 2],
    ]);
  });

  it('is not read for a channel without incidents, nor for Sitrep\u2019s own replies', async () => {
    h = await startHarness();
    const root = await declare();
    const own = h.fake.messages.find((m) => m.thread_ts === root)!;
    await h.event(reaction('C0GENERAL', '1700000000.000100', 'Ev0ELSE'));
    await h.event(reaction(INCIDENTS, own.ts, 'Ev0OWN'));
    await applied();
    await h.drain();
    expect(readsOf()).toEqual([]);
    expect(h.app.db.select().from(outbox).where(eq(outbox.target, 'slack:history')).all()).toEqual([]);
    expect(pins()).toEqual([]);
  });
});
