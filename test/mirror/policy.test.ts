import { describe, expect, it } from 'vitest';
import { classifyHost, classifyIp, checkWebhookUrl } from '../../src/mirror/address.js';
import {
  CircuitBreakers,
  MAX_RETRY_AFTER_MS,
  MAX_SCHEDULED_RETRY_AFTER_MS,
  nextDelay,
  SCHEDULE_JITTER,
  scheduledRetryDelay,
  WEBHOOK_RETRY_SCHEDULE_MS,
} from '../../src/mirror/policy.js';
import { signWebhook, verifyWebhook } from '../../src/mirror/signing.js';
import { parseRetryAfter } from '../../adapters/webhook/target.js';
import { delayNoticeFor, foldNoticeFor } from '../../src/mirror/worker.js';

describe('backoff', () => {
  const opts = { baseMs: 1_000, maxMs: 60_000, jitter: 0.5 };
  it('doubles per attempt within the jitter band and stops at the cap', async () => {
    for (const [attempts, full] of [
      [1, 1_000],
      [2, 2_000],
      [3, 4_000],
      [7, 60_000],
      [40, 60_000],
    ] as const) {
      expect(nextDelay(attempts, undefined, opts, () => 0)).toBe(full);
      expect(nextDelay(attempts, undefined, opts, () => 1)).toBe(full / 2);
    }
  });
  it('never retries sooner than Retry-After, and caps an absurd one', async () => {
    expect(nextDelay(1, 30_000, opts, () => 0)).toBe(30_000);
    expect(nextDelay(1, 10 * 24 * 3600_000, opts, () => 0)).toBe(MAX_RETRY_AFTER_MS);
  });
  it('reads Retry-After as seconds or as an HTTP date', async () => {
    const now = Date.parse('2026-11-25T12:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Wed, 25 Nov 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('Standard Webhooks retry schedule', () => {
  const S = 1_000;
  const M = 60 * S;
  const H = 60 * M;
  // The wait after failed attempt n (attempt 1 is immediate): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.
  const WAITS = [5 * S, 5 * M, 30 * M, 2 * H, 5 * H, 10 * H, 14 * H, 20 * H, 24 * H];

  it("is the contract's schedule: ten attempts over about three days", async () => {
    expect(WEBHOOK_RETRY_SCHEDULE_MS).toEqual(WAITS);
    expect(SCHEDULE_JITTER).toBe(0.1);
    const total = WAITS.reduce((a, b) => a + b, 0);
    expect(total).toBe(75 * H + 35 * M + 5 * S);
  });

  it.each(WAITS.map((w, i) => [i + 1, w] as const))('after %i failed attempts waits %i ms, jittered by at most ±10%', (attempts, wait) => {
    expect(scheduledRetryDelay(attempts, undefined, () => 0.5)).toBe(wait);
    expect(scheduledRetryDelay(attempts, undefined, () => 0)).toBe(Math.round(wait * 0.9));
    expect(scheduledRetryDelay(attempts, undefined, () => 0.999999)).toBeLessThanOrEqual(Math.round(wait * 1.1));
    for (let i = 0; i < 200; i++) {
      const d = scheduledRetryDelay(attempts, undefined, Math.random) as number;
      expect(d).toBeGreaterThanOrEqual(Math.round(wait * 0.9));
      expect(d).toBeLessThanOrEqual(Math.round(wait * 1.1));
    }
  });

  it('gives up after the tenth attempt', async () => {
    expect(scheduledRetryDelay(9, undefined, () => 0.5)).toBe(24 * H);
    expect(scheduledRetryDelay(10, undefined, () => 0.5)).toBe('give-up');
    expect(scheduledRetryDelay(11, 5 * S, () => 0.5)).toBe('give-up');
  });

  it('spreads a fan-out: many rows failing together come back at different times', async () => {
    const seen = new Set(Array.from({ length: 1_000 }, () => scheduledRetryDelay(2, undefined, Math.random)));
    expect(seen.size).toBeGreaterThan(900);
  });

  it('honours Retry-After: never sooner than asked, even past the step, and a bogus huge one is capped', async () => {
    expect(scheduledRetryDelay(2, 10 * M, () => 0.5)).toBe(10 * M); // asked for more than the 5 min step
    expect(scheduledRetryDelay(2, 10 * M, () => 0.999)).toBe(10 * M);
    expect(scheduledRetryDelay(3, 1 * S, () => 0.5)).toBe(30 * M); // asked for less: the step stands
    expect(scheduledRetryDelay(1, 0, () => 0)).toBe(Math.round(5 * S * 0.9));
    expect(scheduledRetryDelay(1, 365 * 24 * H, () => 0.5)).toBe(MAX_SCHEDULED_RETRY_AFTER_MS);
    expect(MAX_SCHEDULED_RETRY_AFTER_MS).toBe(24 * H);
  });
});

describe('circuit breaker', () => {
  it('opens after the threshold, lets one probe through after the cooldown, closes on success', async () => {
    let t = 0;
    const b = new CircuitBreakers({ threshold: 2, cooldownMs: 100, maxCooldownMs: 400 }, () => t);
    expect(b.tryAcquire('k')).toBe(true);
    b.failure('k');
    expect(b.tryAcquire('k')).toBe(true);
    b.failure('k');
    expect(b.isOpen('k')).toBe(true);
    expect(b.tryAcquire('k')).toBe(false);
    expect(b.tryAcquire('other')).toBe(true); // one upstream's trouble is its own
    t = 100;
    expect(b.tryAcquire('k')).toBe(true); // the probe
    expect(b.tryAcquire('k')).toBe(false); // only one
    b.failure('k'); // probe failed: open twice as long
    t = 250;
    expect(b.tryAcquire('k')).toBe(false);
    t = 300;
    expect(b.tryAcquire('k')).toBe(true);
    b.success('k');
    expect(b.isOpen('k')).toBe(false);
    expect(b.tryAcquire('k')).toBe(true);
  });
});

describe('notices', () => {
  it('fold and delay wording', async () => {
    expect(foldNoticeFor(0)).toBeNull();
    expect(foldNoticeFor(1)).toBe('This message folds in 1 earlier update.');
    const approved = Date.parse('2021-12-07T16:54:00Z'); // 08:54 PST
    const opts = { delayNoticeMs: 5 * 60_000, timezone: 'America/Los_Angeles' };
    expect(delayNoticeFor(approved, approved + 5 * 60_000, opts)).toBeNull();
    expect(delayNoticeFor(approved, approved + 5 * 60_000 + 1, opts)).toBe('Delayed: originally posted 08:54 PST');
    expect(delayNoticeFor(approved, approved + 24 * 3600_000, opts)).toBe('Delayed: originally posted Dec 07 08:54 PST');
    expect(delayNoticeFor(null, approved, opts)).toBeNull();
  });
});

describe('webhook address policy', () => {
  it.each([
    ['8.8.8.8', 'public'],
    ['127.0.0.1', 'loopback'],
    ['0.0.0.0', 'loopback'],
    ['::1', 'loopback'],
    ['10.2.3.4', 'private'],
    ['172.20.0.1', 'private'],
    ['192.168.0.1', 'private'],
    ['fd12::1', 'private'],
    ['169.254.1.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['169.254.169.254', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:a9fe:a9fe', 'metadata'],
    ['::ffff:7f00:1', 'loopback'],
    ['2606:4700::1111', 'public'],
  ])('%s is %s', (ip, cls) => {
    expect(classifyIp(ip)).toBe(cls);
  });
  it('knows metadata and loopback names without resolving them', async () => {
    expect(classifyHost('metadata.google.internal')).toBe('metadata');
    expect(classifyHost('METADATA.GOOGLE.INTERNAL.')).toBe('metadata');
    expect(classifyHost('api.localhost')).toBe('loopback');
    expect(classifyHost('[::1]')).toBe('loopback');
    expect(classifyHost('hooks.example.com')).toBe('public');
  });
  it('normalises odd IPv4 spellings before judging them', async () => {
    const p = { publicOnly: false, allowLinkLocal: false };
    expect(checkWebhookUrl('http://0xA9FEA9FE/', p).ok).toBe(false);
    expect(checkWebhookUrl('http://169.254.169.254.', p).ok).toBe(false);
    expect(checkWebhookUrl('http://0251.0376.0251.0376/', p).ok).toBe(false);
    expect(checkWebhookUrl('https://hooks.example.com/a?b=c', p).ok).toBe(true);
  });
});

describe('Standard Webhooks signature', () => {
  it("matches the specification's example", async () => {
    // From the Standard Webhooks reference libraries' tests.
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const sig = signWebhook(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
    expect(sig).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
    expect(verifyWebhook(secret, { id: 'msg_p5jXN8AQM9LWM0D4loKWxJek', timestamp: '1614265330', signature: `v1,bogus ${sig}` }, '{"test": 2432232314}')).toBe(
      true,
    );
    expect(verifyWebhook(secret, { id: 'msg_p5jXN8AQM9LWM0D4loKWxJek', timestamp: '1614265330', signature: sig }, '{"test": 2432232315}')).toBe(false);
  });
});
