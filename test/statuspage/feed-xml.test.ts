import Database from 'better-sqlite3';
import { SaxesParser } from 'saxes';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, startServer, type App, type RunningServer } from '../../src/main.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { xmlText } from '../../src/statuspage/feed.js';
import { cli, tempDbFile } from '../helpers.js';

// /history.atom stays readable even when the database holds characters XML 1.0 forbids: rows
// written before such text was refused on input, or written by hand. The feed is read back with a
// strict XML 1.0 parser, as a feed reader would.

let app: App | null = null;
let server: RunningServer | null = null;
afterEach(async () => {
  await server?.close();
  await app?.close();
  server = null;
  app = null;
});

/** Parses `xml` strictly; returns the first well-formedness error and the text of each element. */
function parseXml(xml: string): { error: string | null; texts: Map<string, string[]> } {
  const parser = new SaxesParser({ xmlns: true });
  let error: string | null = null;
  const texts = new Map<string, string[]>();
  const open: Array<{ name: string; text: string }> = [];
  parser.on('error', (e) => {
    error ??= e.message;
  });
  parser.on('opentag', (t) => open.push({ name: t.local, text: '' }));
  parser.on('text', (t) => {
    if (open.length) open[open.length - 1]!.text += t;
  });
  parser.on('closetag', () => {
    const el = open.pop()!;
    texts.set(el.name, [...(texts.get(el.name) ?? []), el.text]);
  });
  parser.write(xml).close();
  return { error, texts };
}

describe('the Atom feed with characters XML forbids already in the database', () => {
  it('still parses as XML 1.0, keeping every allowed character of the update and the title', async () => {
    const file = tempDbFile();
    const run = cli(file, { SITREP_APPROVAL: 'required' });
    expect((await run('approver', 'add', '@bob')).stderr).toBe('');
    expect((await run('declare', 'Checkout down', '--as', 'alice')).stderr).toBe('');
    expect((await run('draft', 'status:identified', 'We found it.', '--as', 'alice')).stderr).toBe('');
    expect((await run('approve', 'D-1', '--as', 'bob')).stderr).toBe('');

    // Written the way an older version or a hand-edit could have: straight into the SQLite file.
    // char() builds the code points; the blob cast stores the UTF-8-style bytes of a lone
    // surrogate, which no valid UTF-8 text contains.
    const raw = new Database(file);
    raw
      .prepare(
        `update customer_updates set body = 'We ' || char(65535) || 'found ' || char(65534) || 'the ' || char(1) || 'cause' || char(27) || '[31m, ' || cast(x'eda080' as text) || 'fixing.' where id = 1`,
      )
      .run();
    raw.prepare(`update incidents set title = 'Checkout' || char(65535) || ' down' || char(8) where id = 1`).run();
    raw.close();

    app = createApp(loadConfig({ SITREP_DB: file, LOG_LEVEL: 'silent', USER: 'tester' }), { log: createLogger('silent') });
    server = await startServer(app, 0, '127.0.0.1');
    const res = await fetch(`${server.url}/history.atom`);
    expect(res.status).toBe(200);
    const xml = await res.text();
    const { error, texts } = parseXml(xml);
    expect(error).toBeNull();
    const content = texts.get('content')![0]!;
    expect(content.replace(/\uFFFD/g, '')).toBe('We found the cause[31m, fixing.');
    expect(texts.get('title')).toContain('Checkout down: Identified');
  });

  it('drops lone surrogates and other forbidden characters but keeps emoji and escaped markup', async () => {
    expect(xmlText('a\uD800b\uDC00c')).toBe('abc');
    expect(xmlText('ok 😀 \u0000\u000b\uFFFE\uFFFF done')).toBe('ok 😀  done');
    expect(xmlText('<script>&\'"\t\n')).toBe('&lt;script&gt;&amp;&#39;&quot;\t\n');
    expect(parseXml(`<a>${xmlText('\uD83D x \uDE00 \u0001 <b> 😀')}</a>`).error).toBeNull();
  });
});
