import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../src/main.js';
import type { OutboxMessage } from '../../src/mirror/target.js';
import { startFakeStatuspage, type FakeStatuspage } from '../fakes/statuspage.js';
import { testApp } from '../helpers.js';
import { startHarness, type Harness } from '../mirror/helpers.js';
import { describeTargetContract } from '../mirror/target-contract.js';

// The Statuspage target through the real outbox worker (ordering per lane, Retry-After, retries),
// and through the contract every Target implementation runs.

const envFor = (f: FakeStatuspage) => ({
  STATUSPAGE_API_KEY: f.apiKey,
  STATUSPAGE_PAGE_ID: f.pageId,
  STATUSPAGE_API_URL: f.url,
  STATUSPAGE_REQUESTS_PER_SECOND: '100',
});

describeTargetContract('Atlassian Statuspage', async () => {
  const fake = await startFakeStatuspage();
  const app: App = testApp({ ...envFor(fake), SITREP_APPROVAL: 'off' });
  const target = app.targets.find((t) => t.handles('statuspage'))!;
  return {
    target,
    handled: 'statuspage',
    unhandled: 'webhook:S-1',
    message: (over: Partial<OutboxMessage> = {}) => ({
      id: 1,
      deliveryId: 'msg_contract',
      incidentId: null,
      target: 'statuspage',
      kind: 'statuspage.incident',
      payload: { incident: 'INC-1', name: 'Checkout errors', status: 'investigating', body: 'Looking into it.', postmortem: false, components: [] },
      attempts: 1,
      createdAt: Date.now(),
      approvedAt: Date.now(),
      folded: 0,
      previousRemoteRef: null,
      ...over,
    }),
    upstream: {
      ok: () => undefined,
      fail: () => fake.script({ status: 500 }),
      rateLimit: (seconds) => fake.script({ status: 429, retryAfter: String(seconds) }),
      hang: () => fake.script({ hang: true }),
    },
    close: async () => {
      await app.close();
      await fake.close();
    },
  };
});

describe('Statuspage through the outbox worker', () => {
  let h: Harness | null = null;
  let fake: FakeStatuspage | null = null;
  afterEach(async () => {
    await h?.close();
    await fake?.close();
    h = null;
    fake = null;
  });

  it('sends every published update in order (create, PATCHes, resolve), after a rate limit and a server error', async () => {
    fake = await startFakeStatuspage({ components: ['Web App', 'SMS Routing'] });
    h = await startHarness(envFor(fake));
    await h.run('component add "Web App"');
    await h.run('component add "SMS Routing"');
    // Statuspage is rate limiting, then failing, when the incident starts: nothing may be lost or reordered.
    fake.script({ status: 429, retryAfter: '1', method: 'POST' }, { status: 502, method: 'POST' });
    await h.run('declare "Inbound SMS failing" components:sms-routing=major');
    await h.run('draft status:investigating at:2021-12-07T08:02 We are investigating failed inbound SMS.');
    await h.run('draft status:identified We found the cause: our carrier is down.');
    await h.run('draft status:monitoring components:sms-routing=degraded A fix is in place; we are monitoring.');
    await h.run('resolve SMS works again.');

    const f = fake;
    await expect.poll(() => f.incidents[0]?.status, { timeout: 15_000 }).toBe('resolved');
    expect(f.incidents).toHaveLength(1);
    expect(f.incidents[0]!.incident_updates).toEqual([
      { status: 'investigating', body: 'We are investigating failed inbound SMS.' },
      { status: 'identified', body: 'We found the cause: our carrier is down.' },
      { status: 'monitoring', body: 'A fix is in place; we are monitoring.' },
      { status: 'resolved', body: 'SMS works again.' },
    ]);
    expect(f.incidents[0]!.components).toEqual({ [f.components[1]!.id]: 'operational' });
    expect(f.violations).toEqual([]);

    // The fake has the last request once it answered it; the worker records that answer a moment later.
    const statuspageRows = () => h!.rows().filter((r) => r.target === 'statuspage');
    await expect.poll(() => statuspageRows().map((r) => r.state), { timeout: 5_000 }).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);
    const rows = statuspageRows();
    expect(rows[0]!.attempts).toBeGreaterThanOrEqual(3);
    expect(new Set(rows.map((r) => r.remoteRef))).toEqual(new Set([f.incidents[0]!.id]));
    // 429, 502, then the create; every later update PATCHed the one incident.
    const posts = f.requests.filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(3);
    const deliveries = (await h.run('deliveries INC-1')).data.deliveries as Array<{ target: string; state: string }>;
    expect(deliveries.filter((d) => d.target === 'statuspage').map((d) => d.state)).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);
  });
});
