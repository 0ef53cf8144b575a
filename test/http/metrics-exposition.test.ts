import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/main.js';
import { testApp } from '../helpers.js';
import { startWebhookReceiver, type WebhookReceiver } from '../fakes/webhook-receiver.js';
import { waitUntil } from '../mirror/helpers.js';

// /metrics parsed strictly as the Prometheus text exposition format (0.0.4): every family has one
// HELP and one TYPE line before its samples, every sample belongs to the family just declared,
// label sets are well formed, values are numbers, a histogram's buckets rise to +Inf and equal its
// _count. And the series the issue names are there: process metrics, incidents by severity,
// deliveries by kind and outcome, both duration histograms, breakers reading 0 when closed.

interface Family {
  name: string;
  help: string;
  type: string;
  samples: Array<{ name: string; labels: Record<string, string>; value: number }>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;

function parseLabels(raw: string, line: string): Record<string, string> {
  const out: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < raw.length) {
    const at = LABEL.lastIndex;
    const m = LABEL.exec(raw);
    if (!m || m.index !== at) throw new Error(`bad label set in: ${line}`);
    if (m[1]! in out) throw new Error(`repeated label ${m[1]} in: ${line}`);
    out[m[1]!] = m[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  }
  return out;
}

function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the exposition does not end with a newline');
  const families = new Map<string, Family>();
  let current: Family | null = null;
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    const help = /^# HELP (\S+) (.*)$/.exec(line);
    if (help) {
      if (families.has(help[1]!)) throw new Error(`family ${help[1]} declared twice`);
      if (!NAME.test(help[1]!)) throw new Error(`bad metric name ${help[1]}`);
      current = { name: help[1]!, help: help[2]!, type: '', samples: [] };
      families.set(current.name, current);
      continue;
    }
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      if (!current || current.name !== type[1] || current.type) throw new Error(`TYPE out of place: ${line}`);
      current.type = type[2]!;
      continue;
    }
    if (line.startsWith('#')) throw new Error(`unknown comment line: ${line}`);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const family = current;
    if (!family?.type) throw new Error(`sample before its family's HELP and TYPE: ${line}`);
    const suffixes = family.type === 'histogram' ? ['_bucket', '_sum', '_count'] : family.type === 'summary' ? ['', '_sum', '_count'] : [''];
    if (!suffixes.some((s) => m[1] === family.name + s)) throw new Error(`sample ${m[1]} outside its family ${family.name}`);
    // Values are read as Prometheus reads them (Go's ParseFloat): NaN and Inf in any case.
    const raw = m[3]!.toLowerCase();
    const value = raw === '+inf' || raw === 'inf' ? Infinity : raw === '-inf' ? -Infinity : raw === 'nan' ? NaN : Number(m[3]);
    if (Number.isNaN(value) && raw !== 'nan') throw new Error(`bad value in: ${line}`);
    family.samples.push({ name: m[1]!, labels: parseLabels(m[2] ?? '', line), value });
  }
  for (const f of families.values()) {
    if (!f.type) throw new Error(`family ${f.name} has no TYPE`);
    if (f.type === 'histogram') checkHistogram(f);
  }
  return families;
}

function checkHistogram(f: Family): void {
  const series = new Map<string, Family['samples']>();
  for (const s of f.samples.filter((x) => x.name.endsWith('_bucket'))) {
    const { le, ...rest } = s.labels;
    if (le === undefined) throw new Error(`${f.name} bucket without le`);
    const key = JSON.stringify(rest);
    series.set(key, [...(series.get(key) ?? []), s]);
  }
  for (const [key, buckets] of series) {
    const les = buckets.map((b) => (b.labels.le === '+Inf' ? Infinity : Number(b.labels.le)));
    expect(les.at(-1), `${f.name}${key} ends at +Inf`).toBe(Infinity);
    for (let i = 1; i < buckets.length; i++) {
      expect(les[i]! > les[i - 1]!, `${f.name} bounds rise`).toBe(true);
      expect(buckets[i]!.value >= buckets[i - 1]!.value, `${f.name} counts are cumulative`).toBe(true);
    }
    const count = f.samples.find((s) => s.name === `${f.name}_count` && JSON.stringify(s.labels) === key);
    expect(count?.value, `${f.name}${key} _count`).toBe(buckets.at(-1)!.value);
  }
}

let running: RunningServer | null = null;
let rx: WebhookReceiver | null = null;
afterEach(async () => {
  await running?.close();
  await rx?.close();
  running = null;
  rx = null;
});

describe('/metrics exposition', () => {
  it('parses strictly and carries the named series with kinds and surfaces only', async () => {
    rx = await startWebhookReceiver();
    const app = testApp({ SITREP_APPROVAL: 'off', SITREP_ADMINS: 'cli:admin' });
    const run = async (text: string) => {
      const r = await app.run(text, 'cli:admin', { platform: 'cli' });
      if (!r.ok) throw new Error(`${text}: ${r.error.message}`);
    };
    await run('component add API');
    await run(`subscribe webhook:${rx.url}`);
    await run('declare "Checkout failing for Acme Corp" sev:1 components:api=major');
    await run('declare "Slow search" sev:3');
    await run('resolve INC-2');
    await run('draft INC-1 We are looking into failed checkouts.');
    running = await startServer(app, 0, '127.0.0.1');
    await rx.waitFor((r) => r.accepted().length >= 1);
    await waitUntil(
      () => (app.db.$client.prepare("select count(*) as n from outbox where state = 'pending' or state = 'in_flight'").get() as { n: number }).n === 0,
      10_000,
      'the outbox to drain',
    );

    const res = await fetch(`${running.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const f = parseExposition(text);
    const sample = (name: string, labels: Record<string, string>) =>
      [...f.values()].flatMap((x) => x.samples).find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

    // Default process metrics.
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds'])
      expect(f.has(name), name).toBe(true);
    // Incidents by severity (every severity present).
    expect(f.get('sitrep_incidents_declared_total')?.type).toBe('counter');
    expect(sample('sitrep_incidents_declared_total', { severity: '1' })).toBe(1);
    expect(sample('sitrep_incidents_declared_total', { severity: '3' })).toBe(1);
    expect(sample('sitrep_incidents_declared_total', { severity: '2' })).toBe(0);
    expect(sample('sitrep_incidents_open', { severity: '1' })).toBe(1);
    expect(sample('sitrep_incidents_open', { severity: '3' })).toBe(0);
    // Deliveries by kind and outcome, and their duration.
    expect(f.get('sitrep_deliveries_total')?.type).toBe('counter');
    expect(sample('sitrep_deliveries_total', { kind: 'webhook', outcome: 'delivered' })).toBeGreaterThanOrEqual(1);
    expect(f.get('sitrep_delivery_duration_seconds')?.type).toBe('histogram');
    expect(sample('sitrep_delivery_duration_seconds_count', { kind: 'webhook' })).toBeGreaterThanOrEqual(1);
    expect(sample('sitrep_deliveries_pending', { kind: 'webhook' })).toBe(0);
    // Commands by surface.
    expect(f.get('sitrep_command_duration_seconds')?.type).toBe('histogram');
    expect(sample('sitrep_command_duration_seconds_count', { surface: 'cli' })).toBe(6);
    // A closed breaker reads 0, for every kind.
    for (const kind of ['slack', 'teams', 'webhook', 'statuspage']) expect(sample('sitrep_upstream_breaker_open', { kind })).toBe(0);

    // Label values are kinds, surfaces, severities and bucket bounds: never a title, id or URL.
    for (const s of [...f.values()].filter((x) => x.name.startsWith('sitrep_')).flatMap((x) => x.samples)) {
      for (const k of Object.keys(s.labels)) expect(['kind', 'outcome', 'surface', 'severity', 'le'], `${s.name} label ${k}`).toContain(k);
    }
    for (const secret of ['Acme', 'Checkout', 'INC-', 'S-1', rx.url, '127.0.0.1']) expect(text, secret).not.toContain(secret);
  });
});
