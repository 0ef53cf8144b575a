import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHANNEL, startHarness, teamsRows, type Harness } from './harness.js';

// Customer channels (`subscribe teams:<conversation id>`) and delivery through the real outbox
// worker: one card per incident kept current, each published update a reply in its thread.

const CUSTOMERS = '19:customers0000000000000000000000@thread.tacv2';

let h: Harness;
beforeEach(async () => {
  h = await startHarness({ SITREP_APPROVAL: 'off', SITREP_PUBLIC_URL: 'https://status.example.com' });
});
afterEach(async () => {
  await h.close();
});

const cardText = (m: { body: Record<string, any> } | undefined) => JSON.stringify(m?.body.attachments ?? []);

async function run(text: string) {
  const r = await h.app.run(text, 'cli:admin', { platform: 'cli' });
  if (!r.ok) throw new Error(`${text}: ${r.error.message}`);
  return r;
}

describe('customer channels', () => {
  it('a published update posts the incident card once, then each update as a reply under it, escaped', async () => {
    await h.send(h.mention('channel incidents')); // the bot learns the tenant's serviceUrl here
    await h.drain();
    await run('component add Web App');
    await run(`subscribe teams:${CUSTOMERS}`);
    await run('declare [click](http://evil) <at>everyone</at> sev:2 components:web-app=major');
    await run('draft INC-1 We are looking into it. <at>everyone</at> [click](http://evil)');
    await h.drain();

    const posts = h.fake.posts(CUSTOMERS);
    expect(posts).toHaveLength(1);
    const card = cardText(posts[0]);
    expect(card).toContain('Investigating');
    expect(card).toContain('Web App');
    expect(card).toContain('https://status.example.com/incidents/INC-1');
    const replies = h.fake.replies(CUSTOMERS, posts[0]!.id);
    expect(replies).toHaveLength(1);
    expect(cardText(replies[0])).toContain('We are looking into it.');
    const all = card + cardText(replies[0]);
    expect(all).not.toContain('<at>everyone</at>');
    expect(all).not.toContain('[click](http://evil)');
    // internal timeline detail never reaches the customer channel
    expect(all).not.toContain('Declared');

    await run('resolve INC-1 All fixed.');
    await h.drain();
    expect(h.fake.posts(CUSTOMERS)).toHaveLength(1); // still one card…
    expect(h.fake.messages.find((m) => m.id === posts[0]!.id)!.edits).toBeGreaterThanOrEqual(1); // …kept current
    expect(cardText(h.fake.messages.find((m) => m.id === posts[0]!.id))).toContain('Resolved');
    expect(h.fake.replies(CUSTOMERS, posts[0]!.id).map((m) => cardText(m))).toEqual([
      expect.stringContaining('We are looking into it.'),
      expect.stringContaining('All fixed.'),
    ]);
  });
});

describe('delivery through the outbox worker', () => {
  it('a 429 with Retry-After on the root post is retried; the card is posted once and replies follow it', async () => {
    await h.send(h.mention('channel incidents'));
    await h.drain();
    // Only the root post is refused: the answer to the mention goes out on a lane of its own, and
    // which of the two reaches Teams first is not fixed.
    const isRootPost = (c: { method: string; conversationId: string; body: Record<string, any> }) =>
      c.method === 'POST' && c.conversationId === CHANNEL && Boolean(c.body.attachments);
    h.fake.failNext({ status: 429, retryAfter: 1 }, 1, isRootPost);
    const started = Date.now();
    await h.send(h.mention('declare Checkout errors'));
    await h.drain();
    const rootCalls = h.fake.calls.filter((c) => c.method === 'POST' && c.conversationId === CHANNEL && c.body.attachments);
    expect(rootCalls.map((c) => c.status)).toEqual([429, 201]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900); // Retry-After was honoured
    const root = h.fake.posts(CHANNEL).find((m) => m.body.attachments)!;
    expect(h.fake.replies(CHANNEL, root.id).length).toBeGreaterThanOrEqual(1);
    expect(teamsRows(h.app).every((r) => r.state === 'delivered')).toBe(true);
  });

  it('a 500 is retried; a 403 is dead-lettered with the reason', async () => {
    await h.send(h.mention('channel incidents'));
    await h.drain();
    h.fake.failNext({ status: 500 });
    await h.send(h.mention('declare Checkout errors'));
    await h.drain();
    expect(h.fake.posts(CHANNEL).filter((m) => m.body.attachments)).toHaveLength(1);

    h.fake.failNext({ status: 403 });
    await run('note INC-1 forbidden one');
    await h.drain();
    const dead = teamsRows(h.app).filter((r) => r.state !== 'delivered');
    expect(dead).toHaveLength(1);
    expect(dead[0]!.lastError).toContain('403');
  });
});
