import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { incidents } from '../../db/schema.js';
import { rowCounts } from '../helpers.js';
import { BOB, CHANNEL, startHarness, type Harness, type Person } from './harness.js';

// A private incident from Teams: its root and thread go to the channel bound with
// `channel private-incidents`, never to the incidents channel; without one the declare is refused
// in one line that says how to bind it, and nothing is written.

const PRIVATE = '19:privatechannel0000000000000000@thread.tacv2';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

const textReplies = () => h.fake.messages.filter((m) => typeof m.body.text === 'string').map((m) => String(m.body.text));

async function say(text: string, opts: { channel?: string; from?: Person } = {}) {
  const before = textReplies().length;
  expect((await h.send(h.mention(text, opts))).status).toBe(200);
  await h.drain();
  return textReplies().slice(before).join('\n');
}

describe('a private incident in Teams', () => {
  it('without a private-incidents channel is refused in one line saying how to bind one, writing nothing', async () => {
    await say('channel incidents');
    const before = rowCounts(h.app.db);
    const answer = await say('declare DB credentials leak visibility:private');
    expect(answer).toMatch(/^⚠️ .*`channel private-incidents`/);
    expect(answer).not.toContain('\n');
    expect(h.app.db.select().from(incidents).all()).toEqual([]);
    const after = rowCounts(h.app.db);
    // Only the bookkeeping of the refused activity itself (its dedupe key and its answer) is added.
    expect({ ...after, processed_events: 0, outbox: 0 }).toEqual({ ...before, processed_events: 0, outbox: 0 });
  });

  it('goes to the private-incidents channel; the incidents channel is untouched; only members see it', async () => {
    await say('channel incidents');
    expect(await say('channel private-incidents', { channel: PRIVATE })).toContain('Private incidents will post');
    const posted = h.fake.posts(CHANNEL).length;
    expect(await say('declare DB credentials leak visibility:private', { channel: PRIVATE })).toContain('INC-1 declared');
    const root = h.fake.posts(PRIVATE).find((m) => m.body.attachments);
    expect(JSON.stringify(root?.body.attachments)).toContain('DB credentials leak');
    expect(h.fake.posts(CHANNEL).length).toBe(posted); // nothing new in the shared channel
    expect(JSON.stringify(h.fake.posts(CHANNEL))).not.toContain('credentials');

    // Bob in the incidents channel is not a member: the same words as for an id never used.
    const hidden = await say('show INC-1', { from: BOB });
    const never = await say('show INC-5', { from: BOB });
    expect(hidden).toMatch(/INC-1 not found/);
    expect(hidden).toBe(never.replace('INC-5', 'INC-1'));
    // In the private channel he is.
    expect(await say('show INC-1', { from: BOB, channel: PRIVATE })).toContain('DB credentials leak');
  });

  it('typed in a shared channel, answers name nothing private: everyone there reads them', async () => {
    await say('channel incidents');
    await say('channel private-incidents', { channel: PRIVATE });
    const declared = await say('declare DB credentials leak visibility:private'); // in the shared channel
    expect(declared).toContain('INC-1 declared as a private incident');
    expect(declared).not.toContain('credentials');
    expect(JSON.stringify(h.fake.posts(CHANNEL))).not.toContain('credentials');
    expect(JSON.stringify(h.fake.posts(PRIVATE))).toContain('DB credentials leak');
    // Even its declarer is answered as for an id never used there; in the private channel, or in
    // a personal chat, she sees it.
    expect(await say('show INC-1')).toMatch(/INC-1 not found/);
    expect(await say('list all')).not.toContain('credentials');
    expect(await say('show INC-1', { channel: PRIVATE })).toContain('DB credentials leak');
    const before = textReplies().length;
    await h.send(h.personal('show INC-1'));
    await h.drain();
    expect(textReplies().slice(before).join('\n')).toContain('DB credentials leak');
  });

  it('`channel private-incidents` is for Teams; in Slack each private incident has its own channel', async () => {
    const r = await h.app.run('channel private-incidents', 'slack:U0ALICE', { platform: 'slack', channel: 'C0X' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/private channel of its own/);
  });
});
