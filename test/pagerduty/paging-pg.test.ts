import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type App } from '../../src/main.js';
import { startFakePagerDuty, type FakePagerDuty } from '../fakes/pagerduty.js';
import { FAST } from '../mirror/helpers.js';
import { engines, type Engine } from '../support/engines.js';

// PagerDuty on either engine, through the real server and outbox worker (SQLite's, or PostgreSQL's
// src/mirror/worker.pg.ts) and a fake Events API v2 that validates every body: the page at declare
// and by hand, a retry after a 500, the resolve with the incident, and nothing left in the outbox.

const KEY = 'R0UT1NGKEY0123456789abcdefABCDEF';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function setup(engine: Engine) {
  const pd: FakePagerDuty = await startFakePagerDuty();
  closers.push(() => pd.close());
  const app: App = await engine.app({ PAGERDUTY_ROUTING_KEY: KEY, PAGERDUTY_EVENTS_URL: pd.url, SITREP_PUBLIC_URL: 'https://status.example.com' });
  // PostgreSQL's apps are closed by test/support/engines.ts.
  if (engine.name === 'SQLite') closers.push(() => app.close());
  const worker = app.background.find((b): b is typeof b & { tune(o: typeof FAST): void } => 'tune' in b);
  if (!worker) throw new Error('no outbox worker in app.background');
  worker.tune(FAST);
  const server = await startServer(app, 0, '127.0.0.1');
  closers.push(() => server.close());
  const run = async (text: string) => {
    const r = await app.run(text, 'cli:alice', { platform: 'cli' });
    if (!r.ok) throw new Error(`${text} → ${r.error.code}: ${r.error.message}`);
    return r.reply;
  };
  return { app, pd, run };
}

describe.each(engines)('PagerDuty on $name', (engine) => {
  it.skipIf(engine.skip)(
    'pages at declare and by hand, retries a 500, resolves with the incident, and leaves nothing pending',
    { timeout: 60_000 },
    async () => {
      const { app, pd, run } = await setup(engine);
      pd.script({ status: 500 });
      expect((await run('declare "Checkout down" sev:1')).text).toMatch(/; the on-call is paged through PagerDuty$/);
      await pd.waitFor((p) => p.accepted().length === 1, 20_000);
      expect(pd.accepted()[0]).toEqual({
        routing_key: KEY,
        event_action: 'trigger',
        dedup_key: 'INC-1',
        payload: { summary: '[sev1] INC-1: Checkout down', source: 'Sitrep (Sitrep)', severity: 'critical', component: 'sitrep' },
        links: [{ href: 'https://status.example.com/incidents/INC-1', text: 'INC-1 in Sitrep' }],
      });
      expect(pd.events.map((e) => e.status)).toEqual([500, 202]);

      await run('declare "Slow search" sev:3');
      await run('page INC-2 search p99 is 9 s');
      await run('resolve INC-2');
      await pd.waitFor((p) => p.accepted().length === 3, 20_000);
      expect(
        pd
          .accepted()
          .slice(1)
          .map((e) => [e.event_action, e.dedup_key, e.payload?.custom_details?.note ?? null]),
      ).toEqual([
        ['trigger', 'INC-2', 'search p99 is 9 s'],
        ['resolve', 'INC-2', null],
      ]);
      expect(pd.events.every((e) => e.errors.length === 0)).toBe(true);

      // Every row delivered, the first after its retry; none pending, in flight or dead.
      const end = Date.now() + 10_000;
      const rows = () =>
        engine.rows(app, "select kind, state, attempts from outbox where target = 'pagerduty' order by id") as Promise<
          Array<{ kind: string; state: string; attempts: number }>
        >;
      while ((await rows()).some((r) => r.state !== 'delivered') && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
      expect(await rows()).toEqual([
        { kind: 'pagerduty.trigger', state: 'delivered', attempts: 2 },
        { kind: 'pagerduty.trigger', state: 'delivered', attempts: 1 },
        { kind: 'pagerduty.resolve', state: 'delivered', attempts: 1 },
      ]);
      expect((await engine.rows(app, "select id from outbox where state in ('pending', 'in_flight', 'dead')")).length).toBe(0);
    },
  );
});
