import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type App } from '../../src/main.js';
import { startFakeStatuspage, type FakeStatuspage } from '../fakes/statuspage.js';
import { FAST } from '../mirror/helpers.js';
import { engines, type Engine } from '../support/engines.js';

// The Atlassian Statuspage target on either engine, through the real server and outbox worker
// (SQLite's, or PostgreSQL's src/mirror/worker.pg.ts) and a fake Statuspage API that keeps the
// per-key limit itself (429 for a request within the second of the key's last one). An approved
// update creates the Statuspage incident, the next approved one PATCHes that same incident, and no
// request provokes a 429. On PostgreSQL the target reads the lane and the component map through the store.

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function setup(engine: Engine) {
  const fake: FakeStatuspage = await startFakeStatuspage({ components: ['Web App'], rateLimit: { perSecond: 1 } });
  closers.push(() => fake.close());
  const app: App = await engine.app({
    STATUSPAGE_API_KEY: fake.apiKey,
    STATUSPAGE_PAGE_ID: fake.pageId,
    STATUSPAGE_API_URL: fake.url,
    SITREP_ADMINS: 'cli:admin',
    USER: 'admin',
  });
  // PostgreSQL's apps are closed by test/support/engines.ts.
  if (engine.name === 'SQLite') closers.push(() => app.close());
  const worker = app.background.find((b): b is typeof b & { tune(o: typeof FAST): void } => 'tune' in b);
  if (!worker) throw new Error('no outbox worker in app.background');
  // A row may wait in the key's bucket: attempts get the production budget's order of magnitude.
  worker.tune({ ...FAST, attemptTimeoutMs: 15_000 });
  const server = await startServer(app, 0, '127.0.0.1');
  closers.push(() => server.close());
  const run = async (text: string, actor = 'cli:admin') => {
    const r = await app.run(text, actor, { platform: 'cli' });
    if (!r.ok) throw new Error(`${text} → ${r.error.code}: ${r.error.message}`);
    return r.reply;
  };
  const rows = () =>
    engine.rows(
      app,
      'select id, target, kind, state, attempts, remote_ref as "remoteRef", last_error as "lastError" from outbox where target like \'statuspage%\' order by id',
    ) as Promise<Array<{ id: number; target: string; kind: string; state: string; attempts: number; remoteRef: string | null; lastError: string | null }>>;
  /** Waits until `n` Statuspage rows exist and none is pending or in flight. */
  const drain = async (n: number) => {
    const end = Date.now() + 30_000;
    for (;;) {
      const all = await rows();
      if (all.length >= n && !all.some((r) => r.state === 'pending' || r.state === 'in_flight')) return all;
      if (Date.now() > end) throw new Error(`Statuspage rows still waiting: ${JSON.stringify(all)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  return { app, fake, run, rows, drain };
}

/**
 * Two approved texts went to one Statuspage incident (both rows name it), kept under the key's
 * rate limit rather than learning it from 429s, and nothing is left waiting or dead.
 */
async function expectBothOnOneIncident(
  engine: Engine,
  app: Awaited<ReturnType<typeof setup>>['app'],
  fake: Awaited<ReturnType<typeof setup>>['fake'],
  both: Array<{ state: string; remoteRef: string | null }>,
  id: string,
) {
  expect(both.map((r) => [r.state, r.remoteRef])).toEqual([
    ['delivered', id],
    ['delivered', id],
  ]);
  expect(fake.incidents).toHaveLength(1);
  expect(fake.rateLimited()).toBe(0);
  expect(fake.violations).toEqual([]);
  expect((await engine.rows(app, "select id from outbox where state in ('pending', 'in_flight', 'dead')")).length).toBe(0);
}

describe.each(engines)('the Atlassian Statuspage target on $name', (engine) => {
  it.skipIf(engine.skip)('an approved update creates the Statuspage incident, the next one updates it, paced per API key', { timeout: 60_000 }, async () => {
    const { app, fake, run, drain } = await setup(engine);
    await run('component add "Web App"');
    await run('approver add @carol');
    await run('declare "Checkout errors" components:web-app=major');
    await run('draft INC-1 status:investigating We are looking into checkout errors.');
    // Nothing goes to Statuspage before approval.
    expect(fake.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    await run('approve D-1', 'cli:carol');
    const first = await drain(1);
    expect(first.map((r) => r.state)).toEqual(['delivered']);
    expect(fake.incidents).toHaveLength(1);
    const created = fake.incidents[0]!;
    expect(first[0]!.remoteRef).toBe(created.id);
    expect(created).toMatchObject({ name: 'Checkout errors', status: 'investigating', metadata: { sitrep: { incident_id: 'INC-1' } } });
    // The component found on the page by name (its id read from Statuspage's list).
    const webApp = fake.components.find((c) => c.name === 'Web App')!;
    expect(created.component_ids).toEqual([webApp.id]);

    await run('draft INC-1 status:identified A bad deploy; rolling it back.');
    await run('approve D-2', 'cli:carol');
    // The same Statuspage incident, updated: not a second one.
    await expectBothOnOneIncident(engine, app, fake, await drain(2), created.id);
    expect(fake.incidents[0]!.incident_updates.map((u) => [u.status, u.body])).toEqual([
      ['investigating', 'We are looking into checkout errors.'],
      ['identified', 'A bad deploy; rolling it back.'],
    ]);
    expect(fake.requests.filter((r) => r.method === 'PATCH').map((r) => r.path)).toEqual([`/pages/${fake.pageId}/incidents/${created.id}`]);
  });

  it.skipIf(engine.skip)(
    'an approved maintenance announcement creates a scheduled incident in its own lane; the next approved text updates it',
    { timeout: 60_000 },
    async () => {
      const { app, fake, run, drain } = await setup(engine);
      await run('component add "Web App"');
      await run('approver add @carol');
      const starts = Math.ceil((Date.now() + 2 * 3_600_000) / 60_000) * 60_000;
      const iso = (ms: number) => new Date(ms).toISOString();
      await run(`maintenance schedule "Database upgrade" starts:${iso(starts)} ends:${iso(starts + 3_600_000)} components:web-app We upgrade the database.`);
      await run('approve D-1', 'cli:carol');
      const first = await drain(1);
      expect(first.map((r) => [r.target, r.state])).toEqual([['statuspage|M-1', 'delivered']]);
      expect(fake.incidents).toHaveLength(1);
      const created = fake.incidents[0]!;
      expect(created).toMatchObject({ scheduled: true, status: 'scheduled', scheduled_for: iso(starts), metadata: { sitrep: { maintenance_id: 'M-1' } } });
      expect(first[0]!.remoteRef).toBe(created.id);

      await run('maintenance update M-1 We now start with the replicas.');
      await run('approve D-2', 'cli:carol');
      await expectBothOnOneIncident(engine, app, fake, await drain(2), created.id);
      expect(fake.incidents[0]!.incident_updates.map((u) => u.body)).toEqual(['We upgrade the database.', 'We now start with the replicas.']);
    },
  );
});
