import { and, asc, desc, eq, isNotNull } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { outbox } from '../../db/schema.js';
import { createStatuspageOutlet, createStatuspageTarget } from '../../adapters/statuspage-io/index.js';
import { parseRetryAfter } from '../../adapters/statuspage-io/client.js';
import type { App } from '../../src/main.js';
import type { DeliveryResult, OutboxMessage, Target } from '../../src/mirror/target.js';
import { createLogger } from '../../src/logger.js';
import { startFakeStatuspage, type FakeStatuspage } from '../fakes/statuspage.js';
import { testApp } from '../helpers.js';
import { runOk } from './support.js';

// The Atlassian Statuspage target, driven directly (one attempt per call, the way the outbox
// worker calls it) against a fake that checks every request against the official OpenAPI spec.

let fake: FakeStatuspage;
let app: App;
let target: Target;

function env(f: FakeStatuspage, key = f.apiKey) {
  return { STATUSPAGE_API_KEY: key, STATUSPAGE_PAGE_ID: f.pageId, STATUSPAGE_API_URL: f.url, STATUSPAGE_REQUESTS_PER_SECOND: '100', SITREP_APPROVAL: 'off' };
}

beforeEach(async () => {
  fake = await startFakeStatuspage({ components: ['Web App', 'Mobile Apps', 'SMS Routing'] });
  app = testApp(env(fake));
  target = app.targets.find((t) => t.handles('statuspage'))!;
  for (const name of ['Web App', 'Mobile Apps', 'SMS Routing']) await runOk(app, `component add "${name}"`, 'cli:admin');
});
afterEach(async () => {
  await app.close();
  await fake.close();
});

/** One worker step: the oldest waiting `statuspage` row, tried once, its outcome recorded. */
async function attempt(t: Target = target, signal: AbortSignal = new AbortController().signal): Promise<DeliveryResult> {
  const row = app.db
    .select()
    .from(outbox)
    .where(and(eq(outbox.target, 'statuspage'), eq(outbox.state, 'pending')))
    .orderBy(asc(outbox.id))
    .get();
  if (!row) throw new Error('nothing to deliver');
  const previous = app.db
    .select({ ref: outbox.remoteRef })
    .from(outbox)
    .where(and(eq(outbox.target, 'statuspage'), eq(outbox.incidentId, row.incidentId!), eq(outbox.state, 'delivered'), isNotNull(outbox.remoteRef)))
    .orderBy(desc(outbox.id))
    .get();
  const msg: OutboxMessage = {
    id: row.id,
    deliveryId: row.deliveryId,
    incidentId: row.incidentId,
    target: row.target,
    kind: row.kind,
    payload: row.payload,
    attempts: row.attempts + 1,
    createdAt: row.createdAt,
    approvedAt: row.approvedAt,
    folded: 0,
    previousRemoteRef: previous?.ref ?? null,
  };
  const result = await t.deliver(msg, signal);
  const set =
    result.kind === 'delivered'
      ? { state: 'delivered' as const, remoteRef: result.remoteRef ?? null, attempts: msg.attempts }
      : result.kind === 'retry'
        ? { attempts: msg.attempts, lastError: result.error }
        : { state: 'dead' as const, attempts: msg.attempts, lastError: result.error };
  app.db.update(outbox).set(set).where(eq(outbox.id, row.id)).run();
  return result;
}

const compId = (name: string) => fake.components.find((c) => c.name === name)!.id;

describe('Statuspage target', () => {
  it('creates the incident on the first published update, tagged with our id, components mapped by name', async () => {
    await runOk(app, 'declare "Checkout errors" components:web-app=major,sms-routing=partial', 'cli:alice');
    expect(app.db.select().from(outbox).where(eq(outbox.target, 'statuspage')).all()).toHaveLength(0);
    await runOk(app, 'draft status:investigating We are investigating errors at checkout.', 'cli:alice');

    const r = await attempt();
    expect(r.kind).toBe('delivered');
    expect(fake.violations).toEqual([]);
    expect(fake.incidents).toHaveLength(1);
    const inc = fake.incidents[0]!;
    expect(r).toEqual({ kind: 'delivered', remoteRef: inc.id });
    expect(inc).toMatchObject({
      name: 'Checkout errors',
      status: 'investigating',
      metadata: { sitrep: { incident_id: 'INC-1' } },
      components: { [compId('Web App')]: 'major_outage', [compId('SMS Routing')]: 'partial_outage' },
    });
    expect(inc.component_ids.sort()).toEqual([compId('Web App'), compId('SMS Routing')].sort());
    expect(inc.incident_updates).toEqual([{ status: 'investigating', body: 'We are investigating errors at checkout.' }]);
    const post = fake.requests.find((q) => q.method === 'POST')!;
    expect(post.headers.authorization).toBe(`OAuth ${fake.apiKey}`);
    expect(post.template).toBe('/pages/{page_id}/incidents');
  });

  it('PATCHes later updates (status, body, components) and resolves; `component map` wins over the name', async () => {
    await runOk(app, 'declare "Checkout errors" components:web-app=major', 'cli:alice');
    await runOk(app, 'draft status:investigating Looking into it.', 'cli:alice');
    await attempt();
    await runOk(app, 'component map mobile-apps mobilexxxxx1', 'cli:admin');
    await runOk(app, 'draft status:identified components:web-app=partial,mobile-apps=degraded Found a bad deploy.', 'cli:alice');
    expect((await attempt()).kind).toBe('delivered');
    await runOk(app, 'resolve All fixed.', 'cli:alice');
    expect((await attempt()).kind).toBe('delivered');

    expect(fake.violations).toEqual([]);
    expect(fake.incidents).toHaveLength(1);
    const inc = fake.incidents[0]!;
    const patches = fake.requests.filter((q) => q.method === 'PATCH');
    expect(patches).toHaveLength(2);
    expect(patches.every((p) => p.path === `/pages/${fake.pageId}/incidents/${inc.id}`)).toBe(true);
    expect(patches[0]!.body.incident).toMatchObject({
      status: 'identified',
      body: 'Found a bad deploy.',
      components: { [compId('Web App')]: 'partial_outage', mobilexxxxx1: 'degraded_performance' },
    });
    expect(patches[1]!.body.incident).toMatchObject({
      status: 'resolved',
      body: 'All fixed.',
      components: { [compId('Web App')]: 'operational', mobilexxxxx1: 'operational' },
    });
    expect(inc.status).toBe('resolved');
    expect(inc.incident_updates.map((u) => u.status)).toEqual(['investigating', 'identified', 'resolved']);
  });

  it('internal updates and notes never reach Statuspage', async () => {
    await runOk(app, 'declare "Checkout errors" components:web-app=major', 'cli:alice');
    await runOk(app, 'update status:identified SECRET internal detail', 'cli:alice');
    await runOk(app, 'note SECRET note', 'cli:alice');
    expect(app.db.select().from(outbox).where(eq(outbox.target, 'statuspage')).all()).toHaveLength(0);
    await runOk(app, 'draft Public words only.', 'cli:alice');
    await attempt();
    expect(JSON.stringify(fake.requests.map((r) => r.body))).not.toContain('SECRET');
  });

  it.each([
    [429, '7', 7000],
    [420, '3', 3000],
  ] as const)('%i is a rate limit: retry after Retry-After (%s s), then succeed', async (status, header, ms) => {
    await runOk(app, 'declare "Checkout errors" components:web-app=major', 'cli:alice');
    await runOk(app, 'draft Looking into it.', 'cli:alice');
    fake.script({ status, retryAfter: header });
    const first = await attempt();
    expect(first).toEqual({ kind: 'retry', error: expect.stringContaining(`rate limited (${status})`), retryAfterMs: ms });
    expect((await attempt()).kind).toBe('delivered');
    expect(fake.incidents).toHaveLength(1);
    expect(fake.violations).toEqual([]);
  });

  it('Retry-After may be an HTTP date', async () => {
    const now = Date.parse('2026-11-25T12:00:00Z');
    expect(parseRetryAfter('Wed, 25 Nov 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('nonsense', now)).toBeUndefined();
  });

  it('5xx answers are retried', async () => {
    await runOk(app, 'declare "Checkout errors" components:web-app=major', 'cli:alice');
    await runOk(app, 'draft Looking into it.', 'cli:alice');
    fake.script({ status: 500 }, { status: 503 });
    expect((await attempt()).kind).toBe('retry');
    expect((await attempt()).kind).toBe('retry');
    expect((await attempt()).kind).toBe('delivered');
    expect(fake.incidents).toHaveLength(1);
  });

  it('a create whose answer never came is looked up by metadata before creating again: no duplicate incident', async () => {
    await runOk(app, 'declare "Checkout errors" components:web-app=major', 'cli:alice');
    await runOk(app, 'draft status:investigating Looking into it.', 'cli:alice');
    // Statuspage creates the incident but the answer never arrives; the attempt times out.
    fake.script({ hang: true, apply: true, method: 'POST' });
    const ac = new AbortController();
    const pending = attempt(target, ac.signal);
    await expect.poll(() => fake.incidents.length).toBe(1);
    ac.abort(new Error('timeout'));
    expect((await pending).kind).toBe('retry');

    const second = await attempt();
    expect(second).toEqual({ kind: 'delivered', remoteRef: fake.incidents[0]!.id });
    expect(fake.incidents).toHaveLength(1);
    expect(fake.requests.map((r) => r.method)).toEqual(['GET', 'POST', 'GET', 'PATCH']);
    expect(fake.requests[2]!.path).toBe(`/pages/${fake.pageId}/incidents`);
    expect(fake.violations).toEqual([]);
  });

  it('a timeout before Statuspage acted: the retry finds nothing and creates once', async () => {
    await runOk(app, 'declare "Checkout errors"', 'cli:alice');
    await runOk(app, 'draft Looking into it.', 'cli:alice');
    fake.script({ hang: true, method: 'POST' });
    const ac = new AbortController();
    const pending = attempt(target, ac.signal);
    await expect.poll(() => fake.requests.some((r) => r.method === 'POST')).toBe(true);
    ac.abort(new Error('timeout'));
    expect((await pending).kind).toBe('retry');
    expect((await attempt()).kind).toBe('delivered');
    expect(fake.incidents).toHaveLength(1);
    expect(fake.incidents[0]!.metadata).toEqual({ sitrep: { incident_id: 'INC-1' } });
  });

  it('a wrong API key fails without retrying (401)', async () => {
    const bad = createStatuspageTarget({ db: app.db, log: createLogger('silent'), now: app.now, apiUrl: fake.url, apiKey: 'wrong', pageId: fake.pageId });
    await runOk(app, 'declare "Checkout errors"', 'cli:alice');
    await runOk(app, 'draft Looking into it.', 'cli:alice');
    const r = await attempt(bad);
    expect(r).toEqual({ kind: 'failed', error: expect.stringContaining('401') });
    expect(fake.violations).toEqual([expect.stringContaining('Authorization is not "OAuth <key>"')]);
  });

  it('a published postmortem is put on the Statuspage incident and published', async () => {
    await runOk(app, 'declare "Checkout errors" components:web-app=major', 'cli:alice');
    await runOk(app, 'draft Looking into it.', 'cli:alice');
    await attempt();
    const outlet = createStatuspageOutlet();
    const ctx = app.contextFor('cli:alice', { platform: 'cli' });
    await app.store.transaction((tx) =>
      outlet.onPublished!(
        tx,
        {
          updateId: 99,
          incidentId: 1,
          status: 'resolved',
          body: 'What happened and what we changed.',
          displayAt: app.now(),
          approvedAt: app.now(),
          isPostmortem: true,
        },
        ctx,
      ),
    );
    expect((await attempt()).kind).toBe('delivered');
    expect(fake.incidents[0]).toMatchObject({ postmortem_body: 'What happened and what we changed.', postmortem_published: true });
    expect(fake.violations).toEqual([]);
  });

  it('looks the component list up again for a name it does not know once the list is a minute old', async () => {
    const clock = { now: Date.now() };
    const t = createStatuspageTarget({
      db: app.db,
      log: createLogger('silent'),
      now: () => clock.now,
      apiUrl: fake.url,
      apiKey: fake.apiKey,
      pageId: fake.pageId,
    });
    fake.components = fake.components.filter((c) => c.name !== 'Mobile Apps');
    await runOk(app, 'declare "Checkout errors" components:web-app=major,mobile-apps=partial', 'cli:alice');
    await runOk(app, 'draft Looking into it.', 'cli:alice');
    await attempt(t);
    expect(fake.incidents[0]!.components).toEqual({ [compId('Web App')]: 'major_outage' });
    fake.components.push({ id: 'mobilenew001', name: 'Mobile Apps', status: 'operational' });
    clock.now += 2 * 60_000;
    await runOk(app, 'draft Still looking.', 'cli:alice');
    await attempt(t);
    expect(fake.incidents[0]!.components).toEqual({ [compId('Web App')]: 'major_outage', mobilenew001: 'partial_outage' });
    expect(fake.requests.filter((r) => r.path.endsWith('/components'))).toHaveLength(2);
  });

  it('is not registered without STATUSPAGE_API_KEY and STATUSPAGE_PAGE_ID', async () => {
    const plain = testApp({ SITREP_APPROVAL: 'off' });
    expect(plain.targets.some((t) => t.handles('statuspage'))).toBe(false);
    await runOk(plain, 'declare "X"', 'cli:a');
    await runOk(plain, 'draft words', 'cli:a');
    expect(plain.db.select().from(outbox).where(eq(outbox.target, 'statuspage')).all()).toHaveLength(0);
    await plain.close();
  });
});

describe('the fake Statuspage holds requests to the OpenAPI spec', () => {
  it('reports unknown fields, bad enum values, undeclared query parameters, unknown paths and bad auth', async () => {
    const call = (method: string, path: string, body?: unknown, auth = `OAuth ${fake.apiKey}`) =>
      fetch(`${fake.url}${path}`, {
        method,
        headers: { authorization: auth, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    const page = `/pages/${fake.pageId}`;
    expect((await call('POST', `${page}/incidents`, { incident: { name: 'x', stauts: 'investigating' } })).status).toBe(400);
    expect((await call('POST', `${page}/incidents`, { incident: { name: 'x', components: { abcdefabcdef: 'broken' } } })).status).toBe(400);
    expect((await call('POST', `${page}/incidents`, { incident: { status: 'investigating' } })).status).toBe(400);
    expect((await call('POST', `${page}/incidents`, { incident: { name: 'x', metadata: { sitrep: 'INC-1' } } })).status).toBe(400);
    expect((await call('GET', `${page}/incidents?sort=asc`)).status).toBe(400);
    expect((await call('GET', `${page}/nothing`)).status).toBe(404);
    expect((await call('GET', `${page}/incidents`, undefined, `Bearer ${fake.apiKey}`)).status).toBe(401);
    expect(fake.violations).toEqual([
      expect.stringContaining('body.incident.stauts: not a field'),
      expect.stringContaining('body.incident.components.abcdefabcdef: "broken" is not one of'),
      expect.stringContaining('body.incident.name: required'),
      expect.stringContaining('metadata: top-level values must be objects'),
      expect.stringContaining('query sort: not a parameter'),
      expect.stringContaining('no such operation'),
      expect.stringContaining('Authorization is not "OAuth <key>"'),
    ]);
    expect(
      (
        await call('POST', `${page}/incidents`, {
          incident: { name: 'x', components: { abcdefabcdef: 'major_outage' }, metadata: { sitrep: { incident_id: 'INC-1' } } },
        })
      ).status,
    ).toBe(201);
    expect(fake.violations).toHaveLength(7);
  });
});
