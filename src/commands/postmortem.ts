import type { ReadConn } from '../../db/store.js';
import { incidentFollowups } from '../../db/queries/followups.js';
import { internalComponentHistory, publishedCustomerUpdates, savePostmortemMarkdown } from '../../db/queries/postmortems.js';
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
import { proposeUpdate } from './publish.js';
import { resolveIncident } from './store.js';
import { incRef, type IncidentRow } from '../../db/queries/incidents.js';
import { listApprovers } from '../../db/queries/settings.js';
import { joinNames } from './template.js';
import { loadTimeline } from '../../db/queries/timeline.js';

/** The worst status each component reached during the incident, in catalogue order. */
async function impactByComponent(db: ReadConn, incidentId: number): Promise<Array<{ name: string; worst: ComponentStatus }>> {
  const rows = await internalComponentHistory(db, incidentId);
  const by = new Map<string, ComponentStatus[]>();
  for (const r of rows) by.set(r.name, [...(by.get(r.name) ?? []), r.status]);
  return [...by.entries()].map(([name, s]) => ({ name, worst: worstStatus(s) })).filter((c) => c.worst !== 'operational');
}

/** The markdown postmortem draft: facts from the timeline, headings for what only people know. */
export async function buildPostmortem(db: ReadConn, ctx: CommandContext, inc: IncidentRow): Promise<string> {
  const zone = ctx.policy.timezone;
  const now = ctx.now();
  const end = inc.resolvedAt ?? now;
  const at = (ms: number) => (sameDay(inc.startedAt, end, zone) ? formatClock(ms, zone, false) : formatClock(ms, zone, true));
  const impact = await impactByComponent(db, inc.id);
  const published = await publishedCustomerUpdates(db, inc.id);
  const fus = await incidentFollowups(db, inc.id);
  const events = await loadTimeline(db, inc.id);
  const metric = (label: string, ms: number | null) => `| ${label} | ${ms === null ? '—' : formatDuration(ms)} |`;
  const lines = [
    `# Postmortem: ${inc.title} (${incRef(inc.id)})`,
    '',
    `- **Severity:** sev${inc.severity}`,
    `- **Status:** ${inc.status}${inc.resolvedAt === null ? ' (still open: this draft will change)' : ''}`,
    `- **Lead:** ${displayUser(inc.lead)}${inc.commander ? ` · **Commander:** ${displayUser(inc.commander)}` : ''}${inc.comms ? ` · **Comms:** ${displayUser(inc.comms)}` : ''}`,
    `- **Impact:** ${formatPosted(inc.startedAt, zone)} – ${inc.resolvedAt === null ? 'ongoing' : formatPosted(inc.resolvedAt, zone)} (${formatDuration(end - inc.startedAt)})`,
    '',
    '## Key metrics',
    '',
    '| measure | time |',
    '|---|---|',
    metric('Time to detect (impact → declared)', inc.declaredAt - inc.startedAt),
    metric('Time to identify', inc.identifiedAt === null ? null : inc.identifiedAt - inc.startedAt),
    metric('Time to mitigate (monitoring)', inc.monitoringAt === null ? null : inc.monitoringAt - inc.startedAt),
    metric('Time to resolve', inc.resolvedAt === null ? null : inc.resolvedAt - inc.startedAt),
    metric('Time to first customer update', published[0] ? published[0].displayAt - inc.startedAt : null),
    '',
    '## Customer impact',
    '',
    ...(impact.length ? impact.map((c) => `- ${c.name}: ${statusLabel(c.worst)} at worst`) : ['- No component was marked as affected.']),
    `- ${published.length} customer-facing update${published.length === 1 ? '' : 's'} published.`,
    '',
    '## Timeline',
    '',
    ...events.map((e) => `- **${at(e.occurredAt)}** ${e.kind.replace(/_/g, ' ')} (${displayUser(e.actor)}): ${e.text.replace(/\n+/g, ' ')}`),
    '',
    '## Follow-up actions',
    '',
    ...(fus.length
      ? fus.map((f) => `- [${f.state === 'done' ? 'x' : ' '}] F-${f.id} ${f.text}${f.owner ? ` (owner ${displayUser(f.owner)})` : ''}`)
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
      return { text: `Postmortem for ${id} published (${did}).`, data: { id: did, incident: id, state: 'published', body, markdown } };
    }
    return {
      text: `Public postmortem ${did} drafted for ${id}; ${awaitingApprovalNote({ policy: ctx.policy.approval, approvers: await listApprovers(tx), author: ctx.actor, draftId: did })}.\n\n${body}`,
      data: { id: did, incident: id, state: 'draft', body, markdown },
    };
  });
}
