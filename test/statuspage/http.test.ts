import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type App, type RunningServer } from '../../src/main.js';
import { cli, tempDbFile } from '../helpers.js';
import { engines } from '../support/engines.js';
import { publicText, runOk, visibleLines } from './support.js';

// The built-in status page over real HTTP: what is public and when, escaping and CSP, caching
// headers, and the in-memory snapshot; on both engines.

describe.each(engines)('the status page on $name', (engine) => {
  if (engine.skip) it.skip(engine.skip, () => {});

  let app: App | null = null;
  let server: RunningServer | null = null;
  afterEach(async () => {
    await server?.close();
    await app?.close();
    server = null;
    app = null;
  });

  async function start(env: Record<string, string> = {}) {
    app = await engine.app({ SITREP_APPROVAL: 'required', SITREP_ORG_NAME: 'Acme', ...env });
    server = await startServer(app, 0, '127.0.0.1');
    await runOk(app, 'approver add @bob', 'cli:admin');
    return { app, url: server.url };
  }

  /** Everything the public can read: both pages, every API document, both feeds. */
  const everythingPublic = (url: string) => publicText(url, ['/', '/incidents/INC-1', '/incidents/INC-1/chart.svg']);

  describe('what is public, and when', () => {
    it('an incident is 404 until its first approved update; drafts, internal updates and notes never appear anywhere', async () => {
      const { app, url } = await start();
      await runOk(app, 'component add "Payments API"', 'cli:admin');
      await runOk(app, 'declare "SECRET-TITLE-leak?" components:payments-api=major', 'cli:alice');
      await runOk(app, 'update status:identified SECRET-UPDATE the primary DB at 10.1.2.3 is wedged', 'cli:alice');
      await runOk(app, 'note SECRET-NOTE customer Initech escalated', 'cli:alice');
      await runOk(app, 'draft SECRET-DRAFT not approved yet', 'cli:alice');

      expect((await fetch(`${url}/incidents/INC-1`)).status).toBe(404);
      const before = await everythingPublic(url);
      expect(before).not.toMatch(/SECRET/);
      // Internal component status is not public either: the page still says all is well.
      const summary: any = await (await fetch(`${url}/api/v2/summary.json`)).json();
      expect(summary.status.indicator).toBe('none');
      expect(summary.components[0].status).toBe('operational');
      expect(summary.incidents).toEqual([]);

      await runOk(app, 'reject D-1 SECRET-REJECTED wording', 'cli:bob');
      const d = await runOk(app, 'draft status:identified We found the cause of failed payments.', 'cli:alice');
      await runOk(app, `approve ${String(d.data.id)}`, 'cli:bob');
      await runOk(app, 'update SECRET-LATER internal chatter after publishing', 'cli:alice');
      await runOk(app, 'note SECRET-LATER-NOTE', 'cli:alice');

      const page = await fetch(`${url}/incidents/INC-1`);
      expect(page.status).toBe(200);
      const lines = visibleLines(await page.text());
      expect(lines).toContain('Identified');
      expect(lines).toContain('We found the cause of failed payments.');
      const after = await everythingPublic(url);
      expect(after).toContain('We found the cause of failed payments.');
      // The title becomes public with the incident; nothing else internal does.
      expect(after.replace(/SECRET-TITLE-leak\?/g, '')).not.toMatch(/SECRET/);
      const s2: any = await (await fetch(`${url}/api/v2/summary.json`)).json();
      expect(s2.components[0].status).toBe('major_outage');
      expect(s2.incidents.map((i: any) => [i.id, i.status, i.incident_updates.length])).toEqual([['INC-1', 'identified', 1]]);
    });

    it('an internal resolve changes nothing public until resolved text is approved', async () => {
      const { app, url } = await start();
      await runOk(app, 'component add "Payments API"', 'cli:admin');
      await runOk(app, 'declare "Payments failing" components:payments-api=major', 'cli:alice');
      await runOk(app, `approve ${String((await runOk(app, 'draft Investigating failed payments.', 'cli:alice')).data.id)}`, 'cli:bob');
      await runOk(app, 'resolve', 'cli:alice');
      let s: any = await (await fetch(`${url}/api/v2/summary.json`)).json();
      expect(s.incidents.map((i: any) => i.status)).toEqual(['investigating']);
      expect(s.components[0].status).toBe('major_outage');
      const r = await runOk(app, 'draft INC-1 status:resolved Payments work again.', 'cli:alice');
      await runOk(app, `approve ${String(r.data.id)}`, 'cli:bob');
      s = await (await fetch(`${url}/api/v2/summary.json`)).json();
      expect(s.incidents).toEqual([]);
      expect(s.components[0].status).toBe('operational');
      expect(s.status.description).toBe('All Systems Operational');
    });
  });

  describe('safety', () => {
    it('every user string is escaped in HTML and the feed, raw in JSON; a CSP forbids scripts', async () => {
      const { app, url } = await start({ SITREP_APPROVAL: 'off' });
      const evil = '<img src=x onerror=alert(1)>';
      const slug = String((await runOk(app, `component add "${evil} DB" group:<b>Core</b>`, 'cli:admin')).data.slug);
      await runOk(app, `declare "${evil}" components:${slug}=major`, 'cli:alice');
      await runOk(app, 'draft <script>alert(2)</script> & more', 'cli:alice');

      for (const path of ['/', '/incidents/INC-1']) {
        const res = await fetch(url + path);
        const html = await res.text();
        // The one image is the incident's own chart; no user string became markup.
        expect((html.match(/<img[^>]*>/g) ?? []).filter((tag) => !tag.startsWith('<img src="/incidents/INC-1/chart.svg"'))).toEqual([]);
        expect(html).not.toContain('<img src=x');
        expect(html).not.toContain('<script');
        expect(html).not.toContain('<b>Core');
        expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
        const csp = res.headers.get('content-security-policy')!;
        expect(csp).toContain("default-src 'none'");
        expect(csp).not.toMatch(/script-src|unsafe-inline/);
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      }
      expect(visibleLines(await (await fetch(`${url}/incidents/INC-1`)).text())).toContain(evil);
      const feed = await (await fetch(`${url}/history.atom`)).text();
      expect(feed).toContain('&lt;script&gt;alert(2)&lt;/script&gt; &amp; more');
      expect(feed).not.toContain('<script');
      const json: any = await (await fetch(`${url}/api/v2/incidents.json`)).json();
      expect(json.incidents[0].name).toBe(evil);
      expect(json.incidents[0].incident_updates[0].body).toBe('<script>alert(2)</script> & more');
    });
  });

  describe('HTTP caching and methods', () => {
    it('ETag + If-None-Match gives 304; a publish changes the ETag; HEAD has headers and no body; CORS for GET', async () => {
      const { app, url } = await start({ SITREP_APPROVAL: 'off' });
      await runOk(app, 'component add "API"', 'cli:admin');
      const first = await fetch(`${url}/api/v2/summary.json`);
      const etag = first.headers.get('etag')!;
      expect(etag).toMatch(/^".+"$/);
      expect(first.headers.get('cache-control')).toMatch(/max-age=\d+/);
      expect(first.headers.get('access-control-allow-origin')).toBe('*');
      await first.text();

      const again = await fetch(`${url}/api/v2/summary.json`, { headers: { 'if-none-match': etag } });
      expect(again.status).toBe(304);
      expect(again.headers.get('etag')).toBe(etag);
      expect(await again.text()).toBe('');
      expect((await fetch(`${url}/api/v2/summary.json`, { headers: { 'if-none-match': `"other", W/${etag}` } })).status).toBe(304);

      const head = await fetch(`${url}/api/v2/summary.json`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(Number(head.headers.get('content-length'))).toBeGreaterThan(100);
      expect(await head.text()).toBe('');
      expect((await fetch(`${url}/`, { method: 'HEAD' })).status).toBe(200);

      const pre = await fetch(`${url}/api/v2/status.json`, {
        method: 'OPTIONS',
        headers: { origin: 'https://example.com', 'access-control-request-method': 'GET' },
      });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-methods')).toContain('GET');

      await runOk(app, 'declare "API slow" components:api=degraded', 'cli:alice');
      await runOk(app, 'draft We are looking into slow API responses.', 'cli:alice');
      const changed = await fetch(`${url}/api/v2/summary.json`, { headers: { 'if-none-match': etag } });
      expect(changed.status).toBe(200);
      expect(changed.headers.get('etag')).not.toBe(etag);
      expect(((await changed.json()) as any).status).toEqual({ indicator: 'minor', description: 'Minor Service Outage' });
      expect((await fetch(`${url}/api/v2/summary.json`, { method: 'POST' })).status).toBe(405);
    });

    it('answers from the snapshot: many requests, one database load per change', async () => {
      const { app, url } = await start({ SITREP_APPROVAL: 'off' });
      await runOk(app, 'component add "API"', 'cli:admin');
      const rebuilds = async () => Number(/sitrep_statuspage_snapshot_rebuilds_total (\d+)/.exec(await (await fetch(`${url}/metrics`)).text())![1]);
      await fetch(`${url}/api/v2/summary.json`).then((r) => r.text());
      const before = await rebuilds();
      for (let i = 0; i < 40; i++) {
        const path = ['/', '/api/v2/summary.json', '/api/v2/incidents.json', '/history.atom'][i % 4]!;
        await (await fetch(url + path)).text();
      }
      expect(await rebuilds()).toBe(before);
      await runOk(app, 'declare "API slow" components:api=degraded', 'cli:alice');
      await runOk(app, 'draft Looking.', 'cli:alice');
      await Promise.all(Array.from({ length: 20 }, () => fetch(`${url}/api/v2/summary.json`).then((r) => r.text())));
      expect(await rebuilds()).toBe(before + 1);
      // Internal writes (updates, notes, drafts awaiting approval) change nothing public: no rebuild.
      await runOk(app, 'update components:api=major internal only', 'cli:alice');
      await runOk(app, 'note internal only', 'cli:alice');
      await Promise.all(Array.from({ length: 20 }, () => fetch(`${url}/api/v2/summary.json`).then((r) => r.text())));
      expect(await rebuilds()).toBe(before + 1);
    });
  });

  describe('the front page during an incident', () => {
    it('shows the banner, the active incident with its latest update, and grouped components', async () => {
      const { app, url } = await start({ SITREP_APPROVAL: 'off', SITREP_TIMEZONE: 'Europe/Berlin' });
      await runOk(app, 'component add "Checkout" group:Shop', 'cli:admin');
      await runOk(app, 'component add "Search" group:Shop', 'cli:admin');
      await runOk(app, 'component add "Docs"', 'cli:admin');
      await runOk(app, 'declare "Checkout down" components:checkout=major', 'cli:alice');
      await runOk(app, 'draft status:investigating First words.', 'cli:alice');
      await runOk(app, 'draft status:identified Latest words.', 'cli:alice');
      const lines = visibleLines(await (await fetch(`${url}/`)).text());
      expect(lines[0]).toBe('Major System Outage');
      expect(lines.slice(1, 5)).toEqual([
        'Active incidents',
        'Checkout down',
        'Identified - Latest words.',
        expect.stringMatching(/^Posted [A-Z][a-z]{2} \d{2}, \d{4} - \d{2}:\d{2} /),
      ]);
      expect(lines).not.toContain('First words.');
      const comp = lines.indexOf('Components');
      expect(lines.slice(comp + 1, comp + 5)).toEqual(['Shop', 'Checkout', 'Major outage', expect.stringContaining('% uptime')]);
      expect(lines).toContain('Docs');
      const summary: any = await (await fetch(`${url}/api/v2/summary.json`)).json();
      expect(summary.components.map((c: any) => [c.name, c.group, c.status])).toEqual([
        ['Shop', true, 'major_outage'],
        ['Checkout', false, 'major_outage'],
        ['Search', false, 'operational'],
        ['Docs', false, 'operational'],
      ]);
      expect(summary.components[0].components).toEqual(['checkout', 'search']);
    });
  });

  describe('changes made by another process', () => {
    it('a running server shows what the CLI published on the same database file', async () => {
      const file = tempDbFile();
      const env = { SITREP_DB: file, SITREP_APPROVAL: 'off' };
      app = await engine.app(env);
      server = await startServer(app, 0, '127.0.0.1');
      const url = server.url;
      expect(((await (await fetch(`${url}/api/v2/summary.json`)).json()) as any).incidents).toEqual([]);
      const url2 = engine.databaseUrl(app);
      const run = cli(file, url2 ? { ...env, SITREP_DATABASE_URL: url2 } : env);
      expect((await run('component', 'add', 'Web App')).code).toBe(0);
      expect((await run('declare', 'Login broken', 'components:web-app=major')).code).toBe(0);
      expect((await run('draft', 'We are investigating failed logins.')).code).toBe(0);
      await expect
        .poll(async () => ((await (await fetch(`${url}/api/v2/summary.json`)).json()) as any).incidents.map((i: any) => i.name), {
          timeout: 5_000,
          interval: 100,
        })
        .toEqual(['Login broken']);
      expect((await fetch(`${url}/incidents/INC-1`)).status).toBe(200);
    });
  });

  describe('a database file, read right after writes', () => {
    it('answers with what was just written: every read sent after a change sees it, concurrent ones included', async () => {
      const file = tempDbFile();
      app = await engine.app({ SITREP_DB: file, SITREP_APPROVAL: 'off' });
      server = await startServer(app, 0, '127.0.0.1');
      const url = server.url;
      const summary = async () => (await (await fetch(`${url}/api/v2/summary.json`)).json()) as any;
      expect((await summary()).incidents).toEqual([]);
      await runOk(app, 'component add "Web App"', 'cli:admin');
      await runOk(app, 'declare "Login broken" components:web-app=major', 'cli:alice');
      await runOk(app, 'draft INC-1 We are investigating failed logins.', 'cli:alice');
      let s = await summary();
      expect(s.incidents.map((i: any) => [i.name, i.status])).toEqual([['Login broken', 'investigating']]);
      expect(s.components.map((c: any) => [c.name, c.status])).toEqual([['Web App', 'major_outage']]);
      // Concurrent readers around a change: none of those sent after it sees the old state.
      await runOk(app, 'draft INC-1 status:resolved Logins work again.', 'cli:alice');
      const after = await Promise.all(Array.from({ length: 20 }, () => summary()));
      for (s of after) {
        expect(s.incidents).toEqual([]);
        expect(s.components.map((c: any) => c.status)).toEqual(['operational']);
      }
      const page = await fetch(`${url}/incidents/INC-1`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('Logins work again.');
      expect((await fetch(`${url}/incidents/INC-2`)).status).toBe(404);
    });
  });

  describe('years of history', () => {
    it('keeps old incident reports reachable while the snapshot holds only recent ones', async () => {
      const clock = { now: Date.parse('2026-01-05T12:00:00Z') };
      app = await engine.app({ SITREP_APPROVAL: 'off' }, () => clock.now);
      server = await startServer(app, 0, '127.0.0.1');
      const url = server.url;
      for (let i = 1; i <= 103; i++) {
        await runOk(app, `declare "Old incident ${i}"`, 'cli:alice');
        await runOk(app, `draft INC-${i} status:resolved Old incident ${i} was fixed.`, 'cli:alice');
        clock.now += 60_000;
      }
      clock.now += 120 * 86_400_000;
      await runOk(app, 'component add "API"', 'cli:admin'); // a change, so the snapshot is rebuilt at the new time
      const list: any = await (await fetch(`${url}/api/v2/incidents.json`)).json();
      expect(list.incidents).toHaveLength(50);
      expect(list.incidents[0].name).toBe('Old incident 103');
      for (const n of [1, 2, 3, 103]) {
        const res = await fetch(`${url}/incidents/INC-${n}`);
        expect(res.status).toBe(200);
        expect(visibleLines(await res.text())).toContain(`Old incident ${n} was fixed.`);
      }
      const a = await fetch(`${url}/incidents/INC-1`);
      expect((await fetch(`${url}/incidents/INC-1`, { headers: { 'if-none-match': a.headers.get('etag')! } })).status).toBe(304);
      expect((await fetch(`${url}/incidents/INC-104`)).status).toBe(404);
    });
  });
});
