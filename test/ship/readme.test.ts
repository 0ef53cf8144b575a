import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VERBS } from '../../src/commands/help.js';
import { packageJson, ROOT } from './support.js';

// The README is the product's front page and docs/reference.md its manual: a new user who reads
// only the first screen can start Sitrep and declare an incident, every link and picture they
// follow exists, and the reference names every command and every variable Sitrep knows.

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const README = read('README.md');
const REFERENCE = read('docs/reference.md');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const h = !fenced && /^#{1,6} (.+)$/.exec(line);
    if (h) out.add(slug(h[1]!));
  }
  return out;
}

/** Relative links and images of a markdown file: [text](target) and <img src="target">. */
function links(markdown: string): string[] {
  const prose = markdown.replace(/```[\s\S]*?```/g, '');
  const md = [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
  const img = [...prose.matchAll(/<img [^>]*src="([^"]+)"/g)].map((m) => m[1]!);
  return [...md, ...img].filter((l) => !/^[a-z]+:/i.test(l));
}

describe('README.md', () => {
  // What a reader sees before scrolling: the title, the pitch, the pictures and the quick start.
  const firstScreen = README.slice(0, README.indexOf('\n## Features'));

  it('opens with what Sitrep is and pictures of the status page and a Slack incident thread', () => {
    expect(firstScreen).toMatch(/^# Sitrep\n/);
    expect(firstScreen).toContain('Slack');
    expect(firstScreen).toContain('status page');
    expect(firstScreen).toContain('src="docs/img/status-page.png"');
    expect(firstScreen).toContain('src="docs/img/slack-thread.png"');
  });

  it('has a quick start of three commands that start Sitrep and declare an incident', () => {
    const block = /## Quick start[\s\S]*?```sh\n([\s\S]*?)```/.exec(firstScreen)?.[1];
    const commands = block!
      .split('\n')
      .map((l) => l.replace(/#.*$/, '').trim())
      .filter(Boolean);
    expect(commands).toEqual(['npm install', 'npm start', 'npx sitrep declare "Checkout errors" sev:2']);
    const pkg = packageJson();
    // npm install builds (prepare), npm start serves, and `npx sitrep` is the package's own bin.
    expect(pkg.scripts.prepare).toMatch(/^tsc /);
    expect(pkg.scripts.start).toBe('node dist/src/bin.js serve');
    expect(pkg.bin?.sitrep).toBe('dist/src/bin.js');
  });

  it.each([
    ['README.md', README],
    ['docs/reference.md', REFERENCE],
  ])('%s: every relative link and picture exists, and every #anchor is a heading there', (file, text) => {
    const broken: string[] = [];
    for (const link of links(text)) {
      const [path, anchor] = link.split('#') as [string, string | undefined];
      const target = path ? join(dirname(file), path) : file;
      if (!existsSync(join(ROOT, target))) {
        broken.push(`${link}: no file ${target}`);
        continue;
      }
      if (anchor && target.endsWith('.md') && !anchors(read(target)).has(anchor)) broken.push(`${link}: no heading #${anchor} in ${target}`);
    }
    expect(broken).toEqual([]);
  });
});

describe('docs/reference.md', () => {
  const section = (name: string) => {
    const start = REFERENCE.indexOf(`\n## ${name}\n`);
    expect(start, `a "## ${name}" section`).toBeGreaterThan(-1);
    const end = REFERENCE.indexOf('\n## ', start + 1);
    return REFERENCE.slice(start, end === -1 ? undefined : end);
  };

  it('the command table names every command that `help` lists', () => {
    const table = section('The command language');
    const missing = VERBS.filter((v) => !new RegExp(`\\| \`${v}[ \`]|· \`${v}[ \`]`).test(table));
    expect(missing).toEqual([]);
  });

  it('the environment table names every variable Sitrep reads', () => {
    const config = read('src/config.ts');
    const names = new Set(config.match(/\b(?:SITREP|SLACK|MICROSOFT|STATUSPAGE|PAGERDUTY)_[A-Z_]*[A-Z]\b|\bPORT\b|\bLOG_LEVEL\b/g));
    expect(names.size).toBeGreaterThan(20);
    const table = section('Environment');
    expect([...names].filter((n) => !table.includes(n))).toEqual([]);
  });

  it('lists both feeds and the health check among the HTTP routes', () => {
    const routes = section('HTTP routes');
    for (const r of ['/history.atom', '/history.rss', '/healthz', '/metrics', '/slack/events', '/api/messages']) expect(routes).toContain(r);
  });
});
