import { request } from 'node:http';
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { customerUpdates, incidents, outbox, timelineEvents } from '../../db/schema.js';
import { MAX_CUSTOMER_TEXT, MAX_TEXT } from '../../src/commands/grammar.js';
import { MAX_BODY_BYTES } from '../../src/http/router.js';
import { rowCounts } from '../helpers.js';
import { ALICE, CHANNEL, startHarness, type Harness } from './harness.js';

// Hostile input to POST /api/messages costs little and writes nothing: mention entities cannot
// amplify the text, card inputs pass the typed command's text checks, and a body over 1 MiB is
// refused with 413 before it is parsed, whether it declares its length or not.

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

/** Plain replies to people (not cards). */
const textReplies = () => h.fake.messages.filter((m) => typeof m.body.text === 'string').map((m) => m.body.text as string);

async function run(text: string) {
  const r = await h.app.run(text, 'cli:admin', { platform: 'cli' });
  if (!r.ok) throw new Error(`${text}: ${r.error.message}`);
  return r;
}

/** The tables a command changes; a refused one leaves them as they were. */
const domain = () => ({
  incidents: h.app.db.select().from(incidents).all(),
  timeline: h.app.db.select().from(timelineEvents).all(),
  drafts: h.app.db.select().from(customerUpdates).all(),
});

describe('mention entities cannot amplify the text', () => {
  it('five one-letter mention entities with 100-character ids: answered 200, the note is stored as typed', async () => {
    await run('declare Checkout errors');
    const text = 'note INC-1 a banana at a bazaar';
    const a = h.personal(text);
    // Replacing every "a" by an id full of "a"s, entity after entity, used to grow the text a
    // hundredfold per entity until building it failed.
    a.entities = Array.from({ length: 5 }, () => ({ type: 'mention', text: 'a', mentioned: { id: 'a'.repeat(100), name: 'a' } }));
    const res = await h.send(a);
    expect(res.status).toBe(200);
    await h.drain();
    const notes = h.app.db.select().from(timelineEvents).where(eq(timelineEvents.kind, 'note')).all();
    expect(notes.map((n) => n.text)).toEqual(['a banana at a bazaar']);
    expect(textReplies().at(-1)).toMatch(/INC-1/);
  });

  it('many entities for one mention tag, on a text of many tags: each tag is replaced once, output bounded', async () => {
    await run('declare Checkout errors');
    const tags = Array.from({ length: 400 }, () => '<at>a</at>').join(' ');
    const a = h.personal(`note INC-1 ${tags}`);
    // Teams sends one entity per mention in the text; 30 of them name a long id.
    a.entities = Array.from({ length: 30 }, () => ({ type: 'mention', text: '<at>a</at>', mentioned: { id: `29:${'x'.repeat(100)}`, name: 'a' } }));
    const res = await h.send(a);
    expect(res.status).toBe(200);
    await h.drain();
    const note = h.app.db.select().from(timelineEvents).where(eq(timelineEvents.kind, 'note')).get();
    // 30 tags became the person they name; the other 370 (no entity left) were dropped.
    expect(note!.text.split(' ').filter((w) => w === `teams:29:${'x'.repeat(100)}`)).toHaveLength(30);
    expect(note!.text.length).toBeLessThan(tags.length + 30 * 110);
  });

  it('a mention whose id would inject words into the command names nobody', async () => {
    await run('declare Checkout errors');
    const a = h.personal('assign INC-1 lead <at>Bob</at>');
    a.entities = [{ type: 'mention', text: '<at>Bob</at>', mentioned: { id: '29:bob lead:@mallory', name: 'Bob' } }];
    await h.send(a);
    await h.drain();
    const r = await h.app.run('show INC-1', 'cli:admin', { platform: 'cli' });
    expect(JSON.stringify(r.ok && r.reply.data)).not.toContain('mallory');
    expect(textReplies().at(-1)).toMatch(/^⚠️ /);
  });
});

describe('card inputs go through the typed command text checks', () => {
  const BAD: Array<[string, string, string]> = [
    ['a control character', 'rolled back\u0007', 'U+0007'],
    ['U+FFFF', 'rolled back \uffff', 'U+FFFF'],
    ['U+FFFE', 'rolled back \ufffe', 'U+FFFE'],
    ['U+FDD0', 'rolled back \ufdd0', 'U+FDD0'],
    ['a lone high surrogate', 'rolled back \ud800', 'U+D800'],
    ['a lone low surrogate', 'rolled back \udc00 here', 'U+DC00'],
  ];

  it.each(BAD)('Action.Execute Update with %s: one clear line in the invoke answer, nothing written', async (_name, text, cp) => {
    await run('declare Checkout errors');
    const before = rowCounts(h.app.db);
    const res = await h.send(h.execute({ sitrep: 'sitrep.update', incident: 'INC-1', text }, { rootId: '1' }));
    expect(res.status).toBe(200);
    const value = res.json().value as string;
    expect(value).toMatch(/^⚠️ the update text contains /);
    expect(value).toContain(`contains ${cp} at character`);
    expect(value).not.toContain('\n');
    expect(rowCounts(h.app.db)).toEqual(before);
  });

  it('an over-long Update is refused with its length and the limit; nothing written', async () => {
    await run('declare Checkout errors');
    const before = rowCounts(h.app.db);
    const res = await h.send(h.execute({ sitrep: 'sitrep.update', incident: 'INC-1', text: 'x'.repeat(MAX_TEXT + 1) }, { rootId: '1' }));
    expect(res.json().value).toMatch(new RegExp(`^⚠️ the update text is ${MAX_TEXT + 1} characters; the limit is ${MAX_TEXT}`));
    expect(rowCounts(h.app.db)).toEqual(before);
  });

  it('a customer-facing Draft has the customer-text limit, as typed: a 20,000-character draft is accepted, one over the limit is not', async () => {
    await run('declare Checkout errors');
    const ok = await h.send(h.execute({ sitrep: 'sitrep.draft', incident: 'INC-1', text: 'y'.repeat(20_000) }, { rootId: '1' }));
    expect(ok.json().value).toMatch(/D-1/);
    const before = domain();
    const long = await h.send(h.execute({ sitrep: 'sitrep.draft', incident: 'INC-1', text: 'y'.repeat(MAX_CUSTOMER_TEXT + 1) }, { rootId: '1' }));
    expect(long.json().value).toMatch(new RegExp(`^⚠️ the customer-facing text is ${MAX_CUSTOMER_TEXT + 1} characters; the limit is ${MAX_CUSTOMER_TEXT}`));
    expect(domain()).toEqual(before);
  });

  it.each([
    ['Draft', { sitrep: 'sitrep.draft', incident: 'INC-1', text: 'We are \uffff investigating' }, /the customer-facing text contains U\+FFFF/],
    ['Resolve', { sitrep: 'sitrep.resolve', incident: 'INC-1', text: 'Fixed\u0000' }, /the customer-facing text contains U\+0000/],
    ['Reject', { sitrep: 'sitrep.reject', draft: 'D-1', reason: 'too \ud83d vague' }, /the reason contains U\+D83D/],
  ])('Action.Submit %s with bad input: the one-line answer reaches the thread, nothing else changes', async (_name, value, line) => {
    await run('declare Checkout errors');
    await run('draft INC-1 We are investigating.');
    await h.send(h.mention('channel incidents'));
    await h.drain();
    const before = domain();
    const outboxBefore = h.app.db.select().from(outbox).all().length;
    const res = await h.send(h.submit(value, { rootId: '1', from: ALICE }));
    expect(res.status).toBe(200);
    await h.drain();
    const answer = textReplies().at(-1)!;
    expect(answer).toMatch(/^⚠️ /);
    expect(answer).toMatch(line);
    expect(answer).not.toContain('\n');
    expect(domain()).toEqual(before);
    // The only row written is that answer.
    const added = h.app.db.select().from(outbox).all().slice(outboxBefore);
    expect(added.map((r) => r.kind)).toEqual(['reply']);
    expect(h.fake.messages.filter((m) => m.conversationId === `${CHANNEL};messageid=1`).length).toBe(1);
  });
});

describe('bodies over 1 MiB are refused with 413 before parsing', () => {
  /** Sends a POST by hand and resolves with the status once the server answers, without finishing the upload. */
  function postRaw(opts: { headers: Record<string, string | number>; chunks: Buffer[] }): Promise<number> {
    return new Promise((resolve, reject) => {
      const u = new URL(`${h.url}/api/messages`);
      const req = request({
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...opts.headers },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      // The server closes the connection after its 413; a write racing that close is expected.
      req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
      req.flushHeaders();
      for (const c of opts.chunks) req.write(c);
      // The upload is left open: the answer must not wait for the rest of it.
    });
  }

  it('a declared Content-Length over 1 MiB: 413 before a byte of the body is read; nothing written', async () => {
    const before = rowCounts(h.app.db);
    const status = await postRaw({ headers: { 'content-length': MAX_BODY_BYTES + 1 }, chunks: [Buffer.from('{"type":"message"')] });
    expect(status).toBe(413);
    expect(rowCounts(h.app.db)).toEqual(before);
  });

  it('a chunked body (no Content-Length) that passes 1 MiB: 413 once it does; nothing written', async () => {
    const before = rowCounts(h.app.db);
    // A valid activity's opening, then padding inside its text until past the limit.
    const activity = JSON.stringify(h.personal('note INC-1 x'));
    const head = Buffer.from(activity.slice(0, activity.indexOf('"text":"') + 8));
    const pad = Buffer.alloc(64 * 1024, 'x');
    const chunks = [head, ...Array.from({ length: Math.ceil(MAX_BODY_BYTES / pad.length) + 1 }, () => pad)];
    const status = await postRaw({ headers: { 'transfer-encoding': 'chunked' }, chunks });
    expect(status).toBe(413);
    expect(rowCounts(h.app.db)).toEqual(before);
  });

  it('a body just under 1 MiB is read and judged on its content', async () => {
    const a = h.personal('help');
    const base = JSON.stringify(a);
    a.padding = 'x'.repeat(MAX_BODY_BYTES - base.length - 20);
    const res = await h.send(a);
    expect(res.status).toBe(200);
  });
});
