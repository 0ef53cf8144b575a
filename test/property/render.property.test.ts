import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { approvalDecided, approvalRequest, channelLink, rootMessage, threadReply } from '../../adapters/slack/blocks.js';
import { customerReply, customerRoot } from '../../adapters/slack/customer.js';
import { approvalCard, approvalDecidedCard, customerRootCard, customerUpdateCard, eventCard, rootCard, type Card } from '../../adapters/teams/cards.js';
import { getIncident } from '../../db/queries/incidents.js';
import { loadIncidentView } from '../../db/queries/views.js';
import { loadTimeline } from '../../db/queries/timeline.js';
import type { App } from '../../src/main.js';
import type { CustomerPayload } from '../../src/mirror/customer-channels.js';
import { renderChart } from '../../src/statuspage/chart.js';
import { esc, renderHome, renderIncident } from '../../src/statuspage/html.js';
import { loadPublicState } from '../../src/statuspage/model.js';
import { testApp } from '../helpers.js';
import { all, parseSvg, titleOf } from '../statuspage/svg.js';
import { printableText, runs, stringsIn } from './hostile.js';

// Whatever hostile text the grammar and the verbs accept renders as text on every surface: the
// status page (HTML), Slack (mrkdwn, internal thread and customer channels) and Teams (Adaptive
// Card markdown). The renderers are the real ones; the text comes from a real database.

const ZONE = 'UTC';
const ORG = 'Acme';
const PUBLIC_URL = 'https://status.acme.example';

interface World {
  app: App;
  title: string;
  body: string;
  component: string;
  reason: string;
}

async function run(app: App, text: string, actor: string) {
  return await app.run(text, actor, { platform: 'cli' });
}

/**
 * Declares an incident titled `title` affecting a component named `component`, gets `body`
 * approved and published, notes `note`, and rejects a second draft for `reason`. Returns null
 * when the grammar or a verb refused one of the hostile texts (that is its right).
 */
async function world(t: { title: string; body: string; component: string; note: string; reason: string }): Promise<World | null> {
  const app = testApp({ SITREP_APPROVAL: 'required', SITREP_ADMINS: 'cli:admin', SITREP_ORG_NAME: ORG, SITREP_PUBLIC_URL: PUBLIC_URL, SITREP_TIMEZONE: ZONE });
  const ok = async (text: string, actor: string) => {
    const r = await run(app, text, actor);
    if (!r.ok) throw new Error(`${text} → ${r.error.message}`);
    return r;
  };
  await ok('component add "Web App"', 'cli:admin');
  await ok('approver add @bob', 'cli:admin');
  const added = await run(app, `component add ${t.component}`, 'cli:admin');
  const comps = (await ok('component list', 'cli:admin')).reply.data.components as Array<{ slug: string; name: string }>;
  const extra = added.ok ? comps.find((c) => c.slug !== 'web-app') : undefined;
  const declared = await run(app, `declare ${t.title} components:web-app=major${extra ? `,${extra.slug}=partial` : ''}`, 'cli:alice');
  const drafted = declared.ok ? await run(app, `draft status:identified ${t.body}`, 'cli:alice') : null;
  if (!declared.ok || !drafted?.ok) {
    await app.close();
    return null;
  }
  await ok('approve D-1', 'cli:bob');
  await run(app, `note ${t.note}`, 'cli:alice');
  await ok('draft A second wording', 'cli:alice');
  const rejected = await run(app, `reject D-2 ${t.reason}`, 'cli:bob');
  return {
    app,
    title: (declared.command as { title: string }).title,
    body: (drafted.command as { text: string }).text,
    component: extra?.name ?? 'Web App',
    reason: rejected.ok ? (rejected.command as { reason: string }).reason : 'too vague',
  };
}

// --- HTML -------------------------------------------------------------------------------------

/** Each tag's name and attribute names: what an injected `<script>` or `" onclick=` would change. */
function tagShapes(html: string): Set<string> {
  const shapes = new Set<string>();
  for (const m of html.matchAll(/<(\/?[!a-zA-Z][a-zA-Z0-9-]*)([^<>]*)>/g)) {
    const attrs = [...m[2]!.matchAll(/\s([^\s=/>]+)(?:=(?:"[^"]*"|'[^']*'|[^\s>]+))?/g)].map((a) => a[1]!.toLowerCase()).sort();
    shapes.add(`${m[1]!.toLowerCase()} ${attrs.join(' ')}`);
  }
  return shapes;
}

function statusPages(w: World): string[] {
  const state = loadPublicState(w.app.db, { now: w.app.now(), zone: ZONE, orgName: ORG, publicUrl: PUBLIC_URL });
  expect(state.incidents).toHaveLength(1);
  return [renderHome(state), renderIncident(state, state.incidents[0]!)];
}

/** The incident chart, read back with a strict XML parser (it throws on anything not well-formed). */
function chart(w: World) {
  const state = loadPublicState(w.app.db, { now: w.app.now(), zone: ZONE, orgName: ORG, publicUrl: PUBLIC_URL });
  return parseSvg(renderChart(state, state.incidents[0]!, w.app.now()));
}

function expectTextOnly(html: string, allowed: Set<string>): void {
  for (const shape of tagShapes(html)) expect(allowed, `unexpected tag <${shape}>`).toContain(shape);
  // Outside the page's own stylesheet, every < and > is a tag and every & starts an entity.
  const text = html.replace(/<style>[\s\S]*?<\/style>/, '').replace(/<(\/?[!a-zA-Z][a-zA-Z0-9-]*)([^<>]*)>/g, '');
  expect(text).not.toMatch(/[<>]/);
  expect(text).not.toMatch(/&(?!amp;|lt;|gt;|quot;|#39;)/);
}

// --- Slack ------------------------------------------------------------------------------------

function mrkdwnTexts(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(mrkdwnTexts);
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const own = o.type === 'mrkdwn' && typeof o.text === 'string' ? [o.text] : [];
    return [...own, ...Object.values(o).flatMap(mrkdwnTexts)];
  }
  return [];
}

/**
 * Slack's special syntax is `<…>` (pings, links, mentions) and `&…;`; only the tokens Sitrep
 * writes itself may survive: date tokens, the status-page link in customer channels, and, in the
 * internal thread only, mentions of people (`<@U…>`, `<#C…>`) that the text named.
 */
function expectInertMrkdwn(text: string, where: 'internal' | 'customer'): void {
  let rest = text
    .replace(/<!date\^\d+\^[^|<>]*\|[^<>]*>/g, '')
    .split(`<${PUBLIC_URL}/incidents/INC-1|status page>`)
    .join('');
  if (where === 'internal') rest = rest.replace(/<@[UW][A-Z0-9]+>|<#C[A-Z0-9]+>/g, '');
  expect(rest, text).not.toContain('<');
  // > starts a quote only at the start of a line, where Sitrep puts it.
  expect(rest.replace(/^>/gm, ''), text).not.toContain('>');
  expect(rest, text).not.toMatch(/&(?!amp;|lt;|gt;)/);
}

async function slackMessages(w: World) {
  const db = w.app.db;
  const view = await loadIncidentView(db, await getIncident(db, 1));
  const payload: CustomerPayload = {
    incident: 'INC-1',
    title: w.title,
    status: 'identified',
    body: w.body,
    at: w.app.now(),
    url: `${PUBLIC_URL}/incidents/INC-1`,
    components: [{ name: w.component, status: 'partial_outage' }],
    zone: ZONE,
  };
  const internal = [
    rootMessage(view, ZONE, w.app.now()),
    ...(await loadTimeline(db, 1)).map((e) => threadReply(e, 'INC-1', ZONE)),
    approvalRequest({ id: 'D-1', incident: 'INC-1', author: 'cli:alice', status: 'identified', body: w.body }),
    approvalDecided({ id: 'D-1', decision: 'published', by: 'cli:bob', body: w.body }),
    approvalDecided({ id: 'D-2', decision: 'rejected', by: 'cli:bob', body: w.body, reason: w.reason }),
    channelLink('INC-1', w.title, 'C0INCIDENT'),
  ];
  return { internal, customer: [customerRoot(payload), customerReply(payload, [])] };
}

// --- Teams ------------------------------------------------------------------------------------

const ZWSP = '\u200B';

/**
 * An Adaptive Card TextBlock carrying user text is inert when no markdown can start in it: every
 * `*`, `_`, `[`, `]`, `~` and backtick is backslash-escaped, no line starts with an unescaped
 * heading, quote or list marker, and every `<` is followed by a zero-width space (so `<at>` never
 * parses). Read character by character, independently of how the renderer escapes.
 */
function expectInertMarkdown(text: string): void {
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\') {
      // Markdown escapes ASCII punctuation only; before anything else a backslash shows as itself.
      expect(text[i + 1] ?? '', `a backslash before ${JSON.stringify(text[i + 1])} in ${JSON.stringify(text)}`).toMatch(/^[!-/:-@[-`{-~]$/);
      i++;
      continue;
    }
    // Teams expands {{DATE(…)}} / {{TIME(…)}} in TextBlocks.
    if (ch === '{') expect(text[i + 1], `{{ in ${JSON.stringify(text)}`).not.toBe('{');
    expect('*_[]~`'.includes(ch), `unescaped ${ch} at ${i} in ${JSON.stringify(text)}`).toBe(false);
    if (ch === '<') expect(text[i + 1], `< without a zero-width space in ${JSON.stringify(text)}`).toBe(ZWSP);
  }
  for (const line of text.split('\n')) expect(line, `a line of ${JSON.stringify(text)}`).not.toMatch(/^\s*([#>+-]|\d+\.)/);
}

/** The text a reader sees: escapes and zero-width spaces taken away. */
const unmarkdown = (s: string) => s.replace(/\\(.)/gs, '$1').split(`<${ZWSP}`).join('<').split(`{${ZWSP}{`).join('{{');

const textOf = (card: Card, ...path: Array<string | number>): string => path.reduce<any>((v, k) => v[k], card) as string;

async function teamsUserTexts(w: World): Promise<Array<{ shown: string; typed: string }>> {
  const db = w.app.db;
  const view = await loadIncidentView(db, await getIncident(db, 1));
  const payload: CustomerPayload = {
    incident: 'INC-1',
    title: w.title,
    status: 'identified',
    body: w.body,
    at: w.app.now(),
    url: `${PUBLIC_URL}/incidents/INC-1`,
    components: [{ name: w.component, status: 'partial_outage' }],
    zone: ZONE,
  };
  const root = rootCard(view, ZONE, w.app.now());
  const rejected = approvalDecidedCard({ id: 'D-2', decision: 'rejected', by: 'cli:bob', body: w.body, reason: w.reason });
  const customerRootTitle = textOf(customerRootCard(payload), 'body', 0, 'text');
  const out = [
    { shown: textOf(root, 'body', 0, 'text').split(' · ').slice(1).join(' · '), typed: w.title },
    { shown: textOf(root, 'body', 5, 'text'), typed: w.body },
    {
      shown: textOf(approvalCard({ id: 'D-1', incident: 'INC-1', author: 'cli:alice', status: 'identified', body: w.body }), 'body', 1, 'items', 0, 'text'),
      typed: w.body,
    },
    { shown: textOf(rejected, 'body', 1, 'items', 0, 'text'), typed: w.body },
    { shown: textOf(rejected, 'body', 2, 'text').replace(/^Reason: /, ''), typed: w.reason },
    { shown: customerRootTitle.slice(customerRootTitle.indexOf(' ') + 1), typed: w.title },
    { shown: textOf(customerUpdateCard(payload, []), 'body', 1, 'text'), typed: w.body },
    ...(await loadTimeline(db, 1)).map((e) => ({ shown: textOf(eventCard(e, ZONE), 'body', 1, 'text'), typed: e.text })),
  ];
  const factSet = root.body[3];
  const facts = factSet?.type === 'FactSet' ? factSet.facts : [];
  const fact = facts.find((f) => unmarkdown(f.title) === w.component);
  expect(fact, `component ${w.component} on the root card`).toBeDefined();
  out.push({ shown: fact!.title, typed: w.component });
  return out;
}

// --- the properties -----------------------------------------------------------------------------

// Short enough that no renderer clips them, so "shown as typed" can be checked exactly.
const texts = fc.record({
  title: printableText(6, { oneLine: true }),
  body: printableText(10),
  component: printableText(3, { oneLine: true }),
  note: printableText(8),
  reason: printableText(5),
});

let pageShapes: Set<string>;
beforeAll(async () => {
  const plain = (await world({ title: 'Checkout errors', body: 'We found the cause.', component: 'Payments API', note: 'watching', reason: 'too vague' }))!;
  pageShapes = new Set(statusPages(plain).flatMap((p) => [...tagShapes(p)]));
  await plain.app.close();
});

describe('accepted hostile text renders as text', () => {
  it('on the status page (and its chart), in Slack and in Teams', async () => {
    let rendered = 0;
    await fc.assert(
      fc.asyncProperty(texts, async (t) => {
        const w = await world(t);
        if (!w) return;
        rendered++;
        try {
          const [home, report] = statusPages(w);
          for (const page of [home!, report!]) expectTextOnly(page, pageShapes);
          expect(report).toContain(`<h1>${esc(w.title)}</h1>`);
          expect(report).toContain(`<div class="body">${esc(w.body)}</div>`);
          expect(home).toContain(esc(w.component));

          // The chart (SVG): well-formed, no element from the text, the strings read back as typed.
          const svg = chart(w);
          expect(all(svg, (e) => !['svg', 'title', 'desc', 'style', 'rect', 'text', 'g', 'line'].includes(e.name))).toEqual([]);
          expect(titleOf(svg)).toBe(`${w.title} (INC-1): public status over time`);
          expect(all(svg, (e) => e.attrs.class === 'lane').some((l) => titleOf(l)!.startsWith(`${w.component}: `))).toBe(true);

          const slack = await slackMessages(w);
          for (const m of slack.internal) for (const text of mrkdwnTexts(m.blocks)) expectInertMrkdwn(text, 'internal');
          for (const m of slack.customer) for (const text of mrkdwnTexts(m.blocks)) expectInertMrkdwn(text, 'customer');
          // Notification text (what a phone shows) cannot ping either.
          for (const m of [...slack.internal, ...slack.customer]) expect(m.text).not.toMatch(/[<>]/);

          for (const { shown, typed } of await teamsUserTexts(w)) {
            expectInertMarkdown(shown);
            expect(unmarkdown(shown)).toBe(typed);
          }
          for (const [path, s] of stringsIn(rootCard(await loadIncidentView(w.app.db, await getIncident(w.app.db, 1)), ZONE, w.app.now()))) {
            if (s.includes('<'))
              expect(
                s
                  .split('<')
                  .slice(1)
                  .every((after) => after.startsWith(ZWSP)),
                `${path}: ${s}`,
              ).toBe(true);
          }
        } finally {
          await w.app.close();
        }
      }),
      runs(40),
    );
    // Most hostile texts are accepted, so the checks above ran on many of them.
    expect(rendered).toBeGreaterThan(20);
  });
});

describe('the checks above', () => {
  // They would pass anything if they were too lax; each must reject the unescaped rendering.
  it('reject markup that was not escaped', async () => {
    const page = `<!doctype html><html><body><h1>fine</h1></body></html>`;
    const shapes = tagShapes(page);
    expect(() => expectTextOnly(page, shapes)).not.toThrow();
    expect(() => expectTextOnly(page.replace('fine', '<script>alert(1)</script>'), shapes)).toThrow(/unexpected tag/);
    expect(() => expectTextOnly(page.replace('<h1>', '<h1 onclick="x">'), shapes)).toThrow(/unexpected tag/);
    expect(() => expectTextOnly(page.replace('fine', 'a & b'), shapes)).toThrow();
    expect(() => expectInertMrkdwn('hi &lt;!channel&gt; <@U0ABC>', 'internal')).not.toThrow();
    expect(() => expectInertMrkdwn('hi <!channel>', 'internal')).toThrow();
    expect(() => expectInertMrkdwn('hi <@U0ABC>', 'customer')).toThrow();
    expect(() => expectInertMrkdwn('<https://evil.example|click>', 'internal')).toThrow();
    expect(() => expectInertMarkdown('\\*bold\\* <\u200Bat>')).not.toThrow();
    expect(() => expectInertMarkdown('*bold*')).toThrow();
    expect(() => expectInertMarkdown('[click](https://evil.example)')).toThrow();
    expect(() => expectInertMarkdown('<at>everyone</at>')).toThrow();
    expect(() => expectInertMarkdown('line\n# heading')).toThrow();
    expect(() => expectInertMarkdown('{{DATE(2017-02-14T06:08:39Z, SHORT)}}')).toThrow(/\{\{/);
    expect(() => expectInertMarkdown('\\1. item')).toThrow(/backslash/);
    expect(() => expectInertMarkdown('1\\. item {\u200B{DATE(x)}}')).not.toThrow();
  });
});
