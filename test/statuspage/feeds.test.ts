import { SaxesParser } from 'saxes';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type App, type RunningServer } from '../../src/main.js';
import { runOk } from './support.js';
import { engines } from '../support/engines.js';

describe.each(engines)('the feeds on $name', (engine) => {
  if (engine.skip) it.skip(engine.skip, () => {});

  // /history.atom and /history.rss over real HTTP: both parse as strict XML 1.0, list the same
  // entries (one feed model renders both), and every user string comes back exactly as written,
  // never as markup.

  let app: App | null = null;
  let server: RunningServer | null = null;
  afterEach(async () => {
    await server?.close();
    await app?.close();
    server = null;
    app = null;
  });

  interface El {
    name: string;
    attrs: Record<string, string>;
    text: string;
    children: El[];
  }

  /** Parses `xml` with a strict, namespace-aware parser into a tree; throws on any well-formedness error. */
  function parseXml(xml: string): El {
    const parser = new SaxesParser({ xmlns: true });
    const root: El = { name: '#document', attrs: {}, text: '', children: [] };
    const open: El[] = [root];
    parser.on('error', (e) => {
      throw e;
    });
    parser.on('opentag', (t) => {
      const attrs: Record<string, string> = {};
      for (const a of Object.values(t.attributes)) attrs[a.name] = a.value;
      const el: El = { name: `${t.uri}|${t.local}`, attrs, text: '', children: [] };
      open.at(-1)!.children.push(el);
      open.push(el);
    });
    parser.on('text', (t) => {
      open.at(-1)!.text += t;
    });
    parser.on('cdata', (t) => {
      open.at(-1)!.text += t;
    });
    parser.on('closetag', () => {
      open.pop();
    });
    parser.write(xml).close();
    return root.children[0]!;
  }

  const ATOM = 'http://www.w3.org/2005/Atom';
  const child = (el: El, name: string) => el.children.find((c) => c.name === name);
  const all = (el: El, name: string) => el.children.filter((c) => c.name === name);
  const text = (el: El, name: string) => child(el, name)?.text;

  /** The HTML of an RSS description back to the plain text it was made from. */
  function htmlToText(html: string): string {
    expect(html.replace(/<br>\n/g, '')).not.toMatch(/</);
    return html
      .replace(/<br>\n/g, '\n')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&amp;/g, '&');
  }

  // Double quotes group words in the command language, so the quote character is in ORG instead.
  const HOSTILE_TITLE = `<img src=x onerror=alert(1)> ]]> & 'single'`;
  const HOSTILE_BODY = `<script>alert(2)</script> &amp; ]]> <![CDATA[ x ]]>\nSecond line & <b>bold</b>`;
  const ORG = `Acme & <Sons> "Ltd"`;

  async function start() {
    app = await engine.app({ SITREP_APPROVAL: 'off', SITREP_ORG_NAME: ORG, SITREP_PUBLIC_URL: 'https://status.acme.example' });
    server = await startServer(app, 0, '127.0.0.1');
    await runOk(app, 'component add "Payments API"', 'cli:admin');
    await runOk(app, `declare ${HOSTILE_TITLE} components:payments-api=major`, 'cli:alice');
    await runOk(app, `draft ${HOSTILE_BODY}`, 'cli:alice');
    await runOk(app, 'draft status:identified We found the cause.', 'cli:alice');
    await runOk(app, 'declare "Search slow" components:payments-api=degraded', 'cli:alice');
    await runOk(app, 'draft INC-2 Search is slow for some customers.', 'cli:alice');
    return server.url;
  }

  async function feeds(url: string) {
    const [atomRes, rssRes] = await Promise.all([fetch(`${url}/history.atom`), fetch(`${url}/history.rss`)]);
    expect(atomRes.status).toBe(200);
    expect(rssRes.status).toBe(200);
    expect(atomRes.headers.get('content-type')).toBe('application/atom+xml; charset=utf-8');
    expect(rssRes.headers.get('content-type')).toBe('application/rss+xml; charset=utf-8');
    const atom = parseXml(await atomRes.text());
    const rss = parseXml(await rssRes.text());
    expect(atom.name).toBe(`${ATOM}|feed`);
    expect(rss.name).toBe('|rss');
    expect(rss.attrs.version).toBe('2.0');
    return { atom, rss, channel: child(rss, '|channel')! };
  }

  describe('the Atom and RSS feeds', () => {
    it('parse as XML and list the same entries, newest first, with the same ids, titles, links, times and text', async () => {
      const url = await start();
      const { atom, channel } = await feeds(url);

      const fromAtom = all(atom, `${ATOM}|entry`).map((e) => ({
        id: text(e, `${ATOM}|id`),
        title: text(e, `${ATOM}|title`),
        link: child(e, `${ATOM}|link`)!.attrs.href,
        at: Date.parse(text(e, `${ATOM}|published`)!),
        body: text(e, `${ATOM}|content`),
      }));
      const fromRss = all(channel, '|item').map((i) => ({
        id: text(i, '|guid'),
        title: text(i, '|title'),
        link: text(i, '|link'),
        at: Date.parse(text(i, '|pubDate')!),
        body: htmlToText(text(i, '|description')!),
      }));
      expect(fromAtom).toHaveLength(3);
      // RSS dates have whole seconds only.
      expect(fromRss).toEqual(fromAtom.map((e) => ({ ...e, at: Math.floor(e.at / 1000) * 1000 })));
      expect(fromAtom.map((e) => [e.id, e.title])).toEqual([
        ['https://status.acme.example/incidents/INC-2#D-3', 'Search slow: Investigating'],
        ['https://status.acme.example/incidents/INC-1#D-2', `${HOSTILE_TITLE}: Identified`],
        ['https://status.acme.example/incidents/INC-1#D-1', `${HOSTILE_TITLE}: Investigating`],
      ]);
      expect(fromAtom.map((e) => e.link)).toEqual([
        'https://status.acme.example/incidents/INC-2',
        'https://status.acme.example/incidents/INC-1',
        'https://status.acme.example/incidents/INC-1',
      ]);
      expect(fromAtom[2]!.body).toBe(HOSTILE_BODY);
      for (const e of all(atom, `${ATOM}|entry`)) {
        expect(child(e, `${ATOM}|title`)!.attrs.type).toBe('text');
        expect(child(e, `${ATOM}|content`)!.attrs.type).toBe('text');
      }
    });

    it('name the organisation exactly, link to the page and to themselves', async () => {
      const url = await start();
      const { atom, channel } = await feeds(url);
      expect(text(atom, `${ATOM}|title`)).toBe(`${ORG} status updates`);
      expect(text(child(atom, `${ATOM}|author`)!, `${ATOM}|name`)).toBe(ORG);
      expect(text(atom, `${ATOM}|id`)).toBe('https://status.acme.example/history.atom');
      expect(all(atom, `${ATOM}|link`).map((l) => [l.attrs.rel, l.attrs.href])).toEqual([
        ['self', 'https://status.acme.example/history.atom'],
        ['alternate', 'https://status.acme.example/'],
      ]);
      expect(text(channel, '|title')).toBe(`${ORG} status updates`);
      expect(text(channel, '|link')).toBe('https://status.acme.example/');
      expect(text(channel, '|description')).toContain(ORG);
      const self = child(channel, `${ATOM}|link`)!;
      expect([self.attrs.rel, self.attrs.href, self.attrs.type]).toEqual(['self', 'https://status.acme.example/history.rss', 'application/rss+xml']);
      // The newest entry's time, not the render time: a feed that did not change keeps its ETag.
      const updated = Date.parse(text(atom, `${ATOM}|updated`)!);
      expect(updated).toBe(Date.parse(text(all(atom, `${ATOM}|entry`)[0]!, `${ATOM}|updated`)!));
      expect(Date.parse(text(channel, '|lastBuildDate')!)).toBe(Math.floor(updated / 1000) * 1000);
    });

    it('never carry hostile text as markup', async () => {
      const url = await start();
      const rss = await (await fetch(`${url}/history.rss`)).text();
      const atom = await (await fetch(`${url}/history.atom`)).text();
      for (const xml of [rss, atom]) {
        expect(xml).not.toContain('<script');
        expect(xml).not.toContain('<img');
        expect(xml).not.toContain('<b>');
        expect(xml).not.toContain('<![CDATA[');
      }
      // RSS descriptions are HTML, so the text is escaped for HTML and then for XML.
      expect(rss).toContain('&amp;lt;script&amp;gt;alert(2)&amp;lt;/script&amp;gt; &amp;amp;amp;');
      expect(atom).toContain('&lt;script&gt;alert(2)&lt;/script&gt; &amp;amp;');
    });

    it('an empty feed is still valid; ETag and If-None-Match give 304 for RSS as for Atom', async () => {
      app = await engine.app({ SITREP_APPROVAL: 'off' });
      server = await startServer(app, 0, '127.0.0.1');
      const { atom, channel } = await feeds(server.url);
      expect(all(atom, `${ATOM}|entry`)).toEqual([]);
      expect(all(channel, '|item')).toEqual([]);
      for (const path of ['/history.rss', '/history.atom']) {
        const first = await fetch(server.url + path);
        await first.text();
        const etag = first.headers.get('etag')!;
        expect(etag).toMatch(/^".+"$/);
        const again = await fetch(server.url + path, { headers: { 'if-none-match': etag } });
        expect(again.status).toBe(304);
      }
    });

    it('the page advertises both feeds, in its head and its footer', async () => {
      const url = await start();
      const html = await (await fetch(`${url}/`)).text();
      expect(html).toMatch(/<link rel="alternate" type="application\/atom\+xml" [^>]*href="\/history\.atom">/);
      expect(html).toMatch(/<link rel="alternate" type="application\/rss\+xml" [^>]*href="\/history\.rss">/);
      const footer = /<footer>([\s\S]*)<\/footer>/.exec(html)![1]!;
      expect(footer).toContain('<a href="/history.atom">Atom feed</a>');
      expect(footer).toContain('<a href="/history.rss">RSS feed</a>');
    });
  });
});
