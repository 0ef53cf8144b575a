import { afterEach, describe, expect, it } from 'vitest';
import { loadMaintenanceEvents } from '../../db/queries/maintenances.js';
import { noticeFor } from '../../src/domain/maintenance.js';
import { startFakeStatuspage, type FakeStatuspage, type RecordedRequest } from '../fakes/statuspage.js';
import { movableClock, startHarness, waitUntil, type Harness } from '../mirror/helpers.js';

// Scheduled maintenance mirrored to Atlassian Statuspage as a scheduled incident, through the real
// server's outbox worker and scheduler (injected clock) to the fake Statuspage on 127.0.0.1, which
// checks every request against the OpenAPI spec, including what the spec says of scheduled
// incidents (their statuses, their window). Nothing goes before the announcement is approved; the
// announcement creates the incident, every later text PATCHes that same one.

let fake: FakeStatuspage | undefined;
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  await fake?.close();
  h = fake = undefined;
});

const MIN = 60_000;
const envFor = (f: FakeStatuspage) => ({
  STATUSPAGE_API_KEY: f.apiKey,
  STATUSPAGE_PAGE_ID: f.pageId,
  STATUSPAGE_API_URL: f.url,
  STATUSPAGE_REQUESTS_PER_SECOND: '100',
  SITREP_APPROVAL: 'required',
});
/** `starts:`/`ends:` as typed (SITREP_TIMEZONE is UTC here). */
const typed = (ms: number) => new Date(ms).toISOString().slice(0, 16);
const iso = (ms: number) => new Date(ms).toISOString();

async function setup(opts: { rateLimit?: boolean; attemptTimeoutMs?: number } = {}) {
  fake = await startFakeStatuspage({ components: ['API', 'Web App'], ...(opts.rateLimit ? { rateLimit: { perSecond: 1 } } : {}) });
  const clock = movableClock();
  // Attempts get a generous budget unless a test needs one cut short: a slow machine must not turn
  // one request into two.
  h = await startHarness(opts.rateLimit ? { ...envFor(fake), STATUSPAGE_REQUESTS_PER_SECOND: '1' } : envFor(fake), {
    now: clock.now,
    tune: { attemptTimeoutMs: opts.attemptTimeoutMs ?? 15_000 },
  });
  await h.run('component add API');
  await h.run('component add "Web App"');
  await h.run('approver add @carol');
  // A whole minute two hours from now, and an hour and a half of work.
  const startsAt = Math.ceil((clock.now() + 120 * MIN) / MIN) * MIN;
  const endsAt = startsAt + 90 * MIN;
  return { fake, h, clock, startsAt, endsAt, apiId: fake.components.find((c) => c.name === 'API')!.id };
}

const writes = (f: FakeStatuspage) => f.requests.filter((r) => r.method === 'POST' || r.method === 'PATCH');
const maintenanceRows = (x: Harness) => x.rows().filter((r) => r.target.startsWith('statuspage|M-'));
const allDelivered = (x: Harness, n: number) =>
  waitUntil(() => maintenanceRows(x).length === n && maintenanceRows(x).every((r) => r.state === 'delivered'), 10_000, `${n} Statuspage rows delivered`);

describe('scheduled maintenance on Atlassian Statuspage', () => {
  it('the announcement, once approved, creates a scheduled incident with its window; the start, an update and the completion PATCH that same incident', async () => {
    const { fake: f, h: x, clock, startsAt, endsAt, apiId } = await setup();
    await x.run(`maintenance schedule "Database upgrade" starts:${typed(startsAt)} ends:${typed(endsAt)} components:api We are upgrading our database.`);
    // A draft: nothing is enqueued, nothing is sent.
    expect(maintenanceRows(x)).toEqual([]);
    expect(f.requests).toEqual([]);

    await x.run('approve D-1', 'cli:carol');
    await allDelivered(x, 1);
    expect(writes(f)).toHaveLength(1);
    const post = writes(f)[0]!;
    expect(post).toMatchObject({ method: 'POST', template: '/pages/{page_id}/incidents' });
    expect(post.body).toEqual({
      incident: {
        name: 'Database upgrade',
        status: 'scheduled',
        scheduled_for: iso(startsAt),
        scheduled_until: iso(endsAt),
        scheduled_auto_in_progress: true,
        scheduled_auto_completed: true,
        auto_transition_to_maintenance_state: true,
        auto_transition_to_operational_state: true,
        auto_transition_deliver_notifications_at_start: false,
        auto_transition_deliver_notifications_at_end: false,
        scheduled_remind_prior: false,
        body: 'We are upgrading our database.',
        components: { [apiId]: 'operational' },
        component_ids: [apiId],
        deliver_notifications: true,
        metadata: { sitrep: { maintenance_id: 'M-1' } },
      },
    });
    expect(f.incidents).toHaveLength(1);
    const remote = f.incidents[0]!;
    expect(remote).toMatchObject({ scheduled: true, impact: 'maintenance', status: 'scheduled', scheduled_for: iso(startsAt) });
    expect(maintenanceRows(x)[0]!.remoteRef).toBe(remote.id);

    // The scheduler starts it at starts: (the clock moved there), and its notice PATCHes the same incident.
    clock.advance(startsAt - clock.now() + 1_000);
    await allDelivered(x, 2);
    await x.run('maintenance update M-1 status:verifying The upgrade is done; we are checking it.');
    await x.run('approve D-3', 'cli:carol');
    await allDelivered(x, 3);
    await x.run('maintenance complete M-1', 'cli:carol');
    await allDelivered(x, 4);

    const patches = writes(f).slice(1);
    expect(patches.map((r: RecordedRequest) => [r.method, r.path])).toEqual(
      Array.from({ length: 3 }, () => ['PATCH', `/pages/${f.pageId}/incidents/${remote.id}`]),
    );
    expect(patches.map((r) => [r.body.incident.status, r.body.incident.body, r.body.incident.components])).toEqual([
      ['in_progress', noticeFor('start'), { [apiId]: 'under_maintenance' }],
      ['verifying', 'The upgrade is done; we are checking it.', { [apiId]: 'under_maintenance' }],
      ['completed', noticeFor('complete'), { [apiId]: 'operational' }],
    ]);
    // Under way it will still complete by itself; once completed nothing moves by itself.
    expect(patches.map((r) => [r.body.incident.scheduled_auto_in_progress, r.body.incident.scheduled_auto_completed])).toEqual([
      [false, true],
      [false, true],
      [false, false],
    ]);
    for (const p of patches) expect(p.body.incident).toMatchObject({ scheduled_for: iso(startsAt), scheduled_until: iso(endsAt), deliver_notifications: true });
    expect(f.incidents).toHaveLength(1);
    expect(f.incidents[0]!.incident_updates.map((u) => u.status)).toEqual(['scheduled', 'in_progress', 'verifying', 'completed']);
    expect(f.violations).toEqual([]);
    // /metrics counts them as Statuspage deliveries; the maintenance's lane is no label value.
    const metrics = await (await fetch(`${x.server.url}/metrics`)).text();
    expect(metrics).toMatch(/^sitrep_deliveries_delivered_total\{kind="statuspage"\} 4$/m);
    expect(metrics).not.toContain('M-1');
  });

  it('a cancelled maintenance is completed there with its cancellation notice (Statuspage has no cancelled); one never announced sends nothing', async () => {
    const { fake: f, h: x, startsAt, endsAt } = await setup();
    await x.run(`maintenance schedule "Network work" starts:${typed(startsAt)} ends:${typed(endsAt)} Router replacement.`);
    await x.run(`maintenance schedule "Never told" starts:${typed(startsAt)} ends:${typed(endsAt)} Not approved.`);
    await x.run('approve D-1', 'cli:carol');
    await allDelivered(x, 1);
    await x.run('maintenance cancel M-1', 'cli:carol');
    await x.run('maintenance cancel M-2', 'cli:carol');
    await allDelivered(x, 2);
    const [post, patch] = writes(f);
    expect(post!.body.incident).toMatchObject({ status: 'scheduled', component_ids: [], components: {} });
    expect(patch!.path).toBe(`/pages/${f.pageId}/incidents/${f.incidents[0]!.id}`);
    expect(patch!.body.incident).toMatchObject({
      status: 'completed',
      body: noticeFor('cancel'),
      scheduled_auto_in_progress: false,
      scheduled_auto_completed: false,
    });
    expect(f.incidents.map((i) => i.name)).toEqual(['Network work']);
    expect(x.rows().some((r) => r.target === 'statuspage|M-2')).toBe(false);
    expect(f.violations).toEqual([]);
  });

  it('a create whose answer was lost is found again by its metadata, not created twice', async () => {
    const { fake: f, h: x, startsAt, endsAt } = await setup({ attemptTimeoutMs: 1_500 });
    await x.run(`maintenance schedule "Disk swap" starts:${typed(startsAt)} ends:${typed(endsAt)} Swapping disks.`);
    // The create is applied but never answered: the attempt times out and is retried.
    f.script({ hang: true, apply: true, method: 'POST' });
    await x.run('approve D-1', 'cli:carol');
    await allDelivered(x, 1);
    await x.run('maintenance cancel M-1', 'cli:carol');
    await allDelivered(x, 2);
    expect(f.incidents).toHaveLength(1);
    expect(maintenanceRows(x).map((r) => r.remoteRef)).toEqual([f.incidents[0]!.id, f.incidents[0]!.id]);
    expect(f.requests.some((r) => r.method === 'GET' && r.template === '/pages/{page_id}/incidents')).toBe(true);
    expect(f.violations).toEqual([]);
  });

  it('a text Statuspage refuses for good is dead-lettered and told in the maintenance timeline, naming the retry', async () => {
    const { fake: f, h: x, startsAt, endsAt } = await setup();
    await x.run(`maintenance schedule "Disk swap" starts:${typed(startsAt)} ends:${typed(endsAt)} Swapping disks.`);
    await x.run('approve D-1', 'cli:carol');
    await allDelivered(x, 1);
    // Someone deleted the scheduled incident on Statuspage: the PATCH is answered 404.
    f.incidents.splice(0);
    await x.run('maintenance cancel M-1', 'cli:carol');
    await waitUntil(() => maintenanceRows(x)[1]?.state === 'dead', 10_000, 'the PATCH dead-lettered');
    const row = maintenanceRows(x)[1]!;
    const failures = (await loadMaintenanceEvents(x.app.db, 1)).filter((e) => e.kind === 'delivery_failed');
    expect(failures).toHaveLength(1);
    expect(failures[0]!.text).toMatch(/^Customer update D-\d+ did not reach statuspage: PATCH .* Statuspage answered 404/);
    expect(failures[0]!.text).toContain(`\`deliveries retry ${row.id}\``);
    expect(failures[0]!.payload).toMatchObject({ outboxId: row.id, target: 'statuspage' });
  });

  it("shares the API key's pace with incidents: a maintenance and an incident side by side provoke no 429", { timeout: 60_000 }, async () => {
    const { fake: f, h: x, startsAt, endsAt } = await setup({ rateLimit: true });
    await x.run('declare "Checkout errors" components:web-app=partial');
    await x.run(`maintenance schedule "Database upgrade" starts:${typed(startsAt)} ends:${typed(endsAt)} components:api Upgrading.`);
    await x.run('draft INC-1 status:investigating We are looking into checkout errors.');
    await x.run('approve D-1', 'cli:carol');
    await x.run('approve D-2', 'cli:carol');
    await x.run('maintenance cancel M-1', 'cli:carol');
    await waitUntil(
      () =>
        x
          .rows()
          .filter((r) => r.target.startsWith('statuspage'))
          .every((r) => r.state === 'delivered') && writes(f).length === 3,
      50_000,
      'every Statuspage row delivered',
    );
    expect(f.rateLimited()).toBe(0);
    expect(f.violations).toEqual([]);
    expect(f.incidents.map((i) => [i.name, i.scheduled])).toEqual(
      expect.arrayContaining([
        ['Checkout errors', false],
        ['Database upgrade', true],
      ]),
    );
  });
});

describe('the fake Statuspage checks scheduled incidents against the spec', () => {
  const send = (f: FakeStatuspage, method: string, path: string, body: unknown) =>
    fetch(`${f.url}/pages/${f.pageId}${path}`, {
      method,
      headers: { authorization: `OAuth ${f.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('refuses a scheduled incident without its window, a window that ends first, scheduled fields on a realtime incident, and a status of the other kind', async () => {
    fake = await startFakeStatuspage();
    const f = fake;
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/incidents', { incident: { name: 'x', status: 'scheduled', scheduled_for: '2026-12-07T22:00:00Z' } }, 'scheduled_until: required'],
      [
        'POST',
        '/incidents',
        { incident: { name: 'x', status: 'scheduled', scheduled_for: '2026-12-07T22:00:00Z', scheduled_until: '2026-12-07T21:00:00Z' } },
        'must be after scheduled_for',
      ],
      ['POST', '/incidents', { incident: { name: 'x', status: 'investigating', scheduled_for: '2026-12-07T22:00:00Z' } }, 'only for a scheduled incident'],
      ['POST', '/incidents', { incident: { name: 'x', status: 'cancelled' } }, 'is not one of'],
    ];
    for (const [method, path, body, problem] of cases) {
      const before = f.violations.length;
      expect((await send(f, method, path, body)).status).toBe(400);
      expect(f.violations.slice(before).join('\n')).toContain(problem);
    }
    const created = await send(f, 'POST', '/incidents', {
      incident: { name: 'ok', status: 'scheduled', scheduled_for: '2026-12-07T22:00:00Z', scheduled_until: '2026-12-07T23:00:00Z' },
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const before = f.violations.length;
    expect((await send(f, 'PATCH', `/incidents/${id}`, { incident: { status: 'resolved' } })).status).toBe(400);
    expect(f.violations.slice(before)).toEqual([expect.stringContaining('"resolved" is not a status of a scheduled incident')]);
    expect((await send(f, 'PATCH', `/incidents/${id}`, { incident: { status: 'in_progress', body: 'Started.' } })).status).toBe(200);
    expect(f.incidents[0]!.status).toBe('in_progress');
  });
});
