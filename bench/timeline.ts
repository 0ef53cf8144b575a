import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { getIncident } from '../db/queries/incidents.js';
import { loadTimeline } from '../db/queries/timeline.js';
import { loadConfig } from '../src/config.js';
import { EVENT_KINDS } from '../src/domain/enums.js';
import { createLogger } from '../src/logger.js';
import { createApp } from '../src/main.js';
import { renderTimeline, type TimelineEntry } from '../src/render/incident.js';
import type { BenchResult } from './result.js';

// Timeline reads: 100,000 timeline events across 100 incidents, then one incident's 10,000-event
// timeline read again and again, through Sitrep's read path against raw better-sqlite3 prepared
// statements on the same database file (same schema, same indexes) doing the same reads: the
// incident's row, then its events in timeline order, as objects with the fields a timeline shows.
//
// The target is on the read: the view (getIncident + loadTimeline, what the `timeline` command
// reads through drizzle). The whole `timeline INC-n` command as the CLI runs it (parse, read,
// render the text and the JSON data, every time in SITREP_TIMEZONE) is reported beside it for
// scale. Runs alternate so that drift on a shared machine hits each alike; figures are medians.
//
// The incidents are declared through the real commands; the events are written with one prepared
// insert in one transaction (what is measured is the read, and 100,000 commands would take most
// of the suite's time budget). Events of all incidents are interleaved, as concurrent incidents'
// events are in a real table.
//
//   node dist/bench/timeline.js [reads]

const INCIDENTS = 100;
const EVENTS = 100_000;
const ONE_TIMELINE = 10_000;
const WARMUP = 3;
const READS = 60;
const COMMANDS = 5;
const TARGET_TIMES = 1.3;
const TZ = 'America/Los_Angeles';

const self = fileURLToPath(import.meta.url);

const NOTES = [
  'Replica lag on db-3 is back under 2 s; watching the checkout error rate before we call it.',
  'Rolled back the 14:02 deploy of payments-api; error rate dropping.',
  'Paged the storage on-call: the volume behind db-3 shows high write latency.',
  'Customer reports from EU: card payments time out after 30 s.',
  'Failover to the standby completed in 41 s; writes are accepted again.',
];

interface Raw {
  incident: Database.Statement<[number], { id: number; title: string; status: string; started_at: number; resolved_at: number | null }>;
  events: Database.Statement<[number], TimelineEntry>;
}

/** The plain way: the statement's rows come out in the shape a timeline shows, nothing mapped. */
function rawRead(raw: Raw, id: number): TimelineEntry[] {
  const inc = raw.incident.get(id);
  if (!inc) throw new Error(`no incident ${id}`);
  return raw.events.all(id);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const round2 = (n: number) => Math.round(n * 100) / 100;

export async function run(reads = READS): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sitrep-bench-timeline-'));
  const file = join(dir, 'sitrep.db');
  const app = createApp(loadConfig({ SITREP_DB: file, LOG_LEVEL: 'silent', USER: 'bench', SITREP_TIMEZONE: TZ }), { log: createLogger('silent') });
  let sqlite: Database.Database | null = null;
  try {
    const start = Date.parse('2026-03-01T00:00:00Z');
    for (let i = 1; i <= INCIDENTS; i++) {
      const r = await app.run(`declare "Incident ${i}: checkout errors" sev:${1 + (i % 4)}`, 'cli:bench', { platform: 'cli' });
      if (!r.ok) throw new Error(r.error.message);
    }
    const target = INCIDENTS / 2;
    const existing = (
      app.db.$client.prepare('select incident_id as id, count(*) as n from timeline_events group by incident_id').all() as Array<{ id: number; n: number }>
    ).reduce((m, r) => m.set(r.id, r.n), new Map<number, number>());
    // How many events each incident gets: the target's timeline exactly ONE_TIMELINE long, the rest
    // shared out so that the table holds exactly EVENTS.
    const total = [...existing.values()].reduce((a, n) => a + n, 0);
    const want = new Map<number, number>();
    const rest = EVENTS - ONE_TIMELINE - (total - (existing.get(target) ?? 0));
    const share = Math.floor(rest / (INCIDENTS - 1));
    let extra = rest - share * (INCIDENTS - 1);
    for (let i = 1; i <= INCIDENTS; i++) want.set(i, i === target ? ONE_TIMELINE - (existing.get(i) ?? 0) : share + (extra-- > 0 ? 1 : 0));
    const insert = app.db.$client.prepare(
      'insert into timeline_events (incident_id, occurred_at, recorded_at, actor, kind, text, payload) values (?, ?, ?, ?, ?, ?, ?)',
    );
    let written = 0;
    app.db.$client.transaction(() => {
      for (let n = 0; [...want.values()].some((w) => w > 0); n++) {
        for (let i = 1; i <= INCIDENTS; i++) {
          const left = want.get(i)!;
          if (left <= 0) continue;
          want.set(i, left - 1);
          const at = start + i * 3_600_000 + n * 1_000;
          const kind = EVENT_KINDS[n % 7 === 0 ? n % EVENT_KINDS.length : 6]!;
          // One event in fifty was recorded well after it happened (backfilled from another tool).
          const recorded = n % 50 === 0 ? at + 600_000 : at;
          insert.run(i, at, recorded, `slack:U0${(n % 40).toString(36).toUpperCase().padStart(7, '0')}`, kind, `${NOTES[n % NOTES.length]} (${n})`, '{}');
          written++;
        }
      }
    })();
    const events = total + written;
    const timelineLength = (app.db.$client.prepare('select count(*) as n from timeline_events where incident_id = ?').get(target) as { n: number }).n;
    if (timelineLength !== ONE_TIMELINE) throw new Error(`the timeline has ${timelineLength} events, expected ${ONE_TIMELINE}`);
    if (events !== EVENTS) throw new Error(`${events} events written, expected ${EVENTS}`);
    app.db.$client.pragma('wal_checkpoint(TRUNCATE)');

    sqlite = new Database(file, { readonly: true, fileMustExist: true });
    const raw: Raw = {
      incident: sqlite.prepare('select id, title, status, started_at, resolved_at from incidents where id = ?'),
      events: sqlite.prepare(
        'select kind, actor, text, occurred_at as occurredAt, recorded_at as recordedAt from timeline_events where incident_id = ? order by occurred_at, id',
      ),
    };
    const view = async () => {
      const inc = await getIncident(app.db, target);
      return loadTimeline(app.db, inc.id);
    };
    const command = async () => {
      const r = await app.run(`timeline INC-${target}`, 'cli:bench', { platform: 'cli' });
      if (!r.ok) throw new Error(r.error.message);
      return r;
    };
    // The three read the same events in the same order.
    const a = rawRead(raw, target);
    const b = await view();
    const c = await command();
    if (a.length !== ONE_TIMELINE || JSON.stringify(a) !== JSON.stringify(b)) throw new Error('the raw read and the view disagree');
    if ((c.reply.data.events as unknown[]).length !== ONE_TIMELINE) throw new Error('the timeline command did not list every event');

    const runs = { raw: [] as number[], view: [] as number[], command: [] as number[], text: [] as number[] };
    // The raw read and the rendering are synchronous and timed as such; the view and the command
    // return promises (the storage port is async) and are timed until they resolve.
    const timed = (f: () => unknown) => {
      const t0 = performance.now();
      f();
      return performance.now() - t0;
    };
    const timedAsync = async (f: () => Promise<unknown>) => {
      const t0 = performance.now();
      await f();
      return performance.now() - t0;
    };
    // The text rendering alone, for the notes: what the command adds to the read.
    const inc = await getIncident(app.db, target);
    const text = () => renderTimeline({ id: `INC-${target}`, title: inc.title, startedAt: inc.startedAt, resolvedAt: inc.resolvedAt }, b, TZ, Date.now());
    const fns: Record<keyof typeof runs, () => number | Promise<number>> = {
      raw: () => timed(() => rawRead(raw, target)),
      view: () => timedAsync(view),
      command: () => timedAsync(command),
      text: () => timed(text),
    };
    for (let i = 0; i < WARMUP; i++) for (const f of Object.values(fns)) await f();
    // The reads alternate, each round starting with the other. The command (about 30 reads' worth
    // of rendering, and its garbage) comes after them, fewer times, so that the reads do not pay
    // for its garbage collection.
    for (let i = 0; i < reads; i++) {
      const order: Array<keyof typeof runs> = i % 2 ? ['view', 'raw'] : ['raw', 'view'];
      for (const key of order) runs[key].push(await fns[key]());
    }
    for (let i = 0; i < COMMANDS; i++) for (const key of ['command', 'text'] as const) runs[key].push(await fns[key]());
    const base = median(runs.raw);
    const view_ = median(runs.view);
    const command_ = median(runs.command);
    return {
      name: 'timeline',
      setup: `${events.toLocaleString('en-US')} timeline events across ${INCIDENTS} incidents; INC-${target}'s ${ONE_TIMELINE.toLocaleString('en-US')}-event timeline read ${reads} times through the view and ${reads} times by raw better-sqlite3 prepared statements on the same file (the whole command ${runs.command.length} times); medians`,
      figures: [
        {
          label: `timeline view (getIncident + loadTimeline, what \`timeline\` reads): one ${ONE_TIMELINE.toLocaleString('en-US')}-event read`,
          value: round2(view_),
          unit: 'ms',
          baseline: round2(base),
          ratio: round2(base / view_),
          target: `≤ ${TARGET_TIMES}× the raw prepared statements' time (ratio ≥ ${round2(1 / TARGET_TIMES)})`,
          met: view_ <= TARGET_TIMES * base,
        },
        {
          // No target: beyond the read, this is rendering 10,000 lines and 20,000 times in the zone.
          label: `\`timeline INC-${target}\` command (parse, read, render the text and the JSON in ${TZ})`,
          value: round2(command_),
          unit: 'ms',
          baseline: round2(base),
          ratio: round2(base / command_),
        },
      ],
      notes: [
        `view: ${round2(view_ / base)}× the raw read's time (raw median ${round2(base)} ms, min ${round2(Math.min(...runs.raw))} ms; view min ${round2(Math.min(...runs.view))} ms)`,
        `the whole command takes ${round2(command_ / base)}× the raw read: the read is ${round2(view_)} ms of its ${round2(command_)} ms, rendering the text alone ${round2(median(runs.text))} ms, the JSON data (two ISO times per event) and parsing the rest; the command figure has no target, it is there for scale`,
      ],
    };
  } finally {
    sqlite?.close();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function isMain(): boolean {
  return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(self);
}

if (isMain()) {
  run(Number(process.argv[2]) || READS).then(
    (r) => process.stdout.write(JSON.stringify(r, null, 2) + '\n'),
    (err: unknown) => {
      process.stderr.write(`timeline failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
