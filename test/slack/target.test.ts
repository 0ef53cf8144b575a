import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { webApi } from '@slack/bolt';
import { slackClientOptions } from '../../adapters/slack/index.js';
import { toDeliveryResult } from '../../adapters/slack/target.js';
import { startFakeSlackApi, type FakeSlackApi } from '../fakes/slack-api.js';

// The WebClient as Sitrep configures it must neither retry nor wait on its own: a 429 comes back
// at once as a `retry` carrying Retry-After, so the outbox worker schedules it (and other lanes
// keep moving). Table-driven over what Slack answers.

const TOKEN = 'xoxb-target-test';
let fake: FakeSlackApi;
let web: webApi.WebClient;
beforeEach(async () => {
  fake = await startFakeSlackApi({ token: TOKEN });
  web = new webApi.WebClient(TOKEN, slackClientOptions(fake.apiUrl));
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
    const dead = new webApi.WebClient(TOKEN, slackClientOptions('http://127.0.0.1:1/api/'));
    const err = await dead.chat.postMessage({ channel: 'C0X', text: 'hello' }).catch((e: unknown) => e);
    expect(toDeliveryResult(err).kind).toBe('retry');
  });

  it('the fake refuses calls that lack a required parameter, as Slack does', async () => {
    const err = (await web.chat.update({ channel: 'C0X', text: 'no ts' } as never).catch((e: unknown) => e)) as { data?: { error?: string } };
    expect(err.data?.error).toBe('invalid_arguments');
    expect(fake.calls[0]).toMatchObject({ method: 'chat.update', valid: false });
  });
});
