import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type App, type RunningServer } from '../../src/main.js';
import { cli, tempDbFile } from '../helpers.js';
import { expectShape, publicText, runOk, visibleLines } from './support.js';
import { engines } from '../support/engines.js';

describe.each(engines)('maintenance on the status page on $name', (engine) => {
  if (engine.skip) it.skip(engine.skip, () => {});

  // Scheduled maintenance on the built-in status page over real HTTP: the commands run through
  // app.run (or the CLI on the same database file), the server is the real one, and every public
  // surface is read as a customer would: the front page, /maintenances/M-n and /api/v2.

  const T0 = Date.parse('2026-12-07T12:00:00Z'); // 04:00 in Los Angeles
  const HOUR = 3_600_000;
  const ZONE = 'America/Los_Angeles';

  let app: App | null = null;
  let server: RunningServer | null = null;
  afterEach(async () => {
    await server?.close();
    await app?.close();
    server = null;
    app = null;
  });

  async function start(env: Record<string, string> = {}, clock = { t: T0 }) {
    app = await engine.app(
      { SITREP_APPROVAL: 'required', SITREP_ORG_NAME: 'Acme', SITREP_TIMEZONE: ZONE, SITREP_PUBLIC_URL: 'https://status.acme.example', ...env },
      () => clock.t,
    );
    server = await startServer(app, 0, '127.0.0.1');
    await runOk(app, 'approver add @bob', 'cli:admin');
    await runOk(app, 'component add API', 'cli:admin');
    await runOk(app, 'component add "Web App"', 'cli:admin');
    const url = server.url;
    const get = (path: string, init?: RequestInit) => fetch(url + path, init);
    const json = async (path: string): Promise<any> => (await get(`/api/v2/${path}`)).json();
    const lines = async (path: string) => visibleLines(await (await get(path)).text());
    return { app, url, get, json, lines, clock };
  }

  /** Everything the public can read: the front page, the maintenance pages, every API document, the feeds. */
  const everythingPublic = (url: string) => publicText(url, ['/', '/maintenances/M-1', '/maintenances/M-2']);

  const ids = (doc: any) => doc.scheduled_maintenances.map((m: any) => m.id);
  const SCHEDULE = 'maintenance schedule "Database upgrade" starts:2026-12-07T22:00 ends:2026-12-07T23:30 components:api';

  describe('a maintenance on the public page, from draft to completion', () => {
    it('shows nowhere until its announcement is approved; drafts of later texts never show', async () => {
      const { app, url, get, json } = await start();
      await runOk(
        app,
        'maintenance schedule "SECRET-TITLE upgrade" starts:2026-12-07T22:00 ends:2026-12-07T23:30 components:api SECRET-ANNOUNCEMENT',
        'cli:alice',
      );
      // Started by hand before anyone approved a word: internally under way, publicly nothing.
      await runOk(app, 'maintenance start M-1', 'cli:alice');
      expect((await get('/maintenances/M-1')).status).toBe(404);
      expect(await everythingPublic(url)).not.toMatch(/SECRET/);
      const summary = await json('summary.json');
      expect(summary.scheduled_maintenances).toEqual([]);
      expect(summary.components.map((c: any) => c.status)).toEqual(['operational', 'operational']);
      for (const p of ['scheduled-maintenances.json', 'scheduled-maintenances/upcoming.json', 'scheduled-maintenances/active.json'])
        expect(ids(await json(p))).toEqual([]);

      // A rejected wording never shows either, nor another maintenance's draft announcement.
      await runOk(app, 'reject D-1 SECRET-REASON too vague', 'cli:bob');
      await runOk(app, SCHEDULE.replace('Database upgrade', 'Second window') + ' SECRET-SECOND draft', 'cli:alice');
      expect(await everythingPublic(url)).not.toMatch(/SECRET|Second window/);
    });

    it('an approved announcement lists it as upcoming; starting and completing move it through active to the history', async () => {
      const { app, get, json, lines } = await start();
      await runOk(app, `${SCHEDULE} We are upgrading our database; the API may be slow.`, 'cli:alice');
      await runOk(app, 'approve D-1', 'cli:bob');
      // A later draft waits for approval and is not shown meanwhile.
      await runOk(app, 'maintenance update M-1 DRAFT-NOT-APPROVED new wording', 'cli:alice');

      // Upcoming: its own section on the front page, linked to its page; upcoming.json and summary.json.
      let home = await lines('/');
      const up = home.indexOf('Upcoming maintenance');
      expect(up).toBeGreaterThan(0);
      expect(home.slice(up + 1, up + 6)).toEqual([
        'Database upgrade',
        'Scheduled for Dec 07, 2026 - 22:00 PST – 23:30 PST',
        'Components: API',
        'Scheduled - We are upgrading our database; the API may be slow.',
        'Posted Dec 07, 2026 - 04:00 PST',
      ]);
      expect(home).not.toContain('Maintenance in progress');
      expect(home.join('\n')).not.toContain('DRAFT-NOT-APPROVED');
      expect(await (await get('/')).text()).toContain('<a href="/maintenances/M-1">Database upgrade</a>');
      expect(ids(await json('scheduled-maintenances/upcoming.json'))).toEqual(['M-1']);
      expect(ids(await json('scheduled-maintenances/active.json'))).toEqual([]);
      const summary = await json('summary.json');
      expect(ids(summary)).toEqual(['M-1']);
      expect(summary.scheduled_maintenances[0]).toMatchObject({
        name: 'Database upgrade',
        status: 'scheduled',
        impact: 'maintenance',
        scheduled_for: '2026-12-07T22:00:00.000-08:00',
        scheduled_until: '2026-12-07T23:30:00.000-08:00',
        shortlink: 'https://status.acme.example/maintenances/M-1',
        components: [expect.objectContaining({ id: 'api', name: 'API' })],
      });
      expectShape(summary, 'discord_summary.json');
      expectShape(await json('scheduled-maintenances/upcoming.json'), 'discord_scheduled-maintenances_upcoming.json');
      const page = await lines('/maintenances/M-1');
      expect(page).toEqual([
        'Database upgrade',
        'Scheduled Maintenance Report for Acme',
        'Status: Scheduled',
        'Scheduled for Dec 07, 2026 - 22:00 PST – 23:30 PST',
        'Scheduled',
        'We are upgrading our database; the API may be slow.',
        'Posted Dec 07, 2026 - 04:00 PST',
        'This scheduled maintenance affects: API.',
      ]);

      // In progress: the banner, the component in maintenance colour, active.json, the start notice.
      await runOk(app, 'maintenance start M-1', 'cli:bob');
      home = await lines('/');
      expect(home[0]).toBe('All Systems Operational');
      expect(home.slice(1, 7)).toEqual([
        'Maintenance in progress',
        'Database upgrade',
        'Scheduled for Dec 07, 2026 - 22:00 PST – 23:30 PST',
        'Under maintenance: API',
        'In progress - Scheduled maintenance is currently in progress. We will provide updates as necessary.',
        'Posted Dec 07, 2026 - 04:00 PST',
      ]);
      expect(home).not.toContain('Upcoming maintenance');
      const html = await (await get('/')).text();
      expect(html).toMatch(/<h3 class="name">API<\/h3><span class="status st-under_maintenance">Under maintenance<\/span>/);
      expect(html).toContain('<span class="sw sw-under_maintenance"></span>Under maintenance</li>');
      expect(ids(await json('scheduled-maintenances/upcoming.json'))).toEqual([]);
      const active = await json('scheduled-maintenances/active.json');
      expect(ids(active)).toEqual(['M-1']);
      expect(active.scheduled_maintenances[0].status).toBe('in_progress');
      expect(active.scheduled_maintenances[0].incident_updates.map((u: any) => u.status)).toEqual(['in_progress', 'scheduled']);
      expectShape(active, 'discord_scheduled-maintenances_active.json');
      const comps = (await json('components.json')).components.map((c: any) => [c.id, c.status]);
      expect(comps).toEqual([
        ['api', 'under_maintenance'],
        ['web-app', 'operational'],
      ]);
      expect((await lines('/maintenances/M-1')).slice(2, 9)).toEqual([
        'Status: In progress',
        'Scheduled for Dec 07, 2026 - 22:00 PST – 23:30 PST',
        'In progress',
        'Scheduled maintenance is currently in progress. We will provide updates as necessary.',
        'Posted Dec 07, 2026 - 04:00 PST',
        'Scheduled',
        'We are upgrading our database; the API may be slow.',
      ]);

      // Completed: off the banner and the active list, in scheduled-maintenances.json as completed.
      await runOk(app, 'maintenance complete M-1', 'cli:bob');
      home = await lines('/');
      expect(home).not.toContain('Maintenance in progress');
      expect(home).not.toContain('Upcoming maintenance');
      expect(ids(await json('scheduled-maintenances/active.json'))).toEqual([]);
      const all = await json('scheduled-maintenances.json');
      expect(all.scheduled_maintenances.map((m: any) => [m.id, m.status])).toEqual([['M-1', 'completed']]);
      expect(all.scheduled_maintenances[0].resolved_at).toBe('2026-12-07T04:00:00.000-08:00');
      expectShape(all, 'discord_scheduled-maintenances.json');
      expect((await json('summary.json')).scheduled_maintenances).toEqual([]);
      expect((await json('components.json')).components.map((c: any) => c.status)).toEqual(['operational', 'operational']);
      const done = await lines('/maintenances/M-1');
      expect(done.slice(2, 5)).toEqual(['Status: Completed', expect.stringMatching(/^Scheduled for /), 'Completed']);
      expect(done.at(-1)).toBe('This scheduled maintenance affected: API.');
      expect(done.join('\n')).not.toContain('DRAFT-NOT-APPROVED');
    });

    it('a cancelled maintenance leaves upcoming and active, and is listed as completed with its cancellation notice', async () => {
      const { app, json, lines } = await start();
      await runOk(app, `${SCHEDULE} We are upgrading our database.`, 'cli:alice');
      await runOk(app, 'approve D-1', 'cli:bob');
      expect(ids(await json('scheduled-maintenances/upcoming.json'))).toEqual(['M-1']);
      await runOk(app, 'maintenance cancel M-1', 'cli:bob');
      expect(ids(await json('scheduled-maintenances/upcoming.json'))).toEqual([]);
      expect(ids(await json('scheduled-maintenances/active.json'))).toEqual([]);
      expect((await json('summary.json')).scheduled_maintenances).toEqual([]);
      const all = await json('scheduled-maintenances.json');
      expect(all.scheduled_maintenances).toHaveLength(1);
      const m = all.scheduled_maintenances[0];
      expect(m.status).toBe('completed');
      expect(m.incident_updates.map((u: any) => [u.status, u.body])).toEqual([
        ['completed', 'The scheduled maintenance has been cancelled.'],
        ['scheduled', 'We are upgrading our database.'],
      ]);
      expect(JSON.stringify(all)).not.toContain('cancelled"');
      expect(await lines('/')).not.toContain('Upcoming maintenance');
      // Its own page says what happened in words.
      const page = await lines('/maintenances/M-1');
      expect(page.slice(2, 6)).toEqual([
        'Status: Cancelled',
        expect.stringMatching(/^Scheduled for /),
        'Cancelled',
        'The scheduled maintenance has been cancelled.',
      ]);
    });

    it('starts by itself at starts: and the page follows', async () => {
      const clock = { t: T0 };
      const { app, json, lines } = await start({}, clock);
      await runOk(
        app,
        `maintenance schedule "Network work" starts:2026-12-07T05:00 ends:2026-12-07T06:00 components:web-app Brief interruptions.`,
        'cli:alice',
      );
      await runOk(app, 'approve D-1', 'cli:bob');
      expect(ids(await json('scheduled-maintenances/upcoming.json'))).toEqual(['M-1']);
      clock.t = T0 + HOUR + 1; // 05:00:00.001 in Los Angeles: the scheduler's next tick starts it
      await expect.poll(async () => ids(await json('scheduled-maintenances/active.json')), { timeout: 5_000, interval: 50 }).toEqual(['M-1']);
      expect(await lines('/')).toContain('Maintenance in progress');
      expect((await json('components.json')).components.map((c: any) => [c.id, c.status])).toEqual([
        ['api', 'operational'],
        ['web-app', 'under_maintenance'],
      ]);
    });
  });

  describe('maintenance pages that are not there', () => {
    it('is 404 like an unknown incident: never used, never announced, or not an M-n', async () => {
      const { app, get } = await start();
      await runOk(app, `${SCHEDULE} Not approved yet.`, 'cli:alice');
      for (const path of [
        '/maintenances/M-1',
        '/maintenances/M-99',
        '/maintenances/M-0',
        '/maintenances/INC-1',
        '/maintenances/M-1x',
        '/maintenances/M-99999999999',
      ]) {
        const res = await get(path);
        expect(res.status, path).toBe(404);
        expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
        expect(visibleLines(await res.text())).toEqual(['Not found', 'There is no public maintenance at this address.', 'Back to the current status']);
      }
      expect((await get('/maintenances/M-1', { method: 'HEAD' })).status).toBe(404);
      await runOk(app, 'approve D-1', 'cli:bob');
      const ok = await get('/maintenances/m-1');
      expect(ok.status).toBe(200);
      expect(ok.headers.get('content-security-policy')).toMatch(/^default-src 'none'/);
      const etag = ok.headers.get('etag')!;
      expect((await get('/maintenances/M-1', { headers: { 'if-none-match': etag } })).status).toBe(304);
    });
  });

  describe('hostile input', () => {
    it('titles, texts and component names are escaped on every page and raw in JSON', async () => {
      const { app, get, json } = await start({ SITREP_APPROVAL: 'off' });
      await runOk(app, 'component add "<b>DB</b> & co"', 'cli:admin');
      const title = "<script>alert(1)</script> “quoted” & 'single'";
      // (Straight double quotes group words in the command language, so the attribute is single-quoted.)
      const body = "<img src=x onerror=alert(2)> </p><a href='javascript:alert(3)'>click</a>";
      await runOk(app, `maintenance schedule "${title}" starts:2026-12-07T22:00 ends:2026-12-08T01:00 components:b-db-b-co ${body}`, 'cli:alice');
      await runOk(app, `maintenance schedule "<i>second</i>" starts:2026-12-07T20:00 ends:2026-12-07T21:00 components:b-db-b-co <u>upcoming</u>`, 'cli:alice');
      await runOk(app, 'maintenance start M-2', 'cli:alice');
      const m1 = (await json('scheduled-maintenances.json')).scheduled_maintenances.find((m: any) => m.id === 'M-1');
      // JSON carries them raw (escaping is the renderer's job).
      expect(m1.name).toBe(title);
      expect(m1.incident_updates[0].body).toBe(body);
      expect(m1.components[0].name).toBe('<b>DB</b> & co');
      for (const path of ['/', '/maintenances/M-1', '/maintenances/M-2']) {
        const html = await (await get(path)).text();
        const main = /<main[^>]*>([\s\S]*)<\/main>/.exec(html)![1]!;
        expect(main, path).not.toMatch(/<script|<img|<b>|<i>|<u>|href=.javascript/);
        // Every tag in <main> is one the page itself writes.
        for (const [, tag] of main.matchAll(/<\/?([a-zA-Z0-9]+)/g))
          expect(['h1', 'h2', 'h3', 'h4', 'p', 'a', 'div', 'span', 'strong', 'time', 'section', 'article', 'ol', 'ul', 'li']).toContain(tag);
      }
      const home = await (await get('/')).text();
      expect(home).toContain('&lt;script&gt;alert(1)&lt;/script&gt; “quoted” &amp; &#39;single&#39;');
      expect(home).toContain('&lt;b&gt;DB&lt;/b&gt; &amp; co');
      expect(visibleLines(home)).toContain('Under maintenance: <b>DB</b> & co');
      const page = visibleLines(await (await get('/maintenances/M-1')).text());
      expect(page[0]).toBe(title);
      expect(page).toContain(body);
    });
  });

  describe('changes made by another process', () => {
    it('a running server shows what the CLI scheduled, approved and started on the same database file', async () => {
      const file = tempDbFile();
      const env = { SITREP_DB: file, SITREP_APPROVAL: 'required', SITREP_TIMEZONE: ZONE };
      app = await engine.app(env);
      server = await startServer(app, 0, '127.0.0.1');
      const url = server.url;
      const doc = async (p: string): Promise<any> => (await fetch(`${url}/api/v2/${p}`)).json();
      const pgUrl = engine.databaseUrl(app);
      const run = cli(file, pgUrl ? { ...env, SITREP_DATABASE_URL: pgUrl } : env);
      expect((await run('component', 'add', 'Web App', '--as', 'admin')).code).toBe(0);
      expect((await run('approver', 'add', '@bob', '--as', 'admin')).code).toBe(0);
      expect(
        (await run('maintenance', 'schedule', 'Router swap', 'starts:2030-01-07T22:00', 'ends:2030-01-07T23:00', 'components:web-app', 'Short interruptions.'))
          .code,
      ).toBe(0);
      expect((await run('approve', 'D-1', '--as', 'bob')).code).toBe(0);
      await expect.poll(async () => ids(await doc('scheduled-maintenances/upcoming.json')), { timeout: 5_000, interval: 100 }).toEqual(['M-1']);
      expect((await run('maintenance', 'start', 'M-1', '--as', 'bob')).code).toBe(0);
      await expect.poll(async () => ids(await doc('scheduled-maintenances/active.json')), { timeout: 5_000, interval: 100 }).toEqual(['M-1']);
      expect(ids(await doc('scheduled-maintenances/upcoming.json'))).toEqual([]);
      expect(visibleLines(await (await fetch(`${url}/`)).text())).toContain('Maintenance in progress');
    });
  });

  describe('years of maintenance', () => {
    it('keeps old maintenance pages reachable while the snapshot holds only recent ones', async () => {
      const clock = { t: T0 };
      const { app, get, json } = await start({ SITREP_APPROVAL: 'off' }, clock);
      for (let i = 1; i <= 105; i++) {
        await runOk(
          app,
          `maintenance schedule "Window ${i}" starts:${new Date(clock.t + HOUR).toISOString()} ends:${new Date(clock.t + 2 * HOUR).toISOString()} Work ${i}.`,
          'cli:alice',
        );
        await runOk(app, `maintenance start M-${i}`, 'cli:alice');
        await runOk(app, `maintenance complete M-${i}`, 'cli:alice');
        clock.t += 3 * HOUR;
      }
      await runOk(
        app,
        `maintenance schedule "Still to come" starts:${new Date(clock.t + HOUR).toISOString()} ends:${new Date(clock.t + 2 * HOUR).toISOString()} Soon.`,
        'cli:alice',
      );
      const all = await json('scheduled-maintenances.json');
      expect(all.scheduled_maintenances).toHaveLength(50);
      expect(all.scheduled_maintenances[0].id).toBe('M-106');
      expect(ids(await json('scheduled-maintenances/upcoming.json'))).toEqual(['M-106']);
      // The oldest is no longer in every snapshot, yet its page is there.
      const old = await get('/maintenances/M-1');
      expect(old.status).toBe(200);
      expect(visibleLines(await old.text()).slice(0, 3)).toEqual(['Window 1', 'Scheduled Maintenance Report for Acme', 'Status: Completed']);
      expect((await get('/maintenances/M-107')).status).toBe(404);
    });
  });

  describe('maintenance in the feeds', () => {
    it('lists the announcement, the notices and approved updates in Atom and RSS alike, escaped, and nothing before approval', async () => {
      const { app: a, get } = await start();
      await runOk(
        a,
        `maintenance schedule "Disk <swap> & more" starts:2026-12-07T22:00 ends:2026-12-07T23:30 components:api We <b>upgrade</b> disks.`,
        'cli:alice',
      );
      for (const path of ['/history.atom', '/history.rss']) expect(await (await get(path)).text()).not.toContain('upgrade');
      await runOk(a, 'approve D-1', 'cli:bob');
      await runOk(a, 'maintenance start M-1', 'cli:bob');
      await runOk(a, 'maintenance update M-1 Half of the disks are done.', 'cli:alice');
      await runOk(a, 'approve D-3', 'cli:bob');
      const atom = await (await get('/history.atom')).text();
      const rss = await (await get('/history.rss')).text();
      for (const feed of [atom, rss]) {
        expect(feed).toContain('Scheduled maintenance: Disk &lt;swap&gt; &amp; more: Scheduled');
        expect(feed).toContain('Scheduled maintenance: Disk &lt;swap&gt; &amp; more: In progress');
        expect(feed).toContain('https://status.acme.example/maintenances/M-1#D-3');
        expect(feed).not.toContain('<b>');
      }
      // The same entries in both: three texts, in the same order.
      const atomIds = [...atom.matchAll(/<id>(https:\/\/status\.acme\.example\/maintenances\/[^<]+)<\/id>/g)].map((m) => m[1]);
      const rssIds = [...rss.matchAll(/<guid[^>]*>(https:\/\/status\.acme\.example\/maintenances\/[^<]+)<\/guid>/g)].map((m) => m[1]);
      expect(atomIds).toEqual([
        'https://status.acme.example/maintenances/M-1#D-3',
        'https://status.acme.example/maintenances/M-1#D-2',
        'https://status.acme.example/maintenances/M-1#D-1',
      ]);
      expect(rssIds).toEqual(atomIds);
    });
  });
});
