import { afterEach, describe, expect, it } from 'vitest';
import { asc, eq } from 'drizzle-orm';
import { timelineEvents } from '../../db/schema.js';
import { rowCounts } from '../helpers.js';
import { ALICE, BOB, CHANNEL, jsonFixture, startHarness, type Harness } from './harness.js';

// "Add to timeline" as a Teams message action, through POST /api/messages: the docs' fetchTask
// invoke from a channel thread opens a dialog naming the incident, and the submitAction it leads to
// records the message (carried in messagePayload, nothing read from Teams) with the one pin verb.

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const pins = () => h!.app.db.select().from(timelineEvents).where(eq(timelineEvents.kind, 'pinned')).orderBy(asc(timelineEvents.id)).all();

let seq = 0;
/** The docs' message-action invoke, used by `from` on message `messageId` in the thread under `rootId`. */
function messageAction(
  name: 'composeExtension/fetchTask' | 'composeExtension/submitAction',
  opts: { rootId: string; messageId: string; from?: typeof ALICE; author?: { id: string; displayName: string }; html?: string; id?: string },
) {
  const a = jsonFixture('invoke-composeExtension_fetchTask-message-channel-thread-docs.json');
  a.name = name;
  a.id = opts.id ?? `f:action-${++seq}`;
  a.serviceUrl = h!.fake.serviceUrl;
  a.from = { ...(opts.from ?? ALICE) };
  a.conversation.id = `${CHANNEL};messageid=${opts.rootId}`;
  a.channelData.channel.id = CHANNEL;
  a.value.commandId = 'addToTimeline';
  const m = a.value.messagePayload;
  m.id = opts.messageId;
  m.replyToId = opts.messageId === opts.rootId ? null : opts.rootId;
  m.createdDateTime = '2021-01-19T12:52:24.833Z';
  if (opts.author) m.from.user = { ...m.from.user, ...opts.author };
  if (opts.html !== undefined) m.body.content = opts.html;
  if (name === 'composeExtension/submitAction') a.value.data = { sitrepPin: 'confirm' };
  return a;
}

async function declare(): Promise<string> {
  await h!.send(h!.mention('channel incidents'));
  await h!.drain();
  await h!.send(h!.mention('declare Checkout errors sev:2 started:2021-01-19T12:00:00Z at:2021-01-19T12:01:00Z'));
  await h!.drain();
  return h!.fake.posts(CHANNEL).find((m) => m.body.attachments)!.id;
}

describe('the "Add to timeline" message action', () => {
  it('fetchTask opens a dialog naming the incident; submitAction records the pin once and answers in the invoke', async () => {
    h = await startHarness();
    const root = await declare();
    const html = '<div><div><at id="0">Bob</at> - replica lag is 40s &lt;- bad &amp; rising</div>\n</div>';
    const opts = { rootId: root, messageId: '1611060799999', from: ALICE, author: { id: BOB.aadObjectId, displayName: 'Bob' }, html };

    const fetched = await h.send(messageAction('composeExtension/fetchTask', opts));
    expect(fetched.status).toBe(200);
    const task = fetched.json().task;
    expect(task.type).toBe('continue');
    const dialog = JSON.stringify(task.value.card);
    expect(task.value.card.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(dialog).toContain("INC-1's timeline?");
    expect(dialog).toContain('replica lag is 40s <\u200b- bad & rising'); // escaped for the card: no `<` starts a tag
    expect(dialog).toContain('"Action.Submit"');
    expect(pins()).toEqual([]); // opening the dialog records nothing

    const submit = messageAction('composeExtension/submitAction', opts);
    const res = await h.send(submit);
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ task: { type: 'message', value: "📌 Added to INC-1's timeline." } });
    expect(pins()).toHaveLength(1);
    expect(pins()[0]).toMatchObject({
      incidentId: 1,
      actor: `teams:${BOB.aadObjectId}`,
      text: 'Bob - replica lag is 40s <- bad & rising',
      occurredAt: Date.parse('2021-01-19T12:52:24.833Z'),
      payload: { source: 'teams', channel: CHANNEL, ts: '1611060799999', pinnedBy: `teams:${ALICE.id}` },
    });

    // The same invoke redelivered, and the action used again by someone else: still one pin.
    expect((await h.send(submit)).status).toBe(200);
    const again = await h.send(messageAction('composeExtension/submitAction', { ...opts, from: BOB }));
    expect(again.json().task.value).toBe("That message is already on INC-1's timeline.");
    expect(pins()).toHaveLength(1);
  });

  it('the author using it on their own message is named by their Teams id', async () => {
    h = await startHarness();
    const root = await declare();
    await h.send(
      messageAction('composeExtension/submitAction', {
        rootId: root,
        messageId: '1611060700001',
        from: BOB,
        author: { id: BOB.aadObjectId, displayName: 'Bob' },
      }),
    );
    expect(pins()[0]).toMatchObject({ actor: `teams:${BOB.id}`, payload: { pinnedBy: `teams:${BOB.id}` } });
  });

  it('outside an incident thread, or on the root card, answers one line and writes nothing', async () => {
    h = await startHarness();
    const root = await declare();
    await h.drain();
    const before = rowCounts(h.app.db);
    for (const name of ['composeExtension/fetchTask', 'composeExtension/submitAction'] as const) {
      const elsewhere = await h.send(messageAction(name, { rootId: '1600000000000', messageId: '1600000000001' }));
      expect(elsewhere.json()).toEqual({
        task: { type: 'message', value: "This message is not in an incident's thread: use Add to timeline on a message there." },
      });
      const card = await h.send(messageAction(name, { rootId: root, messageId: root }));
      expect(card.json().task.value).toBe("That is INC-1's own card: use Add to timeline on a message in its thread.");
    }
    expect(rowCounts(h.app.db)).toEqual(before);
  });

  it('with inbound auth on, an unauthenticated submitAction gets 401 and writes nothing', async () => {
    h = await startHarness({
      MICROSOFT_APP_ID: '00000000-0000-0000-0000-00000000b07',
      MICROSOFT_APP_PASSWORD: 'x',
      MICROSOFT_APP_TENANT_ID: '11111111-1111-1111-1111-111111111111',
    });
    const before = rowCounts(h.app.db);
    const res = await h.send(messageAction('composeExtension/submitAction', { rootId: '1', messageId: '2' }));
    expect(res.status).toBe(401);
    expect(rowCounts(h.app.db)).toEqual(before);
  });
});
