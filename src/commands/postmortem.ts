import type { ReadConn } from '../../db/store.js';
import { incidentFollowups } from '../../db/queries/followups.js';
import { internalComponentHistory, publishedCustomerUpdates, publishedPostmortem, savePostmortemMarkdown } from '../../db/queries/postmortems.js';
import { impactOf, longestGap, publicBands } from '../domain/impact.js';
import { displayUser } from '../domain/actor.js';
import { worstStatus } from '../domain/components.js';
import type { ComponentStatus } from '../domain/enums.js';
import { awaitingApprovalNote } from '../domain/approval.js';
import { SitrepError } from '../domain/errors.js';
import { checkCustomerFacing } from '../domain/visibility.js';
import { statusLabel } from '../render/incident.js';
import { formatClock, formatDuration, formatPosted, sameDay } from '../render/time.js';
import type { CommandContext, Reply } from './context.js';
import type { Command } from './grammar.js';
import { chartUrl, proposeUpdate } from './publish.js';
import { resolveIncident } from './store.js';
import { incidentComponentRows, incRef, type IncidentRow } from '../../db/queries/incidents.js';
import { listApprovers } from '../../db/queries/settings.js';
import { joinNames } from './template.js';
import { loadTimeline } from '../../db/queries/timeline.js';

/** The worst status each component reached internally during the incident, in catalogue order. */
async function impactByComponent(db: ReadConn, incidentId: number): Promise<Array<{ name: string; worst: ComponentStatus }>> {
  const rows = await internalComponentHistory(db, incidentId);
  const by = new Map<string, ComponentStatus[]>();
  for (const r of rows) by.set(r.name, [...(by.get(r.name) ?? []), r.status]);
  return [...by.entries()].map(([name, s]) => ({ name, worst: worstStatus(s) })).filter((c) => c.worst !== 'operational');
}

const incidentStatusTitle = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const oneLine = (s: string) => s.replace(/\s*\n+\s*/g, ' ').trim();

/** The markdown postmortem draft: facts from the timeline, headings for what only people know. */
export async function buildPostmortem(db: ReadConn, ctx: CommandContext, inc: IncidentRow): Promise<string> {
  const zone = ctx.policy.timezone;
  const now = ctx.now();
  const end = inc.resolvedAt ?? now;
  // Times on the day the impact began go without a date; any other day's carry theirs.
  const at = (ms: number) => formatClock(ms, zone, !sameDay(ms, inc.startedAt, zone));
  const published = await publishedCustomerUpdates(db, inc.id);
  const pm = await publishedPostmortem(db, inc.id);
  const fus = await incidentFollowups(db, inc.id);
  const events = await loadTimeline(db, inc.id);
  const names = new Map((await incidentComponentRows(db, inc.id)).map((c) => [c.slug, c.name]));
  const since = (ms: number | null) => (ms === null ? null : { ms: ms - inc.startedAt, at: ms });
  const metric = (label: string, m: { ms: number; at: number } | null) =>
    `| ${label} | ${m === null ? '—' : formatDuration(m.ms)} | ${m === null ? '—' : at(m.at)} |`;

  // What customers were shown: the public picture from the published updates alone (the chart's source too).
  const publicEnd = inc.publicStatus === 'resolved' ? (published.filter((u) => u.status === 'resolved').at(-1)?.displayAt ?? now) : now;
  const bands = publicBands(
    published.map((u) => ({ status: u.status, at: u.displayAt, components: u.componentChanges })),
    publicEnd,
  );
  const publicImpact = [...bands.entries()].flatMap(([slug, b]) => {
    const imp = impactOf(b);
    return imp ? [{ slug, name: names.get(slug) ?? slug, imp, last: b.at(-1)!.status }] : [];
  });
  const position = [...names.keys()];
  publicImpact.sort((a, b) => position.indexOf(a.slug) - position.indexOf(b.slug));
  const impactLines = publicImpact.length
    ? publicImpact.map(({ name, imp, last }) =>
        imp.to === null
          ? `- ${name}: ${statusLabel(imp.worst)} at worst, from ${at(imp.from)}; customers still see ${statusLabel(last)} (no published update has shown it recovered)`
          : `- ${name}: ${statusLabel(imp.worst)} at worst, ${at(imp.from)} to ${at(imp.to)} (${formatDuration(imp.impairedMs)})`,
      )
    : (await impactByComponent(db, inc.id)).map((c) => `- ${c.name}: ${statusLabel(c.worst)} at worst (internal status: no published update named it)`);

  const gap = longestGap(published.map((u) => u.displayAt));
  let prev: string | null = null;
  const updateLines = published.map((u, n) => {
    const label = prev === u.status ? 'Update' : incidentStatusTitle(u.status);
    prev = u.status;
    return `${n + 1}. **${at(u.displayAt)}** ${label} (D-${u.id}): ${oneLine(u.body)}`;
  });
  const isPublic = inc.publicStatus !== null;

  const lines = [
    `# Postmortem: ${inc.title} (${incRef(inc.id)})`,
    '',
    `- **Severity:** sev${inc.severity}`,
    `- **Status:** ${inc.status}${inc.resolvedAt === null ? ' (still open: this draft will change)' : ''}`,
    `- **Lead:** ${displayUser(inc.lead)}${inc.commander ? ` · **Commander:** ${displayUser(inc.commander)}` : ''}${inc.comms ? ` · **Comms:** ${displayUser(inc.comms)}` : ''}`,
    `- **Impact:** ${formatPosted(inc.startedAt, zone)} – ${inc.resolvedAt === null ? 'ongoing' : formatPosted(inc.resolvedAt, zone)} (${formatDuration(end - inc.startedAt)})`,
    `- **Times:** ${zone}`,
    '',
    '## Key metrics',
    '',
    '| measure | time | at |',
    '|---|---|---|',
    metric('Time to detect (impact → declared)', since(inc.declaredAt)),
    metric('Time to identify', since(inc.identifiedAt)),
    metric('Time to mitigate (monitoring)', since(inc.monitoringAt)),
    metric('Time to resolve', since(inc.resolvedAt)),
    metric('Time to first customer update', since(published[0]?.displayAt ?? null)),
    `| Longest gap between customer updates | ${gap ? `${formatDuration(gap.ms)} | ${at(gap.from)} to ${at(gap.to)}` : '— | —'} |`,
    '',
    '## Customer impact',
    '',
    ...(impactLines.length ? impactLines : ['- No component was marked as affected.']),
    ...(isPublic
      ? ['', `![Public status of each affected component over the incident](${chartUrl(ctx.policy.publicUrl, inc.id)})`]
      : inc.visibility === 'private'
        ? []
        : ['', `_The chart (${chartUrl(ctx.policy.publicUrl, inc.id)}) appears once a customer update is published._`]),
    '',
    '## Customer updates',
    '',
    published.length
      ? `${published.length} customer update${published.length === 1 ? '' : 's'} published${gap ? `; the longest gap between two was ${formatDuration(gap.ms)}, ${at(gap.from)} to ${at(gap.to)}` : ''}${inc.resolvedAt === null && published.length ? `; the last was ${formatDuration(now - published.at(-1)!.displayAt)} ago` : ''}.`
      : '- None published: customers have not been told.',
    ...(updateLines.length ? ['', ...updateLines] : []),
    ...(pm ? ['', `Public postmortem D-${pm.id}, posted ${formatPosted(pm.displayAt, zone)}:`, '', ...pm.body.split('\n').map((l) => `> ${l}`)] : []),
    '',
    '## Timeline',
    '',
    ...events.map((e) => `- **${at(e.occurredAt)}** ${e.kind.replace(/_/g, ' ')} (${displayUser(e.actor)}): ${oneLine(e.text)}`),
    '',
    '## Follow-up actions',
    '',
    ...(fus.length
      ? fus.map(
          (f) =>
            `- [${f.state === 'done' ? 'x' : ' '}] F-${f.id} ${oneLine(f.text)} (${f.owner ? `owner ${displayUser(f.owner)}` : 'no owner'}) · ${f.state === 'done' ? `done${f.doneAt === null ? '' : ` ${formatPosted(f.doneAt, zone)}`}` : 'open'}`,
        )
      : ['- None yet: `followup add <text> owner:@someone`.']),
    '',
    '## Root cause',
    '',
    '_To be written by the team._',
    '',
    '## What went well · What went wrong · Where we got lucky',
    '',
    '_To be written by the team._',
  ];
  return lines.join('\n');
}

/** The customer-facing part, in the shape status pages use (incident time, summary, impact). */
export async function publicSummary(db: ReadConn, ctx: CommandContext, inc: IncidentRow): Promise<string> {
  const zone = ctx.policy.timezone;
  const impact = await impactByComponent(db, inc.id);
  const last = (await publishedCustomerUpdates(db, inc.id)).at(-1);
  return [
    `Incident time: ${formatPosted(inc.startedAt, zone)} – ${formatPosted(inc.resolvedAt!, zone)} (${formatDuration(inc.resolvedAt! - inc.startedAt)})`,
    '',
    `Summary: ${inc.title}.${last ? ` ${last.body}` : ''}`,
    ...(impact.length ? ['', `Affected: ${joinNames(impact.map((c) => `${c.name} (${statusLabel(c.worst)})`))}.`] : []),
  ].join('\n');
}

export async function postmortem(ctx: CommandContext, cmd: Extract<Command, { verb: 'postmortem' }>): Promise<Reply> {
  return ctx.store.transaction(async (tx) => {
    const inc = await resolveIncident(ctx, tx, cmd.incident, 'postmortem', { latestIfNoneOpen: true });
    const id = incRef(inc.id);
    const now = ctx.now();
    const markdown = await buildPostmortem(tx, ctx, inc);
    await savePostmortemMarkdown(tx, inc.id, markdown, now);
    if (cmd.action === 'draft') return { text: markdown, data: { id, markdown } };

    checkCustomerFacing(id, inc, 'postmortem publish');
    if (inc.status !== 'resolved') throw new SitrepError('CONFLICT', `${id} is still ${inc.status}; resolve it before publishing its postmortem`);
    if (inc.publicStatus === null) throw new SitrepError('CONFLICT', `${id} was never public (no published update), so there is no public postmortem to add`);
    const body = cmd.text ?? (await publicSummary(tx, ctx, inc));
    const { draft, published } = await proposeUpdate(tx, ctx, {
      incidentId: inc.id,
      body,
      status: inc.publicStatus,
      componentChanges: [],
      displayAt: now,
      isPostmortem: true,
      label: 'postmortem',
    });
    const did = `D-${draft.id}`;
    if (published) {
      const chart = chartUrl(ctx.policy.publicUrl, inc.id);
      return { text: `Postmortem for ${id} published (${did}). Chart: ${chart}`, data: { id: did, incident: id, state: 'published', body, markdown, chart } };
    }
    return {
      text: `Public postmortem ${did} drafted for ${id}; ${awaitingApprovalNote({ policy: ctx.policy.approval, approvers: await listApprovers(tx), author: ctx.actor, draftId: did })}.\n\n${body}`,
      data: { id: did, incident: id, state: 'draft', body, markdown },
    };
  });
}
