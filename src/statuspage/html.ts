import { createHash } from 'node:crypto';
import { COMPONENT_STATUSES, type ComponentStatus, type MaintenanceStatus } from '../domain/enums.js';
import { isActiveMaintenance, isMaintenanceOpen, isUpcomingMaintenance } from '../domain/maintenance.js';
import { formatClock, formatPosted, sameDay, toIso } from '../render/time.js';
import { chartSummary, chartSize } from './chart.js';
import { esc } from './escape.js';
import type { PublicMaintenance } from './maintenance-json.js';
import type { PublicComponent, PublicIncident, PublicState } from './model.js';
import { statusTitle, UPTIME_DAYS } from './model.js';

// Server-rendered pages: no JavaScript, one inline stylesheet allowed by its hash in the CSP, so
// a script smuggled into any user string could not run even if escaping ever failed.

export { esc } from './escape.js';

const CSS = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--muted:#59636e;--card:#f6f8fa;--line:#d1d9e0;--link:#0550ae;
--ok:#1a7f37;--maint:#0969da;--degraded:#9a6700;--partial:#bc4c00;--major:#cf222e;--none:#d1d9e0}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--card:#151b23;--line:#3d444d;--link:#4493f8;
--ok:#3fb950;--maint:#4493f8;--degraded:#d29922;--partial:#db6d28;--major:#f85149;--none:#3d444d}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
a{color:var(--link)}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:var(--bg);padding:4px}
header,main,footer{max-width:52rem;margin:0 auto;padding:1rem}
header{border-bottom:1px solid var(--line)}
header p{margin:0;font-weight:600;font-size:1.1rem}
h1{font-size:1.6rem;line-height:1.25;margin:.5rem 0}
h2{font-size:1.25rem;margin:1.5rem 0 .5rem}
h3{font-size:1.05rem;margin:.75rem 0 .25rem}
.banner{border-radius:6px;padding:1rem;color:#fff;font-weight:600;font-size:1.2rem;margin:1rem 0}
.banner h1{margin:0;font-size:1.2rem}
.ind-none{background:var(--ok)}.ind-minor{background:var(--degraded)}.ind-major{background:var(--partial)}.ind-critical{background:var(--major)}
@media (prefers-color-scheme:dark){.banner{color:#0d1117}}
.card{border:1px solid var(--line);border-radius:6px;padding:.75rem 1rem;margin:.75rem 0;background:var(--card)}
.components{list-style:none;margin:0;padding:0}
.component{border:1px solid var(--line);border-radius:6px;padding:.75rem 1rem;margin:.5rem 0}
.row{display:flex;justify-content:space-between;gap:1rem;flex-wrap:wrap}
.name{font-weight:600;margin:0;font-size:1rem}
.st-operational{color:var(--ok)}.st-under_maintenance{color:var(--maint)}.st-degraded_performance{color:var(--degraded)}
.st-partial_outage{color:var(--partial)}.st-major_outage{color:var(--major)}
.bar{display:grid;grid-template-columns:repeat(${UPTIME_DAYS},1fr);gap:1px;height:2rem;margin:.5rem 0 .25rem}
.bar span{border-radius:1px;background:var(--ok)}
.bar .d-under_maintenance{background:var(--maint)}.bar .d-degraded_performance{background:var(--degraded)}
.bar .d-partial_outage{background:var(--partial)}.bar .d-major_outage{background:var(--major)}
.legend{display:flex;justify-content:space-between;color:var(--muted);font-size:.8rem}
.group>h3{margin-top:1rem}
.body{white-space:pre-wrap;overflow-wrap:anywhere;margin:.25rem 0}
.posted{color:var(--muted);font-size:.875rem;margin:.25rem 0 0}
.updates{list-style:none;margin:0;padding:0}
.update{padding:.75rem 0;border-bottom:1px solid var(--line)}
.update h2,.update h3,.postmortem h2{font-size:1.05rem;margin:0}
.subtitle{color:var(--muted);margin:0 0 1rem}
.postmortem{border-bottom:2px solid var(--line);padding-bottom:1rem}
.affected{color:var(--muted);margin-top:1rem}
.chart{margin:1rem 0}.chart img{display:block;max-width:100%;height:auto}
.day h3{border-bottom:1px solid var(--line);padding-bottom:.25rem}
.none{color:var(--muted)}
.maint-banner{border:2px solid var(--maint);border-left-width:.5rem;border-radius:6px;padding:.75rem 1rem;margin:1rem 0}
.maint-banner>h2{color:var(--maint);margin:0 0 .25rem}
.maint-banner .card{border:0;padding:.25rem 0;margin:.5rem 0;background:none}
.window{margin:.25rem 0}
.held{margin:.25rem 0}.held .st-under_maintenance{font-weight:600}
.key{display:flex;flex-wrap:wrap;gap:.25rem 1rem;list-style:none;margin:.5rem 0;padding:0;color:var(--muted);font-size:.8rem}
.sw{display:inline-block;width:.75rem;height:.75rem;border-radius:2px;margin-right:.35rem;vertical-align:-.1rem}
.sw-operational{background:var(--ok)}.sw-under_maintenance{background:var(--maint)}.sw-degraded_performance{background:var(--degraded)}
.sw-partial_outage{background:var(--partial)}.sw-major_outage{background:var(--major)}
footer{color:var(--muted);font-size:.875rem;border-top:1px solid var(--line)}
`.trim();

/** The CSP allows exactly this stylesheet and nothing else: no scripts, no frames, no forms. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(CSS).digest('base64')}'`,
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function layout(s: PublicState, title: string, content: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${esc(title)}</title>
<link rel="icon" href="data:,">
<link rel="alternate" type="application/atom+xml" title="${esc(s.orgName)} status updates" href="/history.atom">
<link rel="alternate" type="application/rss+xml" title="${esc(s.orgName)} status updates (RSS)" href="/history.rss">
<style>${CSS}</style>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header><p><a href="/">${esc(s.orgName)} Status</a></p></header>
<main id="main">
${content}
</main>
<footer><p>Subscribe to updates: <a href="/history.atom">Atom feed</a> · <a href="/history.rss">RSS feed</a> · <a href="/api/v2/summary.json">Status API</a> · Times in ${esc(s.zone)}</p></footer>
</body>
</html>
`;
}

const statusLabel = (st: ComponentStatus) => statusTitle(st);

function posted(ms: number, s: PublicState): string {
  return `<p class="posted">Posted <time datetime="${esc(toIso(ms, s.zone))}">${esc(formatPosted(ms, s.zone))}</time></p>`;
}

function componentItem(_s: PublicState, c: PublicComponent, heading: 'h3' | 'h4'): string {
  const worstDays = c.uptime.days.filter((d) => d.worst !== 'operational').length;
  const cells = c.uptime.days
    .map((d) => {
      const label = `${d.label}: ${d.worst === 'operational' ? 'no incidents' : statusLabel(d.worst).toLowerCase()}`;
      return `<span class="d-${d.worst}" title="${esc(label)}"></span>`;
    })
    .join('');
  const summary = `${c.name}: ${c.uptime.percent.toFixed(2)}% uptime over the last ${UPTIME_DAYS} days${worstDays ? `, ${worstDays} day${worstDays > 1 ? 's' : ''} with reduced service` : ''}`;
  return `<li class="component">
<div class="row"><${heading} class="name">${esc(c.name)}</${heading}><span class="status st-${c.status}">${esc(statusLabel(c.status))}</span></div>
<div class="bar" role="img" aria-label="${esc(summary)}">${cells}</div>
<div class="legend" aria-hidden="true"><span>${UPTIME_DAYS} days ago</span><span>${c.uptime.percent.toFixed(2)} % uptime</span><span>Today</span></div>
</li>`;
}

function componentsSection(s: PublicState): string {
  if (!s.components.length) return '';
  const parts: string[] = [];
  const done = new Set<string>();
  let loose: string[] = [];
  const flush = () => {
    if (loose.length) parts.push(`<ul class="components">${loose.join('\n')}</ul>`);
    loose = [];
  };
  for (const c of s.components) {
    if (c.group === null) {
      loose.push(componentItem(s, c, 'h3'));
      continue;
    }
    if (done.has(c.group)) continue;
    done.add(c.group);
    flush();
    const members = s.components.filter((m) => m.group === c.group);
    parts.push(`<div class="group"><h3>${esc(c.group)}</h3><ul class="components">${members.map((m) => componentItem(s, m, 'h4')).join('\n')}</ul></div>`);
  }
  flush();
  return `<section aria-labelledby="components-h"><h2 id="components-h">Components</h2>\n${parts.join('\n')}\n</section>`;
}

function incidentCard(s: PublicState, i: PublicIncident, heading: 'h3' | 'h4'): string {
  const latest = i.updates[0]!;
  return `<article class="card impact-${i.impact}">
<${heading}><a href="/incidents/${esc(i.ref)}">${esc(i.title)}</a></${heading}>
<p class="body"><strong>${esc(statusTitle(latest.status))}</strong> - ${esc(latest.body)}</p>
${posted(latest.displayAt, s)}
</article>`;
}

export function renderHome(s: PublicState): string {
  const open = s.incidents.filter((i) => i.status !== 'resolved');
  const active = open.length
    ? `<section aria-labelledby="active-h"><h2 id="active-h">Active incidents</h2>\n${open.map((i) => incidentCard(s, i, 'h3')).join('\n')}\n</section>`
    : '';
  const days = s.historyDays
    .map((label) => {
      const that = s.incidents.filter((i) => i.createdDay === label);
      const body = that.length ? that.map((i) => incidentCard(s, i, 'h4')).join('\n') : '<p class="none">No incidents reported.</p>';
      return `<div class="day"><h3>${esc(label)}</h3>\n${body}</div>`;
    })
    .join('\n');
  const content = `<div class="banner ind-${s.indicator}" role="status"><h1>${esc(s.description)}</h1></div>
${maintenanceBanner(s)}
${active}
${upcomingMaintenance(s)}
${componentsSection(s)}
${colourKey(s)}
<section aria-labelledby="past-h"><h2 id="past-h">Past incidents</h2>
${days}
</section>`;
  return layout(s, `${s.orgName} Status`, content);
}

/** "A.", "A and B.", "A, B, and C." — the seed's wording. */
export function affectedSentence(names: string[]): string {
  if (names.length <= 2) return names.join(' and ');
  return `${names.slice(0, -1).join(', ')}, and ${names.at(-1)}`;
}

/** The incident report, in the layout of shared/seed/: postmortem first, then updates newest first. */
export function renderIncident(s: PublicState, i: PublicIncident): string {
  const names = i.componentIds.flatMap((id) => s.components.filter((c) => c.id === id).map((c) => c.name));
  const pm = i.postmortem
    ? `<section class="postmortem" aria-labelledby="pm-h"><h2 id="pm-h">Postmortem</h2>
<div class="body">${esc(i.postmortem.body)}</div>
${posted(i.postmortem.publishedAt, s)}
</section>`
    : '';
  const updates = i.updates
    .map(
      (u) => `<li class="update" id="${esc(u.ref)}"><h2>${esc(u.label)}</h2>
<div class="body">${esc(u.body)}</div>
${posted(u.displayAt, s)}
</li>`,
    )
    .join('\n');
  // The picture (GET /incidents/INC-n/chart.svg) as an image: its words are the alt text, so the
  // page reads the same with or without it.
  const size = chartSize(i);
  const chart = `<div class="chart"><a href="/incidents/${esc(i.ref)}/chart.svg"><img src="/incidents/${esc(i.ref)}/chart.svg" width="${size.width}" height="${size.height}" alt="${esc(chartSummary(s, i, s.builtAt).text)}"></a></div>`;
  const content = `<h1>${esc(i.title)}</h1>
<p class="subtitle">Incident Report for ${esc(s.orgName)}</p>
${chart}
${pm}
<ol class="updates" aria-label="Updates, newest first">
${updates}
</ol>
${names.length ? `<p class="affected">This incident affected: ${esc(affectedSentence(names))}.</p>` : ''}`;
  return layout(s, `${i.title} - ${s.orgName} Status`, content);
}

// --- scheduled maintenance ---------------------------------------------------------------------------

/** The maintenance's components in catalogue order. */
function componentsOfMaintenance(s: PublicState, m: PublicMaintenance): PublicComponent[] {
  const ids = new Set(m.componentIds);
  return s.components.filter((c) => ids.has(c.id));
}

const timeTag = (ms: number, text: string, s: PublicState) => `<time datetime="${esc(toIso(ms, s.zone))}">${esc(text)}</time>`;

/** "Scheduled for Dec 07, 2026 - 22:00 PST – 23:30 PST" (the end's date only when it is another day). */
function maintenanceWindow(s: PublicState, m: PublicMaintenance): string {
  const end = sameDay(m.scheduledFor, m.scheduledUntil, s.zone) ? formatClock(m.scheduledUntil, s.zone, false) : formatPosted(m.scheduledUntil, s.zone);
  return `<p class="window">Scheduled for ${timeTag(m.scheduledFor, formatPosted(m.scheduledFor, s.zone), s)} – ${timeTag(m.scheduledUntil, end, s)}</p>`;
}

const maintenanceStatusTitle = (st: MaintenanceStatus) => statusTitle(st);

/** One maintenance on the front page: its link, window, components and latest published text. */
function maintenanceCard(s: PublicState, m: PublicMaintenance): string {
  const latest = m.updates[0]!;
  const comps = componentsOfMaintenance(s, m);
  const held = isActiveMaintenance(m.status);
  const names = comps.map((c) =>
    held ? `<span class="st-under_maintenance"><span class="sw sw-under_maintenance"></span>${esc(c.name)}</span>` : esc(c.name),
  );
  const list = names.length ? `<p class="held">${held ? 'Under maintenance' : 'Components'}: ${names.join(', ')}</p>` : '';
  return `<article class="card maint" id="${esc(m.ref)}">
<h3><a href="/maintenances/${esc(m.ref)}">${esc(m.title)}</a></h3>
${maintenanceWindow(s, m)}
${list}
<p class="body"><strong>${esc(maintenanceStatusTitle(latest.status))}</strong> - ${esc(latest.body)}</p>
${posted(latest.displayAt, s)}
</article>`;
}

const soonestFirst = (a: PublicMaintenance, b: PublicMaintenance) => a.scheduledFor - b.scheduledFor || a.id - b.id;

/** The in-progress banner: maintenance under way, its components in maintenance colour. */
function maintenanceBanner(s: PublicState): string {
  const active = s.maintenances.filter((m) => isActiveMaintenance(m.status)).sort(soonestFirst);
  if (!active.length) return '';
  return `<section class="maint-banner" aria-labelledby="maint-active-h"><h2 id="maint-active-h">Maintenance in progress</h2>
${active.map((m) => maintenanceCard(s, m)).join('\n')}
</section>`;
}

function upcomingMaintenance(s: PublicState): string {
  const upcoming = s.maintenances.filter((m) => isUpcomingMaintenance(m.status)).sort(soonestFirst);
  if (!upcoming.length) return '';
  return `<section aria-labelledby="maint-upcoming-h"><h2 id="maint-upcoming-h">Upcoming maintenance</h2>
${upcoming.map((m) => maintenanceCard(s, m)).join('\n')}
</section>`;
}

/** What the colours of statuses and uptime bars mean. */
function colourKey(s: PublicState): string {
  if (!s.components.length) return '';
  const items = COMPONENT_STATUSES.map((st) => `<li><span class="sw sw-${st}"></span>${esc(statusLabel(st))}</li>`).join('');
  return `<ul class="key" aria-label="Status colours">${items}</ul>`;
}

/** A maintenance's page, in the incident report's layout: its texts newest first, then what it affects. */
export function renderMaintenance(s: PublicState, m: PublicMaintenance): string {
  const names = componentsOfMaintenance(s, m).map((c) => c.name);
  // Oldest first to label each text ("Update" when the status did not change), then newest first.
  const oldestFirst = [...m.updates].sort((a, b) => a.displayAt - b.displayAt || a.id - b.id);
  let prev: MaintenanceStatus | null = null;
  const items = oldestFirst.map((u) => {
    const label = prev === u.status ? 'Update' : maintenanceStatusTitle(u.status);
    prev = u.status;
    return `<li class="update" id="${esc(u.ref)}"><h2>${esc(label)}</h2>
<div class="body">${esc(u.body)}</div>
${posted(u.displayAt, s)}
</li>`;
  });
  const verb = isMaintenanceOpen(m.status) ? 'affects' : 'affected';
  const content = `<h1>${esc(m.title)}</h1>
<p class="subtitle">Scheduled Maintenance Report for ${esc(s.orgName)}</p>
<p class="maint-status">Status: <strong>${esc(maintenanceStatusTitle(m.status))}</strong></p>
${maintenanceWindow(s, m)}
<ol class="updates" aria-label="Updates, newest first">
${items.reverse().join('\n')}
</ol>
${names.length ? `<p class="affected">This scheduled maintenance ${verb}: ${esc(affectedSentence(names))}.</p>` : ''}`;
  return layout(s, `${m.title} - ${s.orgName} Status`, content);
}

export function renderNotFound(s: PublicState, what: string): string {
  return layout(s, `Not found - ${s.orgName} Status`, `<h1>Not found</h1>\n<p>${esc(what)}</p>\n<p><a href="/">Back to the current status</a></p>`);
}
