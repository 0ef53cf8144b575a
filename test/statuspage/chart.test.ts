import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type App, type RunningServer } from '../../src/main.js';
import { runOk } from './support.js';
import { all, parseSvg, titleOf } from './svg.js';
import { engines } from '../support/engines.js';

describe.each(engines)('the incident chart on $name', (engine) => {
  if (engine.skip) it.skip(engine.skip, () => {});

  // GET /incidents/INC-n/chart.svg over real HTTP: public only from the first published update,
  // cached like the page, public data only, every string escaped (read back with a strict parser).

  let app: App | null = null;
  let server: RunningServer | null = null;
  afterEach(async () => {
    await server?.close();
    await app?.close();
    server = null;
    app = null;
  });

  async function start(env: Record<string, string> = {}) {
    app = await engine.app({ SITREP_APPROVAL: 'required', SITREP_ORG_NAME: 'Acme', SITREP_TIMEZONE: 'America/Los_Angeles', ...env });
    server = await startServer(app, 0, '127.0.0.1');
    await runOk(app, 'approver add @bob', 'cli:admin');
    return { app, url: server.url };
  }

  async function publish(a: App, text: string) {
    const d = await runOk(a, text, 'cli:alice');
    await runOk(a, `approve ${String(d.data.draft ?? d.data.id)}`, 'cli:bob');
  }

  const chart = async (url: string, id = 'INC-1') => {
    const res = await fetch(`${url}/incidents/${id}/chart.svg`);
    return { res, body: await res.text() };
  };

  describe('GET /incidents/INC-n/chart.svg', () => {
    it('is 404 for unknown ids and until the first published update, then an SVG', async () => {
      const { app, url } = await start();
      await runOk(app, 'component add "Payments API"', 'cli:admin');
      for (const id of ['INC-1', 'INC-99', 'INC-x', 'nonsense']) expect((await chart(url, id)).res.status).toBe(404);
      await runOk(app, 'declare "Payments failing" components:payments-api=major', 'cli:alice');
      await runOk(app, 'update Looking at the database', 'cli:alice');
      await runOk(app, 'draft Investigating failed payments.', 'cli:alice');
      const before = await chart(url);
      expect(before.res.status).toBe(404);
      expect(before.body).not.toContain('Payments failing');
      await runOk(app, 'approve D-1', 'cli:bob');
      const after = await chart(url);
      expect(after.res.status).toBe(200);
      expect(after.res.headers.get('content-type')).toMatch(/^image\/svg\+xml(;|$)/);
      const svg = parseSvg(after.body);
      expect(all(svg, (e) => e.name === 'g' && e.attrs.class === 'lane').map(titleOf)).toEqual([
        expect.stringMatching(/^Payments API: major outage at worst, \d\d:\d\d P[SD]T – still affected/),
      ]);
      expect(all(svg, (e) => e.name === 'g' && e.attrs.class === 'update-tick')).toHaveLength(1);
      expect(svg.attrs['aria-label']).toContain('Payments API major outage at worst');
      // The page shows it, with its words as the alt text.
      const page = await (await fetch(`${url}/incidents/INC-1`)).text();
      expect(page).toMatch(
        /<img src="\/incidents\/INC-1\/chart\.svg" width="720" height="\d+" alt="Public status of each affected component of INC-1 over time, [^"]*Payments API major outage at worst/,
      );
    });

    it('has the page caching rules: same Cache-Control, an ETag with 304, HEAD without a body, a new ETag after a publish', async () => {
      const { app, url } = await start();
      await runOk(app, 'component add "API"', 'cli:admin');
      await runOk(app, 'declare "API slow" components:api=degraded', 'cli:alice');
      await publish(app, 'draft We are looking into slow responses.');
      const page = await fetch(`${url}/incidents/INC-1`);
      await page.text();
      const first = await fetch(`${url}/incidents/INC-1/chart.svg`);
      await first.text();
      expect(first.headers.get('cache-control')).toBe(page.headers.get('cache-control'));
      expect(first.headers.get('x-content-type-options')).toBe('nosniff');
      const csp = first.headers.get('content-security-policy')!;
      expect(csp).toContain("default-src 'none'");
      expect(csp).not.toMatch(/script-src|unsafe-inline/);
      const etag = first.headers.get('etag')!;
      expect(etag).toMatch(/^".+"$/);

      const again = await fetch(`${url}/incidents/INC-1/chart.svg`, { headers: { 'if-none-match': etag } });
      expect(again.status).toBe(304);
      expect(await again.text()).toBe('');
      const head = await fetch(`${url}/incidents/INC-1/chart.svg`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('etag')).toBe(etag);
      expect(Number(head.headers.get('content-length'))).toBeGreaterThan(0);
      expect(await head.text()).toBe('');

      await publish(app, 'resolve All fast again.');
      const resolved = await fetch(`${url}/incidents/INC-1/chart.svg`, { headers: { 'if-none-match': etag } });
      expect(resolved.status).toBe(200);
      expect(resolved.headers.get('etag')).not.toBe(etag);
      const svg = parseSvg(await resolved.text());
      expect(all(svg, (e) => e.name === 'g' && e.attrs.class === 'update-tick').map(titleOf)).toEqual([
        expect.stringMatching(/^Investigating · posted /),
        expect.stringMatching(/^Resolved · posted /),
      ]);
      expect(titleOf(all(svg, (e) => e.attrs.class === 'lane')[0]!)).toMatch(
        /^API: degraded performance at worst, \d\d:\d\d P[SD]T – \d\d:\d\d P[SD]T \(\d+m impaired\)$/,
      );
    });

    it('escapes a hostile component name and incident title: read back strictly, they are exactly what was typed', async () => {
      const { app, url } = await start({ SITREP_APPROVAL: 'off' });
      const slug = String((await runOk(app, `component add "</text><script>alert(1)</script> & 'A' <b>"`, 'cli:admin')).data.slug);
      await runOk(app, `declare "<svg onload=alert(2)> ]]> &amp; <![CDATA[x]]>" components:${slug}=partial`, 'cli:alice');
      // As stored (the command line's own quoting aside).
      const listed: any = (await runOk(app, 'component list', 'cli:admin')).data;
      const name = String(listed.components[0].name);
      const title = String((await runOk(app, 'show INC-1', 'cli:alice')).data.title);
      expect(name).toContain('<script>');
      expect(title).toContain('<svg onload');
      await runOk(app, 'draft <foreignObject>alert(3)</foreignObject> is being looked at', 'cli:alice');
      const { res, body } = await chart(url);
      expect(res.status).toBe(200);
      expect(body).not.toContain('<script');
      expect(body).not.toContain('<svg onload');
      expect(body).not.toContain('<foreignObject');
      const svg = parseSvg(body);
      expect(all(svg, (e) => e.name === 'script' || e.name === 'foreignObject')).toEqual([]);
      expect(all(svg, (e) => Object.keys(e.attrs).some((a) => /^on|href$/i.test(a)))).toEqual([]);
      // Read back, the strings are exactly what was typed.
      expect(titleOf(svg)).toBe(`${title} (INC-1): public status over time`);
      const lane = all(svg, (e) => e.attrs.class === 'lane')[0]!;
      expect(titleOf(lane)).toMatch(new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: partial outage at worst`));
      expect(svg.attrs['aria-label']).toContain(name);
    });

    it('holds public data only: no internal update, note, draft or unpublished component status', async () => {
      const { app, url } = await start();
      for (const c of ['Web', 'SMS', 'Secret Backend']) await runOk(app, `component add "${c}"`, 'cli:admin');
      await runOk(app, 'declare "Messages delayed" components:web=degraded', 'cli:alice');
      await publish(app, 'draft We are looking into delayed messages.');
      await runOk(app, 'update components:secret-backend=major,web=major INTERNAL-UPDATE db primary at 10.0.0.7', 'cli:alice');
      await runOk(app, 'note INTERNAL-NOTE customer Acme angry', 'cli:alice');
      await runOk(app, 'draft components:sms=partial PENDING-DRAFT not approved yet', 'cli:alice');
      const { body } = await chart(url);
      for (const secret of ['INTERNAL', 'PENDING-DRAFT', 'Secret Backend', '10.0.0.7', 'Acme', 'SMS']) expect(body).not.toContain(secret);
      const svg = parseSvg(body);
      // Web stays as customers were told (degraded), not as set internally since (major).
      expect(all(svg, (e) => e.name === 'rect' && (e.attrs.class ?? '').startsWith('band ')).map((r) => r.attrs.class)).toEqual([
        'band st-degraded_performance',
      ]);
      expect(all(svg, (e) => e.attrs.class === 'lane').map(titleOf)).toEqual([expect.stringMatching(/^Web: degraded performance at worst/)]);
      expect(all(svg, (e) => e.attrs.class === 'update-tick')).toHaveLength(1);
    });

    it('the strict parser used here refuses what is not well-formed SVG', () => {
      expect(() => parseSvg('<svg xmlns="http://www.w3.org/2000/svg"><g></svg>')).toThrow();
      expect(() => parseSvg('<svg xmlns="http://www.w3.org/2000/svg"><text>a & b</text></svg>')).toThrow();
      expect(() => parseSvg('<svg><g/></svg>')).toThrow(/SVG namespace/);
      expect(parseSvg('<svg xmlns="http://www.w3.org/2000/svg"><g class="lane"/></svg>').children).toHaveLength(1);
    });
  });
});
