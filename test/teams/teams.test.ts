import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { incidentThreads, processedEvents, settings, timelineEvents } from '../../db/schema.js';
import { rowCounts } from '../helpers.js';
import { ALICE, BOB, CHANNEL, fixture, startHarness, teamsRows, type Harness } from './harness.js';

// End to end through real HTTP: Teams activities → POST /api/messages → commands on a real SQLite
// database → outbox → the Teams target → the fake Bot Connector.

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

const cardText = (m: { body: Record<string, any> } | undefined) => JSON.stringify(m?.body.attachments ?? []);
/** Plain replies to people (not cards). */
const textReplies = () => h.fake.messages.filter((m) => typeof m.body.text === 'string');

async function bindChannel() {
  const res = await h.send(h.mention('channel incidents'));
  expect(res.status).toBe(200);
  await h.drain();
}

/** Approval power comes from the approvers list alone, which an admin (here the CLI) changes. */
async function makeApprover(who = ALICE) {
  const r = await h.app.run(`approver add teams:${who.id}`, 'cli:admin', { platform: 'cli' });
  expect(r.ok).toBe(true);
}

async function declare(text = 'declare Checkout errors sev:2', from = ALICE) {
  await bindChannel();
  const res = await h.send(h.mention(text, { from }));
  expect(res.status).toBe(200);
  await h.drain();
  const root = h.fake.posts(CHANNEL).find((m) => m.body.attachments);
  expect(root).toBeDefined();
  return root!;
}

describe('commands by @mention and in personal chat', () => {
  it('a mention runs the command (mention stripped) and the answer is a reply in the same thread', async () => {
    const a = h.mention('incident help');
    const res = await h.send(a);
    expect(res.status).toBe(200);
    await h.drain();
    const replies = textReplies();
    expect(replies).toHaveLength(1);
    expect(replies[0]!.conversationId).toBe(a.conversation.id); // …;messageid=<the post>
    expect(replies[0]!.body.text).toContain('declare <title>');
    expect(replies[0]!.body.textFormat).toBe('plain');
    // auth off: no token was fetched or sent
    expect(h.fake.calls.every((c) => c.authorization === undefined)).toBe(true);
  });

  it('a personal chat message runs the same language; errors are one line that says how to write it', async () => {
    const a = h.personal('declare');
    await h.send(a);
    await h.drain();
    const reply = textReplies()[0]!;
    expect(reply.conversationId).toBe(a.conversation.id);
    expect(reply.body.text).toMatch(/^⚠️ /);
    expect(reply.body.text).not.toContain('\n');
    expect(reply.body.text).toMatch(/declare <title>|help/);
  });

  it('`channel incidents` binds the Teams channel and remembers its serviceUrl', async () => {
    await bindChannel();
    const bound = h.app.db.select().from(settings).where(eq(settings.key, 'incidents_channel:teams')).get();
    expect(bound?.value).toBe(CHANNEL);
    const ref = h.app.db
      .select()
      .from(settings)
      .where(eq(settings.key, `teams:ref:${CHANNEL}`))
      .get();
    expect(JSON.parse(ref!.value)).toMatchObject({ serviceUrl: h.fake.serviceUrl, conversationId: CHANNEL });
    expect(textReplies()[0]!.body.text).toContain('New incidents will post their root message');
  });

  it('`channel incidents` in a personal chat is refused: it binds a team channel', async () => {
    await h.send(h.personal('channel incidents'));
    await h.drain();
    expect(textReplies()[0]!.body.text).toMatch(/^⚠️ .*run it in a Slack or Teams channel/);
    expect(h.app.db.select().from(settings).where(eq(settings.key, 'incidents_channel:teams')).get()).toBeUndefined();
  });

  it('the actor is the Teams user id (teams:29:…), as SITREP_ADMINS names people', async () => {
    await declare('declare Checkout errors sev:2');
    const ev = h.app.db.select().from(timelineEvents).get()!;
    expect(ev.actor).toBe('teams:29:alice');
  });

  it('replays the captured thread-reply activity verbatim (auth off): accepted, answered in its thread', async () => {
    const raw = fixture('message-channel-thread-reply-mention.json').replace(
      'https://smba.trafficmanager.net/amer/50612dbb-0237-4969-b378-8d42590f9c00/',
      h.fake.serviceUrl,
    );
    const res = await h.post(raw);
    expect(res.status).toBe(200);
    await h.drain();
    const reply = textReplies()[0]!;
    expect(reply.conversationId).toBe('19:6848757105754c8981c67612732d9aa7@thread.tacv2;messageid=1759881511856');
    expect(reply.body.text).toMatch(/^⚠️ .*"reply"/); // "reply to thread" is not a command: says so, in one line
  });
});

describe('the incident in the bound channel', () => {
  it('declare posts the root card top-level, timeline events reply in its thread, changes edit the root', async () => {
    const root = await declare();
    expect(root.conversationId).toBe(CHANNEL); // a new top-level post, not a reply
    const card = cardText(root);
    expect(card).toContain('INC-1');
    expect(card).toContain('Checkout errors');
    expect(card).toContain('sev2');
    expect(card).toContain('investigating');
    expect(card).toContain('teams:29:alice'); // lead defaults to the declarer
    expect(card).toContain('Last customer update');
    expect(card).toContain('Duration');
    for (const t of ['"Update"', '"Draft customer update"', '"Resolve"']) expect(card).toContain(t);
    expect(card).toContain('Action.Execute');

    const thread = h.app.db.select().from(incidentThreads).get()!;
    expect(thread).toMatchObject({ incidentId: 1, platform: 'teams', channel: CHANNEL, rootRef: root.id });
    expect(h.fake.replies(CHANNEL, root.id).filter((m) => m.body.attachments)).toHaveLength(1); // the "Declared" event

    // A mention in the incident's thread needs no INC-n.
    await h.send(h.mention('note DB failover started', { rootId: root.id }));
    await h.send(h.mention('update status:identified Primary failed over', { rootId: root.id }));
    await h.drain();
    const events = h.fake.replies(CHANNEL, root.id).filter((m) => m.body.attachments);
    expect(events.map((m) => cardText(m))).toEqual([
      expect.stringContaining('Declared'),
      expect.stringContaining('DB failover started'),
      expect.stringContaining('Primary failed over'),
    ]);
    // The root card was edited in place with the new status.
    const edits = h.fake.calls.filter((c) => c.method === 'PUT' && c.activityId === root.id && c.status === 200);
    expect(edits.length).toBeGreaterThanOrEqual(1);
    expect(edits.at(-1)!.conversationId).toBe(CHANNEL);
    expect(cardText(h.fake.messages.find((m) => m.id === root.id))).toContain('identified');
    // One lane: every row of the incident shares one target.
    const lanes = new Set(
      teamsRows(h.app)
        .filter((r) => r.incidentId === 1)
        .map((r) => r.target),
    );
    expect([...lanes]).toEqual([`teams:thread:${CHANNEL}`]);
  });

  it('the Update button (Action.Execute) runs the command and answers in the invoke response', async () => {
    const root = await declare();
    const res = await h.send(h.execute({ sitrep: 'sitrep.update', incident: 'INC-1', text: 'Rolled back deploy 42' }, { rootId: root.id }));
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: expect.stringContaining('INC-1 updated') });
    await h.drain();
    expect(h.fake.replies(CHANNEL, root.id).some((m) => cardText(m).includes('Rolled back deploy 42'))).toBe(true);
  });

  it('approve a draft via Action.Submit: approval card posted, decided, root shows the customer update', async () => {
    const root = await declare();
    await makeApprover(ALICE);
    await h.send(h.mention('draft We are investigating elevated checkout errors.', { rootId: root.id, from: BOB }));
    await h.drain();
    const approval = h.fake.replies(CHANNEL, root.id).find((m) => cardText(m).includes('needs approval'))!;
    expect(approval).toBeDefined();
    expect(cardText(approval)).toContain('"Approve"');
    expect(cardText(approval)).toContain('"Reject"');

    const res = await h.send(h.submit({ sitrep: 'sitrep.approve', draft: 'D-1' }, { rootId: root.id, from: ALICE }));
    expect(res.status).toBe(200);
    await h.drain();
    // the approval card was edited to its outcome, without buttons
    const decided = h.fake.messages.find((m) => m.id === approval.id)!;
    expect(decided.edits).toBe(1);
    expect(cardText(decided)).toContain('approved and published');
    expect(cardText(decided)).not.toContain('Action.Execute');
    expect(cardText(h.fake.messages.find((m) => m.id === root.id))).toContain('We are investigating elevated checkout errors.');
    // the person who clicked hears the result in the thread
    expect(textReplies().some((m) => m.conversationId === `${CHANNEL};messageid=${root.id}` && /D-1/.test(m.body.text))).toBe(true);
  });

  it('approve via Action.Execute invoke; a retried invoke is applied once', async () => {
    const root = await declare();
    await makeApprover(ALICE);
    await h.send(h.mention('draft Checkout is degraded.', { rootId: root.id, from: BOB }));
    await h.drain();
    const invoke = h.execute({ sitrep: 'sitrep.approve', draft: 'D-1' }, { rootId: root.id, from: ALICE });
    const first = await h.send(invoke);
    expect(first.json().value).toMatch(/D-1/);
    const again = await h.send(invoke);
    expect(again.status).toBe(200);
    expect(again.json().value).toBe('Already done.');
    await h.drain();
    const published = h.app.db.select().from(timelineEvents).where(eq(timelineEvents.kind, 'published')).all();
    expect(published).toHaveLength(1);
  });

  it('a redelivered message activity is applied once (processed_events, same transaction)', async () => {
    const root = await declare();
    const a = h.mention('note only once', { rootId: root.id });
    await h.send(a);
    await h.send(a);
    await h.drain();
    const notes = h.app.db.select().from(timelineEvents).where(eq(timelineEvents.kind, 'note')).all();
    expect(notes).toHaveLength(1);
    expect(
      h.app.db
        .select()
        .from(processedEvents)
        .all()
        .filter((e) => e.eventId.endsWith(`|${a.id}`)),
    ).toHaveLength(1);
  });

  it('reject via the Reject form (Action.Submit with the reason input)', async () => {
    const root = await declare();
    await makeApprover(ALICE);
    await h.send(h.mention('draft Too much detail here.', { rootId: root.id, from: BOB }));
    await h.drain();
    await h.send(h.submit({ sitrep: 'sitrep.reject', draft: 'D-1', reason: 'too internal' }, { rootId: root.id, from: ALICE }));
    await h.drain();
    expect(h.app.db.select().from(timelineEvents).where(eq(timelineEvents.kind, 'draft_rejected')).all()).toHaveLength(1);
  });
});

describe('escaping', () => {
  it('<at>everyone</at> and [click](http://evil) in user text stay inert on cards', async () => {
    const root = await declare('declare [click](http://evil) <at>everyone</at> *bold*');
    await h.send(h.mention('note see [click](http://evil) and <at>everyone</at>', { rootId: root.id }));
    await h.drain();
    const all = h.fake.messages
      .filter((m) => m.body.attachments)
      .map((m) => cardText(m))
      .join('\n');
    expect(all).not.toContain('[click](http://evil)');
    expect(all).not.toContain('<at>everyone</at>');
    expect(all).not.toContain('"entities"'); // no mention entities: nothing can ping anyone
    expect(all).toContain('\\\\[click\\\\](http://evil)'); // shown as typed, not a link
    expect(all).toContain('\\\\*bold\\\\*');
  });
});

describe('mentions of people', () => {
  it('`assign lead <at>Bob</at>` names Bob by the same ref he acts as', async () => {
    await h.send(h.personal('help', { from: BOB })); // Teams told us Bob's ids once
    const root = await declare();
    const a = h.mention('assign lead <at>Bob</at>', { rootId: root.id });
    a.entities.push({ type: 'mention', text: '<at>Bob</at>', mentioned: { id: BOB.id, name: 'Bob' } });
    await h.send(a);
    await h.drain();
    const r = await h.app.run('show INC-1', 'cli:admin', { platform: 'cli' });
    expect(r.ok && JSON.stringify(r.reply.data)).toContain('teams:29:bob');
  });

  it('answers to people are plain text where <at>… cannot mention anyone', async () => {
    await bindChannel();
    await h.send(h.mention('declare <at>everyone</at> is down'));
    await h.drain();
    const texts = textReplies()
      .map((m) => m.body.text as string)
      .join('\n');
    expect(texts).toContain('INC-1');
    expect(texts).not.toContain('<at>everyone</at>');
  });
});

describe('malformed and unexpected input', () => {
  it('the docs messageBack example (invalid JSON, trailing comma) is refused with 400 and nothing is written', async () => {
    const before = rowCounts(h.app.db);
    const res = await h.post(fixture('message-value-messageBack-channel-thread-docs.INVALID-trailing-comma.json'));
    expect(res.status).toBe(400);
    expect(rowCounts(h.app.db)).toEqual(before);
  });

  it('a body that is not an activity is refused with 400', async () => {
    const before = rowCounts(h.app.db);
    const res = await h.send({ type: 'message', text: 'hi' });
    expect(res.status).toBe(400);
    expect(rowCounts(h.app.db)).toEqual(before);
  });

  it('replays the captured Action.Execute invoke (not one of our buttons): answered, nothing written', async () => {
    const before = rowCounts(h.app.db);
    const raw = fixture('invoke-adaptiveCard_action-Action.Execute-personal.json').replace(
      'https://smba.trafficmanager.net/amer/56653e9d-2158-46ee-90d7-675c39642038/',
      h.fake.serviceUrl,
    );
    const res = await h.post(raw);
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({
      statusCode: 200,
      type: 'application/vnd.microsoft.activity.message',
      value: expect.stringContaining('not one of Sitrep'),
    });
    expect(rowCounts(h.app.db)).toEqual(before);
  });

  it('conversationUpdate (bot added to a team) is accepted and remembers the serviceUrl', async () => {
    const a = JSON.parse(fixture('conversationUpdate-bot-added-to-team-channel-docs.json')) as Record<string, any>;
    a.serviceUrl = h.fake.serviceUrl;
    const res = await h.send(a);
    expect(res.status).toBe(200);
    const ref = h.app.db.select().from(settings).where(eq(settings.key, 'teams:ref:19:0b7f32667e064dd9b25d7969801541f4@thread.tacv2')).get();
    expect(ref).toBeDefined();
  });
});
