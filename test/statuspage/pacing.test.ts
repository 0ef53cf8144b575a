import { afterEach, describe, expect, it } from 'vitest';
import { KeyBucket, StatuspageClient, keyFingerprint } from '../../adapters/statuspage-io/client.js';
import { startFakeStatuspage, type FakeStatuspage } from '../fakes/statuspage.js';
import { startHarness, waitUntil, type Harness } from '../mirror/helpers.js';

// Statuspage allows one request per second per API key. Sitrep keeps to it with a token bucket
// per key rather than learning it from 429s: here the fake Statuspage keeps that limit itself
// (429 with Retry-After for a request that comes sooner after the key's last accepted one, each
// counted), and a run of updates through the real worker must not provoke a single 429.

let fake: FakeStatuspage | undefined;
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  await fake?.close();
  h = fake = undefined;
});

const envFor = (f: FakeStatuspage) => ({ STATUSPAGE_API_KEY: f.apiKey, STATUSPAGE_PAGE_ID: f.pageId, STATUSPAGE_API_URL: f.url, SITREP_APPROVAL: 'off' });

describe('Statuspage requests are paced per API key', () => {
  it('the fake refuses a second request within the second, so the test below means something', async () => {
    fake = await startFakeStatuspage({ rateLimit: { perSecond: 1 } });
    const get = () => fetch(`${fake!.url}/pages/${fake!.pageId}/components`, { headers: { authorization: `OAuth ${fake!.apiKey}` } });
    expect((await get()).status).toBe(200);
    const refused = await get();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(fake.rateLimited()).toBe(1);
  });

  it('several updates across two incidents go out in order without a single 429', { timeout: 60_000 }, async () => {
    fake = await startFakeStatuspage({ components: ['Web App', 'SMS Routing'], rateLimit: { perSecond: 1 } });
    // A row may wait in the bucket behind the other lane's requests: give attempts the production
    // budget's order of magnitude rather than the fast tests' 1.5 s, so none is cut short.
    h = await startHarness(envFor(fake), { tune: { attemptTimeoutMs: 15_000 } });
    await h.run('component add "Web App"');
    await h.run('component add "SMS Routing"');
    // Two incidents are two lanes the worker may run side by side: they share the key's bucket.
    await h.run('declare "Inbound SMS failing" components:sms-routing=major');
    await h.run('declare "Checkout errors" components:web-app=partial');
    await h.run('draft INC-1 status:investigating We are investigating failed inbound SMS.');
    await h.run('draft INC-2 status:investigating We are investigating checkout errors.');
    await h.run('draft INC-1 status:identified Our carrier is down.');
    await h.run('draft INC-2 status:identified A bad deploy.');
    await h.run('resolve INC-1 SMS works again.');
    await h.run('resolve INC-2 Checkout works again.');

    const f = fake;
    const x = h;
    await waitUntil(
      () =>
        x
          .rows()
          .filter((r) => r.target === 'statuspage')
          .every((r) => r.state === 'delivered'),
      50_000,
      'every Statuspage row delivered',
    );
    expect(f.rateLimited()).toBe(0);
    expect(f.violations).toEqual([]);
    expect(
      x
        .rows()
        .filter((r) => r.target === 'statuspage')
        .every((r) => r.attempts === 1),
    ).toBe(true);
    expect(f.incidents).toHaveLength(2);
    const updates = (name: string) => f.incidents.find((i) => i.name === name)!.incident_updates.map((u) => u.status);
    expect(updates('Inbound SMS failing')).toEqual(['investigating', 'identified', 'resolved']);
    expect(updates('Checkout errors')).toEqual(['investigating', 'identified', 'resolved']);
    // The fake counted on arrival; Sitrep's requests never came closer together than a second.
    const gaps = f.arrivals.slice(1).map((t, i) => t - f.arrivals[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1_000);
  });

  it('the pace key names the API key by a fingerprint, never the key itself', async () => {
    fake = await startFakeStatuspage();
    h = await startHarness(envFor(fake));
    const target = h.app.targets.find((t) => t.handles('statuspage'))!;
    const pace = target.pace?.({ target: 'statuspage', kind: 'statuspage.incident', payload: {}, incidentId: 1 });
    expect(pace).toEqual({ key: `statuspage:${keyFingerprint(fake.apiKey)}`, intervalMs: 1_000 });
    expect(pace!.key).not.toContain(fake.apiKey);
    expect(keyFingerprint(fake.apiKey)).toMatch(/^[0-9a-f]{16}$/);
    expect(keyFingerprint('another-key')).not.toBe(keyFingerprint(fake.apiKey));
  });

  it('an attempt that ends while waiting for the bucket sends nothing', async () => {
    fake = await startFakeStatuspage({ rateLimit: { perSecond: 1 } });
    const client = new StatuspageClient({ apiUrl: fake.url, apiKey: fake.apiKey, bucket: new KeyBucket(60_000) });
    const never = new AbortController().signal;
    expect((await client.request('GET', `/pages/${fake.pageId}/components`, undefined, never)).kind).toBe('ok');
    const ac = new AbortController();
    const waiting = client.request('GET', `/pages/${fake.pageId}/components`, undefined, ac.signal);
    setTimeout(() => ac.abort(new Error('timeout')), 50);
    expect(await waiting).toMatchObject({ kind: 'retry', error: expect.stringMatching(/not sent/) });
    expect(fake.requests).toHaveLength(1);
  });

  it('a 429 all the same (another client on the key) is a retry with its Retry-After, and holds the bucket that long', async () => {
    fake = await startFakeStatuspage();
    fake.script({ status: 429, retryAfter: '2' });
    const client = new StatuspageClient({ apiUrl: fake.url, apiKey: fake.apiKey });
    const never = new AbortController().signal;
    expect(await client.request('GET', `/pages/${fake.pageId}/components`, undefined, never)).toMatchObject({ kind: 'retry', retryAfterMs: 2_000 });
    expect((await client.request('GET', `/pages/${fake.pageId}/components`, undefined, never)).kind).toBe('ok');
    expect(fake.arrivals[1]! - fake.arrivals[0]!).toBeGreaterThanOrEqual(2_000);
  });
});
