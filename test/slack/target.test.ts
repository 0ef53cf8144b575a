import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSlackWebApi, type SlackWebApi } from '../../adapters/slack/web-api.js';
import { toDeliveryResult } from '../../adapters/slack/target.js';
import { startFakeSlackApi, type FakeSlackApi } from '../fakes/slack-api.js';

// The Slack client (adapters/slack/web-api.ts) must neither retry nor wait on its own: a 429 comes back
// at once as a `retry` carrying Retry-After, so the outbox worker schedules it (and other lanes
// keep moving). Table-driven over what Slack answers.

const TOKEN = 'xoxb-target-test';
let fake: FakeSlackApi;
let web: SlackWebApi;
beforeEach(async () => {
  fake = await startFakeSlackApi({ token: TOKEN });
  web = createSlackWebApi({ token: TOKEN, apiUrl: fake.apiUrl });
});
afterEach(async () => {
  await fake.close();
});

const cases: Array<[string, Parameters<FakeSlackApi['failNext']>[1] | null, ReturnType<typeof toDeliveryResult>]> = [
  ['429 with Retry-After', { status: 429, retryAfter: 7 }, { kind: 'retry', error: 'rate limited (429)', retryAfterMs: 7000 }],
  ['HTTP 500', { status: 500 }, { kind: 'retry', error: 'HTTP 500' }],
  ['HTTP 503', { status: 503 }, { kind: 'retry', error: 'HTTP 503' }],
  ['ok:false ratelimited', { error: 'ratelimited' }, { kind: 'retry', error: 'ratelimited' }],
  ['ok:false internal_error', { error: 'internal_error' }, { kind: 'retry', error: 'internal_error' }],
  ['ok:false channel_not_found', { error: 'channel_not_found' }, { kind: 'failed', error: 'channel_not_found' }],
  ['ok:false is_archived', { error: 'is_archived' }, { kind: 'failed', error: 'is_archived' }],
];

describe('Slack delivery results', () => {
  for (const [name, failure, expected] of cases) {
    it(`${name} → ${expected.kind}, after exactly one request`, async () => {
      fake.failNext('chat.postMessage', failure!);
      const started = Date.now();
      const err = await web.chat.postMessage({ channel: 'C0X', text: 'hello' }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).not.toBeNull();
      expect(toDeliveryResult(err)).toEqual(expected);
      expect(fake.calls.filter((c) => c.method === 'chat.postMessage')).toHaveLength(1);
      expect(Date.now() - started).toBeLessThan(5_000); // did not sit out the Retry-After itself
    });
  }

  it('an unreachable API is a retry, not a failure', async () => {
    const dead = createSlackWebApi({ token: TOKEN, apiUrl: 'http://127.0.0.1:1/api/' });
    const err = await dead.chat.postMessage({ channel: 'C0X', text: 'hello' }).catch((e: unknown) => e);
    expect(toDeliveryResult(err).kind).toBe('retry');
  });

  it('the fake refuses calls that lack a required parameter, as Slack does', async () => {
    const err = (await web.chat.update({ channel: 'C0X', text: 'no ts' } as never).catch((e: unknown) => e)) as { data?: { error?: string } };
    expect(err.data?.error).toBe('invalid_arguments');
    expect(fake.calls[0]).toMatchObject({ method: 'chat.update', valid: false });
  });
});

describe('the Slack client on the wire', () => {
  /** A stand-in that answers every call with the given status and bytes. */
  async function answering(
    status: number,
    body: string | Buffer,
    headers: Record<string, string> = {},
  ): Promise<{ url: string; server: Server; seen: Array<{ auth?: string; type?: string; body: string }> }> {
    const seen: Array<{ auth?: string; type?: string; body: string }> = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ auth: req.headers.authorization, type: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`, server, seen };
  }

  it('sends the token as a Bearer header, writes as JSON and reads form-encoded, as Slack expects', async () => {
    await web.chat.postMessage({ channel: 'C0X', text: 'a & b', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*hi*' } }] });
    expect(fake.calls[0]).toMatchObject({ method: 'chat.postMessage', valid: true });
    expect(fake.calls[0]!.params).toMatchObject({ channel: 'C0X', text: 'a & b', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*hi*' } }] });
    const raw = await answering(200, '{"ok":true,"ts":"1.2"}');
    try {
      const res = await createSlackWebApi({ token: TOKEN, apiUrl: raw.url }).chat.postMessage({ channel: 'C0X', text: 'x' });
      expect(res.ts).toBe('1.2');
      expect(raw.seen[0]).toMatchObject({ auth: `Bearer ${TOKEN}`, type: 'application/json; charset=utf-8' });
      expect(JSON.parse(raw.seen[0]!.body)).toEqual({ channel: 'C0X', text: 'x' });
      await createSlackWebApi({ token: TOKEN, apiUrl: raw.url }).conversations.replies({ channel: 'C0X', ts: '1.2', inclusive: true, limit: 1 });
      expect(raw.seen[1]).toMatchObject({ type: 'application/x-www-form-urlencoded', body: 'channel=C0X&ts=1.2&inclusive=true&limit=1' });
    } finally {
      raw.server.close();
    }
  });

  for (const [name, status, body] of [
    ['an answer that is not JSON', 200, '<html>proxy error</html>'],
    ['an answer without "ok"', 200, '{"ts":"1.2"}'],
    ['an answer over 4 MiB', 200, Buffer.alloc(5 * 1024 * 1024, 0x20)],
  ] as const) {
    it(`${name} is a retry, not a crash`, async () => {
      const raw = await answering(status, body);
      try {
        const err = await createSlackWebApi({ token: TOKEN, apiUrl: raw.url })
          .chat.postMessage({ channel: 'C0X', text: 'x' })
          .catch((e: unknown) => e);
        expect(toDeliveryResult(err).kind).toBe('retry');
      } finally {
        raw.server.close();
      }
    });
  }
});
