import { readFileSync } from 'node:fs';
import { DateTime } from 'luxon';
import { expect } from 'vitest';
import type { App } from '../../src/main.js';

/** Copies of the shared reference files, kept in the repository (see test/fixtures/README.md). */
export const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;
export const SEED_FILE = `${FIXTURES}seed/spruce-health-2021-12-07.txt`;
export const ZONE = 'America/Los_Angeles';
export const SEED_ENV = {
  SITREP_TIMEZONE: ZONE,
  SITREP_ORG_NAME: 'Spruce Health',
  SITREP_APPROVAL: 'required',
  SITREP_PUBLIC_URL: 'https://status.spruce.example',
};
/** The day after the seed incident, so every `at:` is in the past and Dec 07 is in the bars. */
export const SEED_NOW = Date.parse('2021-12-09T18:00:00Z');

export interface SeedEntry {
  label: string;
  body: string;
  posted: string; // "Dec 07, 2021 - 14:28 PST"
}

export interface Seed {
  title: string;
  org: string;
  postmortem: SeedEntry;
  /** Newest first, as on the page. */
  updates: SeedEntry[];
  affected: string;
  lines: string[];
}

/** Reads the seed incident report (test/fixtures/seed/…) into its parts: title, org, postmortem, updates (newest first), affected line. */
export function readSeed(): Seed {
  const text = readFileSync(SEED_FILE, 'utf8');
  const lines = text.split('\n');
  const title = lines[0]!;
  const org = lines[1]!.replace('Incident Report for ', '');
  const entries: SeedEntry[] = [];
  let i = 2;
  while (i < lines.length && !lines[i]!.startsWith('This incident affected:')) {
    while (lines[i] === '') i++;
    const label = lines[i++]!;
    const body: string[] = [];
    while (!lines[i]!.startsWith('Posted ')) body.push(lines[i++]!);
    const posted = lines[i++]!.slice('Posted '.length);
    entries.push({ label, body: body.join('\n').replace(/^\n+|\n+$/g, ''), posted });
    if (lines[i] === '') i++;
  }
  const [postmortem, ...updates] = entries;
  return { title, org, postmortem: postmortem!, updates, affected: lines[i]!, lines: lines.map((l) => l.trim()).filter(Boolean) };
}

export function postedToMillis(posted: string): number {
  const dt = DateTime.fromFormat(posted.replace(/ (PST|PDT)$/, ''), 'LLL dd, yyyy - HH:mm', { zone: ZONE, locale: 'en-US' });
  if (!dt.isValid) throw new Error(`bad posted time ${posted}`);
  return dt.toMillis();
}

const isoLocal = (ms: number) => DateTime.fromMillis(ms, { zone: ZONE }).toFormat("yyyy-LL-dd'T'HH:mm");

export async function runOk(app: App, text: string, actor: string) {
  const r = await app.run(text, actor, { platform: 'cli' });
  if (!r.ok) throw new Error(`${text.slice(0, 60)} → ${r.error.message}`);
  return r.reply;
}

/**
 * Replays the seed incident: alice drafts each customer-facing update at its real time and bob
 * approves it; internal updates and notes happen along the way and must never show. The
 * postmortem is published last.
 */
export async function replaySeed(app: App, opts: { internalNoise?: boolean } = {}): Promise<Seed> {
  const seed = readSeed();
  for (const name of ['Web App', 'Mobile Apps', 'Phone Call Routing', 'SMS Routing']) await runOk(app, `component add "${name}"`, 'cli:admin');
  await runOk(app, 'approver add @bob', 'cli:admin');
  const oldestFirst = [...seed.updates].reverse();
  const first = postedToMillis(oldestFirst[0]!.posted);
  await runOk(
    app,
    `declare "${seed.title}" sev:1 components:web-app=degraded,mobile-apps=degraded,phone-call-routing=major,sms-routing=major started:2021-12-07T07:32 at:${isoLocal(first)}`,
    'cli:alice',
  );
  let status = 'investigating';
  for (const u of oldestFirst) {
    const at = isoLocal(postedToMillis(u.posted));
    if (u.label !== 'Update') status = u.label.toLowerCase();
    if (opts.internalNoise) {
      await runOk(app, `update at:${at} INTERNAL-UPDATE-${at} db primary failover at 10.0.0.7`, 'cli:alice');
      await runOk(app, `note at:${at} INTERNAL-NOTE-${at} customer Acme angry`, 'cli:alice');
    }
    const reply =
      status === 'resolved'
        ? await runOk(app, `resolve at:${at} ${u.body}`, 'cli:alice')
        : await runOk(app, `draft status:${status} at:${at} ${u.body}`, 'cli:alice');
    const draftId = String(reply.data.draft ?? reply.data.id);
    await runOk(app, `approve ${draftId}`, 'cli:bob');
  }
  await publishPostmortem(app, seed.postmortem.body, postedToMillis(seed.postmortem.posted));
  return seed;
}

let seedClock = SEED_NOW;
/**
 * The clock apps that replay the seed run on: SEED_NOW, except while replaySeed publishes the
 * postmortem, which `postmortem publish` dates at the moment it is published.
 */
export const seedNow = () => seedClock;

/**
 * Publishes INC-1's postmortem with `body` through `postmortem publish`, at `at`, under the app's
 * approval policy: alice proposes it, and bob (an approver) approves it when the policy asks.
 * The app must run on seedNow.
 */
export async function publishPostmortem(app: App, body: string, at: number): Promise<void> {
  if (app.now() !== seedClock) throw new Error('publishPostmortem needs an app created with seedNow as its clock');
  seedClock = at;
  try {
    const reply = await runOk(app, `postmortem publish INC-1 ${body}`, 'cli:alice');
    if (reply.data.state !== 'published') await runOk(app, `approve ${String(reply.data.id)}`, 'cli:bob');
  } finally {
    seedClock = SEED_NOW;
  }
}

/** What a person reads in <main>: block elements on their own lines, tags gone, entities decoded. */
export function visibleLines(html: string): string[] {
  const main = /<main[^>]*>([\s\S]*)<\/main>/.exec(html)?.[1] ?? html;
  return main
    .replace(/<\/(h1|h2|h3|h4|p|div|li|section|article|ol|ul)>/g, '\n')
    .replace(/<br\s*\/?>/g, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const ENUMS: Record<string, readonly string[]> = {
  indicator: ['none', 'minor', 'major', 'critical'],
  impact: ['none', 'maintenance', 'minor', 'major', 'critical'],
  component_status: ['operational', 'under_maintenance', 'degraded_performance', 'partial_outage', 'major_outage'],
  incident_status: ['investigating', 'identified', 'monitoring', 'resolved', 'postmortem'],
  // A scheduled maintenance and its updates (Statuspage has no cancelled).
  maintenance_status: ['scheduled', 'in_progress', 'verifying', 'completed'],
};

function kind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/**
 * Compares `ours` against a real Statuspage response recursively: the same keys at every level,
 * the same JSON types (null in either stands for "nullable"), timestamps where they have
 * timestamps, and enum values from Statuspage's sets. Array items are compared with the
 * reference's first item. `extraKeys` names keys allowed beyond the reference (group components).
 */
export function compareShape(ours: unknown, ref: unknown, path = '$', problems: string[] = []): string[] {
  const k = kind(ours);
  const rk = kind(ref);
  if (k === 'null' || rk === 'null') return problems;
  if (k !== rk) {
    problems.push(`${path}: ${k} where Statuspage has ${rk}`);
    return problems;
  }
  if (k === 'array') {
    const refItem = (ref as unknown[])[0];
    if (refItem !== undefined)
      (ours as unknown[]).forEach((item, i) => {
        compareShape(item, refItem, `${path}[${i}]`, problems);
      });
    return problems;
  }
  if (k === 'object') {
    const o = ours as Record<string, unknown>;
    const r = ref as Record<string, unknown>;
    const isGroup = o.group === true;
    const keys = Object.keys(o).filter((x) => !(isGroup && x === 'components'));
    const missing = Object.keys(r).filter((x) => !(x in o));
    const extra = keys.filter((x) => !(x in r));
    if (missing.length) problems.push(`${path}: missing ${missing.join(', ')}`);
    if (extra.length) problems.push(`${path}: extra ${extra.join(', ')}`);
    for (const key of Object.keys(r)) if (key in o) compareShape(o[key], r[key], `${path}.${key}`, problems);
    return problems;
  }
  if (k === 'string' && typeof ref === 'string') {
    const s = ours as string;
    if (ISO_TIME.test(ref) && !ISO_TIME.test(s)) problems.push(`${path}: "${s}" is not an ISO timestamp`);
    const last = path
      .split('.')
      .at(-1)!
      .replace(/\[\d+\]$/, '');
    const set =
      last === 'indicator'
        ? ENUMS.indicator
        : last === 'impact'
          ? ENUMS.impact
          : ['old_status', 'new_status'].includes(last) || (last === 'status' && /components\[\d+\]$/.test(path.split('.').slice(0, -1).join('.')))
            ? ENUMS.component_status
            : last === 'status' && /incidents\[\d+\]$/.test(path.split('.').slice(0, -1).join('.'))
              ? ENUMS.incident_status
              : last === 'status' && /incident_updates\[\d+\]$/.test(path.split('.').slice(0, -1).join('.'))
                ? ENUMS.incident_status
                : null;
    const inMaintenance = last === 'status' && /scheduled_maintenances\[\d+\](\.incident_updates\[\d+\])?\.status$/.test(path);
    const allowed = inMaintenance ? ENUMS.maintenance_status : set;
    if (allowed && !allowed.includes(s)) problems.push(`${path}: "${s}" is not one of ${allowed.join(', ')}`);
  }
  return problems;
}

export function expectShape(ours: unknown, refFile: string): void {
  const ref = JSON.parse(readFileSync(`${FIXTURES}statuspage/v2/${refFile}`, 'utf8'));
  expect(compareShape(ours, ref)).toEqual([]);
}

/** The public /api/v2 documents, as CONTRACT.md lists them (written out here, not read from the code). */
export const PUBLIC_API = [
  'summary.json',
  'status.json',
  'components.json',
  'incidents.json',
  'incidents/unresolved.json',
  'scheduled-maintenances.json',
  'scheduled-maintenances/active.json',
  'scheduled-maintenances/upcoming.json',
];

/** Everything the public can read at `pages`, both feeds and every API document, as one text. */
export async function publicText(url: string, pages: readonly string[]): Promise<string> {
  const paths = [...pages, '/history.atom', '/history.rss', ...PUBLIC_API.map((p) => `/api/v2/${p}`)];
  const bodies = await Promise.all(paths.map(async (p) => `${p}\n${await (await fetch(url + p)).text()}`));
  return bodies.join('\n');
}
