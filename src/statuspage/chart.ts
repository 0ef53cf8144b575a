import { createHash } from 'node:crypto';
import { DateTime } from '../render/luxon.js';
import { COMPONENT_STATUSES, type ComponentStatus } from '../domain/enums.js';
import { impactOf, publicBands, type AnnouncedUpdate } from '../domain/impact.js';
import { formatClock, formatDuration, formatPosted, sameDay } from '../render/time.js';
import { xmlText } from './escape.js';
import type { PublicIncident, PublicState } from './model.js';
import { statusTitle } from './model.js';

// GET /incidents/INC-n/chart.svg: the incident as customers saw it, one lane per component its
// published updates named (catalogue order), coloured by the public status over time, and a tick
// per published customer update (the postmortem too, past a break when it came later). Built from
// the public read model only, so nothing internal can reach it. Static SVG: no script, no
// external reference, every piece of text escaped and stripped of what XML cannot hold (xmlText,
// as in the feed).

const W = 720;
const LABEL_W = 168;
const X0 = 12 + LABEL_W;
const X_END = W - 16;
/** Room kept at the right for updates published after the incident ended (the postmortem). */
const LATER_W = 64;
const TOP = 30;
const UPDATES_H = 22;
const LANE_H = 22;
const LANE_GAP = 8;

const CSS = `
text{font:12px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;fill:#1f2328}
.h{font-weight:600;font-size:13px}.m{fill:#59636e;font-size:11px}
.bg{fill:#fff}.grid{stroke:#d1d9e0;stroke-width:1}.tick{fill:#0550ae}.guide{stroke:#0550ae;stroke-opacity:.25}.brk{stroke:#59636e;stroke-dasharray:2 3}
.st-operational{fill:#1a7f37}.st-under_maintenance{fill:#0969da}.st-degraded_performance{fill:#9a6700}.st-partial_outage{fill:#bc4c00}.st-major_outage{fill:#cf222e}
@media (prefers-color-scheme:dark){text{fill:#e6edf3}.m{fill:#9198a1}.bg{fill:#0d1117}.grid{stroke:#3d444d}.tick{fill:#4493f8}.guide{stroke:#4493f8}
.st-operational{fill:#3fb950}.st-under_maintenance{fill:#4493f8}.st-degraded_performance{fill:#d29922}.st-partial_outage{fill:#db6d28}.st-major_outage{fill:#f85149}}
`.trim();

/** The chart's own CSP: its one stylesheet by hash, nothing else (no script, no loads). */
export const CHART_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(CSS).digest('base64')}'`,
  "frame-ancestors 'none'",
].join('; ');

/** At most `max` characters (whole code points), with an ellipsis when cut. */
function clip(s: string, max: number): string {
  const chars = Array.from(s);
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('')}…`;
}

const f = (n: number) => (Math.round(n * 10) / 10).toString();

/** Tick spacing for the time axis: the smallest of these that gives at most 6 labels. */
const STEPS_MIN = [5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080];

interface Tick {
  at: number;
  label: string;
  later: boolean;
}

export interface ChartSummary {
  lanes: number;
  ticks: number;
  text: string;
}

/** The words the picture stands for: the <img> alt text and the SVG's aria-label. */
export function chartSummary(s: PublicState, i: PublicIncident, now: number): ChartSummary {
  const m = model(s, i, now);
  const lanes = m.lanes.map((l) => {
    const imp = impactOf(l.bands);
    if (!imp) return `${l.name} operational`;
    const until = imp.to === null ? 'still affected' : `until ${m.clock(imp.to)}`;
    return `${l.name} ${statusTitle(imp.worst).toLowerCase()} at worst from ${m.clock(imp.from)} ${until}`;
  });
  const n = m.ticks.length;
  const text = `Public status of each affected component of ${i.ref} over time, ${formatPosted(m.start, s.zone)} to ${m.ongoing ? 'now' : m.clock(m.end)}${lanes.length ? `: ${lanes.join('; ')}` : ', no component named'}; ${n} customer update${n === 1 ? '' : 's'} marked.`;
  return { lanes: m.lanes.length, ticks: n, text };
}

function model(s: PublicState, i: PublicIncident, now: number) {
  const oldestFirst = [...i.updates].reverse();
  const start = oldestFirst[0]?.displayAt ?? now;
  const ongoing = i.resolvedAt === null;
  const end = Math.max(start, ongoing ? now : i.resolvedAt!);
  const announced: AnnouncedUpdate[] = oldestFirst.map((u) => ({
    status: u.status,
    at: u.displayAt,
    components: u.affected.map((a) => ({ slug: a.code, status: a.newStatus })),
  }));
  const bands = publicBands(announced, end);
  const lanes = i.componentIds.flatMap((id) => {
    const c = s.components.find((x) => x.id === id);
    return c ? [{ name: c.name, bands: bands.get(c.code) ?? [] }] : [];
  });
  const ticks: Tick[] = oldestFirst.map((u) => ({ at: u.displayAt, label: u.label, later: u.displayAt > end }));
  if (i.postmortem) ticks.push({ at: i.postmortem.publishedAt, label: 'Postmortem', later: i.postmortem.publishedAt > end });
  const clock = (ms: number) => formatClock(ms, s.zone, !sameDay(ms, start, s.zone));
  return { start, end, ongoing, lanes, ticks, clock };
}

function geometry(lanes: number) {
  const lanesTop = TOP + UPDATES_H + 6;
  const lanesBottom = lanesTop + Math.max(lanes, 1) * (LANE_H + LANE_GAP) - LANE_GAP;
  const axisY = lanesBottom + 16;
  const legendY = axisY + 24;
  return { lanesTop, lanesBottom, axisY, legendY, H: legendY + 16 };
}

/** The chart's size in CSS pixels, for the page's <img> (so the layout does not jump while it loads). */
export function chartSize(i: PublicIncident): { width: number; height: number } {
  return { width: W, height: geometry(i.componentIds.length).H };
}

/** The SVG document. `now` ends the picture of an incident still open. */
export function renderChart(s: PublicState, i: PublicIncident, now: number): string {
  const m = model(s, i, now);
  const { start, end } = m;
  const hasLater = m.ticks.some((t) => t.later);
  const x1 = hasLater ? X_END - LATER_W : X_END;
  const span = Math.max(end - start, 60_000);
  const x = (t: number) => X0 + ((Math.min(Math.max(t, start), end) - start) / span) * (x1 - X0);
  const { lanesTop, lanesBottom, axisY, legendY, H } = geometry(m.lanes.length);
  const summary = chartSummary(s, i, now).text;
  const out: string[] = [];

  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${xmlText(summary)}">`,
    `<title>${xmlText(`${i.title} (${i.ref}): public status over time`)}</title>`,
    `<desc>${xmlText(summary)}</desc>`,
    `<style>${CSS}</style>`,
    `<rect class="bg" x="0" y="0" width="${W}" height="${H}" rx="6"/>`,
    `<text class="h" x="12" y="18">${xmlText(clip(`${i.ref} · ${i.title}`, 100))}</text>`,
  );

  // Time axis: grid lines at round clock times in the page's zone.
  const stepMin = STEPS_MIN.find((st) => span / (st * 60_000) <= 6) ?? STEPS_MIN.at(-1)!;
  const unit = stepMin >= 1440 ? 'day' : 'hour';
  let t = DateTime.fromMillis(start, { zone: s.zone }).startOf(unit);
  const grid: string[] = [];
  for (let guard = 0; guard < 400 && t.toMillis() <= end; guard++, t = t.plus({ minutes: stepMin })) {
    const ms = t.toMillis();
    if (ms < start) continue;
    const gx = f(x(ms));
    grid.push(`<line class="grid" x1="${gx}" y1="${lanesTop - 4}" x2="${gx}" y2="${lanesBottom + 4}"/>`);
    // Whole days are labelled by date; hours by clock time (with the date off the first day).
    const label = unit === 'day' ? t.setLocale('en-US').toFormat('LLL dd') : m.clock(ms).replace(/ \S+$/, '');
    // A label that would run past the right edge is left to the end label below it.
    if (x(ms) + label.length * 3.3 <= x1 + 4) grid.push(`<text class="m" x="${gx}" y="${axisY}" text-anchor="middle">${xmlText(label)}</text>`);
  }
  out.push(`<g class="axis" aria-hidden="true">${grid.join('')}`);
  out.push(
    `<text class="m" x="${X0}" y="${axisY + 12}">${xmlText(`${DateTime.fromMillis(start, { zone: s.zone }).setLocale('en-US').toFormat('LLL dd, yyyy')} · times in ${s.zone}`)}</text>`,
  );
  out.push(
    `<text class="m" x="${f(x1)}" y="${axisY + 12}" text-anchor="end">${xmlText(m.ongoing ? `ongoing, as of ${m.clock(end)}` : `resolved ${m.clock(end)}`)}</text></g>`,
  );

  // A lane per component.
  out.push(`<g class="lanes">`);
  m.lanes.forEach((lane, n) => {
    const y = lanesTop + n * (LANE_H + LANE_GAP);
    const imp = impactOf(lane.bands);
    const laneTitle = imp
      ? `${lane.name}: ${statusTitle(imp.worst).toLowerCase()} at worst, ${m.clock(imp.from)} – ${imp.to === null ? 'still affected' : m.clock(imp.to)} (${formatDuration(imp.impairedMs)} impaired)`
      : `${lane.name}: operational`;
    out.push(`<g class="lane"><title>${xmlText(laneTitle)}</title>`);
    out.push(`<text x="12" y="${y + 15}">${xmlText(clip(lane.name, 24))}</text>`);
    for (const b of lane.bands) {
      if (b.to <= b.from) continue;
      const bx = x(b.from);
      const bw = Math.max(x(b.to) - bx, 1);
      const label = `${lane.name}: ${statusTitle(b.status)}, ${m.clock(b.from)} – ${m.clock(b.to)} (${formatDuration(b.to - b.from)})`;
      out.push(`<rect class="band st-${b.status}" x="${f(bx)}" y="${y}" width="${f(bw)}" height="${LANE_H}"><title>${xmlText(label)}</title></rect>`);
    }
    out.push('</g>');
  });
  if (!m.lanes.length) out.push(`<text class="m" x="${X0}" y="${lanesTop + 15}">No component was named in a published update.</text>`);
  out.push('</g>');

  // A tick per published customer update; those after the end sit past a break at the right.
  out.push(`<g class="updates"><text x="12" y="${TOP + 15}">Customer updates</text>`);
  const later = m.ticks.filter((tk) => tk.later);
  if (later.length) {
    const bx = x1 + 12;
    out.push(`<line class="brk" x1="${bx}" y1="${TOP}" x2="${bx}" y2="${lanesBottom + 4}"/>`);
    out.push(`<text class="m" x="${bx + 6}" y="${axisY}">later</text>`);
  }
  let laterN = 0;
  for (const tk of m.ticks) {
    const tx = tk.later ? x1 + 24 + (laterN++ % 4) * 9 : x(tk.at);
    const title = `${tk.label} · posted ${formatPosted(tk.at, s.zone)}`;
    out.push(
      `<g class="update-tick"><title>${xmlText(title)}</title><rect class="tick" x="${f(tx - 1.5)}" y="${TOP + 3}" width="3" height="${UPDATES_H - 6}"/>${tk.later ? '' : `<line class="guide" x1="${f(tx)}" y1="${lanesTop}" x2="${f(tx)}" y2="${lanesBottom}"/>`}</g>`,
    );
  }
  out.push('</g>');

  // Legend: the statuses the lanes show.
  const shown = new Set<ComponentStatus>(m.lanes.flatMap((l) => l.bands.filter((b) => b.to > b.from).map((b) => b.status)));
  let lx = 12;
  out.push('<g class="legend">');
  for (const st of COMPONENT_STATUSES) {
    if (!shown.has(st)) continue;
    const label = statusTitle(st);
    out.push(
      `<rect class="st-${st}" x="${lx}" y="${legendY - 9}" width="10" height="10" rx="2"/><text class="m" x="${lx + 14}" y="${legendY}">${xmlText(label)}</text>`,
    );
    lx += 30 + label.length * 6.6;
  }
  out.push('</g></svg>');
  return `${out.join('\n')}\n`;
}
