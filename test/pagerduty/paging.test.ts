import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startServer, type App, type RunningServer } from '../../src/main.js';
import { OutboxWorker } from '../../src/mirror/worker.js';
import { rowCounts, testApp } from '../helpers.js';
import { FAST, waitUntil } from '../mirror/helpers.js';
import { startFakePagerDuty, type FakePagerDuty } from '../fakes/pagerduty.js';

// PagerDuty through the real path: the command records a `paged` event, the outlet writes the
// outbox row in the same transaction, the server's worker sends it over HTTP to a fake Events API
// v2 that validates every body. Trigger at declare (SITREP_PAGE_SEVERITY), by hand, resolve with
// the incident, retries after 429 and 500, and a private incident's title never sent.

const KEY = 'R0UT1NGKEY0123456789abcdefABCDEF'; // 32 characters, as PagerDuty's integration keys are

let pd: FakePagerDuty | null = null;
let server: RunningServer | null = null;
afterEach(async () => {
  await server?.close();
  await pd?.close();
  server = null;
  pd = null;
});

async function start(env: Record<string, string> = {}): Promise<App> {
  pd = await startFakePagerDuty();
  const app = testApp({ PAGERDUTY_ROUTING_KEY: KEY, PAGERDUTY_EVENTS_URL: pd.url, SITREP_PUBLIC_URL: 'https://status.example.com', ...env });
  server = await startServer(app, 0, '127.0.0.1');
  app.background.find((b): b is OutboxWorker => b instanceof OutboxWorker)!.tune(FAST);
  return app;
}
async function run(app: App, text: string, actor = 'cli:alice') {
  const r = await app.run(text, actor, { platform: 'cli' });
  if (!r.ok) throw new Error(`${text}: ${r.error.message}`);
  return r.reply;
}

describe('PagerDuty', () => {
  it('pages at once on a sev1 declare, by hand with `page`, and resolves with the incident', async () => {
    const app = await start();
    const d = await run(app, 'declare "Checkout down" sev:1');
    expect(d.text).toMatch(/; the on-call is paged through PagerDuty$/);
    await pd!.waitFor((p) => p.accepted().length === 1);
    expect(pd!.accepted()[0]).toEqual({
      routing_key: KEY,
      event_action: 'trigger',
      dedup_key: 'INC-1',
      payload: { summary: '[sev1] INC-1: Checkout down', source: 'Sitrep (Sitrep)', severity: 'critical', component: 'sitrep' },
      links: [{ href: 'https://status.example.com/incidents/INC-1', text: 'INC-1 in Sitrep' }],
    });

    // sev3 does not page by itself; `page` does, with its words.
    await run(app, 'declare "Slow search" sev:3');
    expect((await run(app, 'page INC-2 search p99 is 9 s')).text).toBe('Paged the on-call for INC-2 through PagerDuty.');
    await run(app, 'resolve INC-2');
    await run(app, 'resolve INC-1');
    await pd!.waitFor((p) => p.accepted().length === 4);
    const sent = pd!.accepted().map((e) => [e.event_action, e.dedup_key]);
    expect(sent.filter(([, k]) => k === 'INC-2')).toEqual([
      ['trigger', 'INC-2'],
      ['resolve', 'INC-2'],
    ]);
    expect(sent).toContainEqual(['resolve', 'INC-1']);
    expect(pd!.accepted().find((e) => e.dedup_key === 'INC-2').payload).toMatchObject({ severity: 'warning', custom_details: { note: 'search p99 is 9 s' } });
    expect(pd!.events.every((e) => e.errors.length === 0)).toBe(true);

    // The thread (the timeline) says who paged.
    const events = ((await run(app, 'timeline INC-2')).data as any).events.filter((e: any) => e.kind === 'paged');
    expect(events).toEqual([expect.objectContaining({ text: 'Paged the on-call through PagerDuty, by @alice: search p99 is 9 s (alert INC-2)' })]);
  });

  it('retries after 429 and 500 and sends each event once it is accepted', async () => {
    const app = await start();
    pd!.script({ status: 429, headers: { 'retry-after': '0' } }, { status: 500 });
    await run(app, 'declare "DB down" sev:1');
    await pd!.waitFor((p) => p.accepted().length === 1);
    expect(pd!.events.map((e) => e.status)).toEqual([429, 500, 202]);
    // Every attempt carried the same dedup key: a repeat would update the same alert.
    expect(new Set(pd!.events.map((e) => e.body.dedup_key))).toEqual(new Set(['INC-1']));
    const row = () => app.db.$client.prepare("select state, attempts from outbox where target = 'pagerduty'").get();
    await waitUntil(() => (row() as { state: string }).state === 'delivered', 5_000, 'the delivery to be recorded');
    expect(row()).toEqual({ state: 'delivered', attempts: 3 });
  });

  it("never sends a private incident's title", async () => {
    const app = await start({ SITREP_PAGE_SEVERITY: '2' });
    await run(app, 'declare "Credentials leaked from vault" sev:2 visibility:private');
    await pd!.waitFor((p) => p.accepted().length === 1);
    const body = pd!.accepted()[0];
    expect(body.payload.summary).toBe('[sev2] Private incident INC-1');
    expect(body.links).toBeUndefined();
    expect(JSON.stringify(pd!.events)).not.toMatch(/Credentials|vault/);
  });

  it('refuses `page` in one line when PagerDuty is not configured, and a bad SITREP_PAGE_SEVERITY stops start-up', async () => {
    const app = testApp();
    await run(app, 'declare "X" sev:1');
    const before = rowCounts(app.db);
    const r = await app.run('page INC-1', 'cli:alice', { platform: 'cli' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toBe('PagerDuty is not configured; set PAGERDUTY_ROUTING_KEY (the Events API v2 integration key) and restart');
    expect(rowCounts(app.db)).toEqual(before);
    expect(() => loadConfig({ SITREP_PAGE_SEVERITY: 'five' })).toThrow(/SITREP_PAGE_SEVERITY /);
    expect(() => loadConfig({ PAGERDUTY_EVENTS_URL: 'ftp://x' })).toThrow(/PAGERDUTY_EVENTS_URL must be an http\(s\) URL/);
  });
});
