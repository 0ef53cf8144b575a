import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/main.js';
import type { App } from '../../src/main.js';
import { testApp } from '../helpers.js';
import { createTestDatabase, postgresUnavailable, sayPostgresSkipped, type TestPostgres } from '../support/postgres.js';
import { expectShape, replaySeed, SEED_ENV, seedNow, visibleLines, type Seed } from './support.js';

// The Show: replay the Spruce Health incident of Dec 07 2021 (approved updates at their real
// times) and read the built-in page and API over real HTTP.

// On both engines: one app for the whole file, so PostgreSQL's database is made here, not per test
// as test/support/engines.ts does.
const ENGINES = [
  { name: 'SQLite', skip: null },
  { name: 'PostgreSQL', skip: postgresUnavailable() },
] as const;
sayPostgresSkipped();

describe.each(ENGINES)('the seed replay on $name', ({ name, skip }) => {
  if (skip) it.skip(skip, () => {});
  let app: App;
  let server: RunningServer;
  let seed: Seed;
  let pgDb: TestPostgres | null = null;

  beforeAll(async () => {
    if (skip) return;
    if (name === 'PostgreSQL') pgDb = await createTestDatabase();
    app = testApp(pgDb ? { ...SEED_ENV, SITREP_DATABASE_URL: pgDb.url } : SEED_ENV, seedNow);
    seed = await replaySeed(app, { internalNoise: true });
    server = await startServer(app, 0, '127.0.0.1');
  });
  afterAll(async () => {
    await server?.close();
    await app?.close();
    await pgDb?.drop();
  });

  const get = (path: string, init?: RequestInit) => fetch(`${server.url}${path}`, init);

  describe.skipIf(skip)('GET /incidents/INC-1 reads like the seed', () => {
    it('has the seed text line for line: title, org, postmortem, updates newest first with labels and Posted times, affected sentence', async () => {
      const res = await get('/incidents/INC-1');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(visibleLines(await res.text())).toEqual(seed.lines);
    });

    it('labels an update whose status did not change "Update", and uses SITREP_TIMEZONE for Posted', async () => {
      const lines = visibleLines(await (await get('/incidents/INC-1')).text());
      const labels = lines.filter((l) => /^(Postmortem|Resolved|Update|Monitoring|Identified|Investigating)$/.test(l));
      expect(labels).toEqual(['Postmortem', 'Resolved', 'Update', 'Update', 'Monitoring', 'Update', 'Update', 'Identified', 'Update', 'Investigating']);
      expect(lines.filter((l) => l.startsWith('Posted ')).at(-1)).toBe('Posted Dec 07, 2021 - 08:02 PST');
      expect(lines.at(-1)).toBe('This incident affected: Web App, Mobile Apps, Phone Call Routing, and SMS Routing.');
    });
  });

  describe.skipIf(skip)('the v2 API after the replay', () => {
    it('summary.json has the reference shape; the incident is resolved so none is listed; all operational', async () => {
      const res = await get('/api/v2/summary.json');
      expect(res.status).toBe(200);
      const body: any = await res.json();
      expectShape(body, 'discord_summary.json');
      expect(body.page).toMatchObject({ name: 'Spruce Health', url: 'https://status.spruce.example', time_zone: 'America/Los_Angeles' });
      expect(body.components.map((c: any) => [c.name, c.status])).toEqual([
        ['Web App', 'operational'],
        ['Mobile Apps', 'operational'],
        ['Phone Call Routing', 'operational'],
        ['SMS Routing', 'operational'],
      ]);
      expect(body.incidents).toEqual([]);
      expect(body.status).toEqual({ indicator: 'none', description: 'All Systems Operational' });
    });

    it('incidents.json has the reference shape and the seed updates newest first with display_at in the page zone', async () => {
      const body: any = await (await get('/api/v2/incidents.json')).json();
      expectShape(body, 'discord_incidents.json');
      const [inc] = body.incidents;
      expect(inc).toMatchObject({
        id: 'INC-1',
        name: seed.title,
        status: 'resolved',
        impact: 'critical',
        shortlink: 'https://status.spruce.example/incidents/INC-1',
        created_at: '2021-12-07T08:02:00.000-08:00',
        monitoring_at: '2021-12-07T09:39:00.000-08:00',
        resolved_at: '2021-12-07T14:28:00.000-08:00',
      });
      expect(inc.incident_updates.map((u: any) => u.body)).toEqual(seed.updates.map((u) => u.body));
      expect(inc.incident_updates.map((u: any) => u.status)).toEqual([
        'resolved',
        'monitoring',
        'monitoring',
        'monitoring',
        'identified',
        'identified',
        'identified',
        'investigating',
        'investigating',
      ]);
      expect(inc.incident_updates.at(-1).display_at).toBe('2021-12-07T08:02:00.000-08:00');
      expect(inc.incident_updates[0].affected_components.map((a: any) => [a.name, a.new_status])).toEqual([
        ['Web App', 'operational'],
        ['Mobile Apps', 'operational'],
        ['Phone Call Routing', 'operational'],
        ['SMS Routing', 'operational'],
      ]);
      expect(inc.incident_updates.at(-1).affected_components.find((a: any) => a.code === 'sms-routing')).toEqual({
        code: 'sms-routing',
        name: 'SMS Routing',
        old_status: 'operational',
        new_status: 'major_outage',
      });
      expect(inc.components.map((c: any) => c.name)).toEqual(['Web App', 'Mobile Apps', 'Phone Call Routing', 'SMS Routing']);
    });

    it.each([
      ['status.json', 'discord_status.json'],
      ['components.json', 'discord_components.json'],
      ['incidents/unresolved.json', 'discord_incidents_unresolved.json'],
      ['scheduled-maintenances.json', 'discord_scheduled-maintenances.json'],
      ['scheduled-maintenances/active.json', 'discord_scheduled-maintenances_active.json'],
      ['scheduled-maintenances/upcoming.json', 'discord_scheduled-maintenances_upcoming.json'],
    ])('%s has the shape of %s', async (path, ref) => {
      const res = await get(`/api/v2/${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expectShape(await res.json(), ref);
    });
  });

  describe.skipIf(skip)('internal updates and notes made during the replay', () => {
    it('appear nowhere public: pages, every API document, the feeds', async () => {
      const paths = [
        '/',
        '/incidents/INC-1',
        '/history.atom',
        '/history.rss',
        '/api/v2/summary.json',
        '/api/v2/incidents.json',
        '/api/v2/incidents/unresolved.json',
        '/api/v2/components.json',
        '/api/v2/status.json',
      ];
      for (const p of paths) {
        const body = await (await get(p)).text();
        expect(body).not.toContain('INTERNAL-');
        expect(body).not.toContain('10.0.0.7');
        expect(body).not.toContain('Acme');
      }
    });
  });

  describe.skipIf(skip)('the front page after the replay', () => {
    it('shows the banner, the components with 90-day bars marking Dec 07, and the incident under past incidents', async () => {
      const html = await (await get('/')).text();
      const lines = visibleLines(html);
      expect(lines[0]).toBe('All Systems Operational');
      for (const name of ['Web App', 'Mobile Apps', 'Phone Call Routing', 'SMS Routing']) expect(lines).toContain(name);
      expect(html.match(/<div class="bar"/g)).toHaveLength(4);
      expect(html).toContain('title="Dec 07, 2021: major outage"');
      expect(lines).toContain('Past incidents');
      expect(lines).toContain('Dec 07, 2021');
      expect(lines).toContain(seed.title);
      expect(lines).not.toContain('Active incidents');
    });

    it('the Atom feed lists every published update and the postmortem, newest first', async () => {
      const res = await get('/history.atom');
      expect(res.headers.get('content-type')).toBe('application/atom+xml; charset=utf-8');
      const xml = await res.text();
      const titles = [...xml.matchAll(/<entry>\s*<id>[^<]*<\/id>\s*<title type="text">([^<]*)<\/title>/g)].map((m) => m[1]);
      expect(titles).toHaveLength(10);
      expect(titles[0]).toBe(`${seed.title}: Postmortem`);
      expect(titles.at(-1)).toBe(`${seed.title}: Investigating`);
    });
  });
});
