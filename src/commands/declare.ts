import { SitrepError } from '../domain/errors.js';
import { formatPosted } from '../render/time.js';
import type { CommandContext, Reply } from './context.js';
import type { Command } from './grammar.js';
import { answerReachesOthers, describeChanges, recordEvent, touchIncident } from './store.js';
import { recordPage } from './page.js';
import { applyComponentChanges, componentsBySlug, incRef, insertIncident } from '../../db/queries/incidents.js';

export async function declare(ctx: CommandContext, cmd: Extract<Command, { verb: 'declare' }>): Promise<Reply> {
  const now = ctx.now();
  const declaredAt = cmd.at ?? now;
  const startedAt = cmd.startedAt ?? declaredAt;
  if (startedAt > declaredAt)
    throw new SitrepError('INVALID', 'started: is after the declaration time; the impact cannot begin after the incident was declared');
  return ctx.store.transaction(async (tx) => {
    if (cmd.components)
      await componentsBySlug(
        tx,
        cmd.components.map((c) => c.slug),
      ); // validate before writing
    const lead = cmd.lead ?? ctx.actor;
    const visibility = cmd.visibility ?? 'public';
    const inc = await insertIncident(tx, {
      title: cmd.title,
      severity: cmd.severity ?? 3,
      lead,
      createdBy: ctx.actor,
      startedAt,
      declaredAt,
      recordedAt: now,
      visibility,
    });
    const changes = cmd.components ? await applyComponentChanges(tx, inc.id, cmd.components, declaredAt) : [];
    const parts = [`Declared "${cmd.title}" (sev${inc.severity}, investigating${visibility === 'private' ? ', private' : ''})`];
    if (startedAt !== declaredAt) parts.push(`impact began ${formatPosted(startedAt, ctx.policy.timezone)}`);
    if (changes.length) parts.push(describeChanges(changes));
    await recordEvent(tx, ctx, {
      incidentId: inc.id,
      kind: 'declared',
      occurredAt: declaredAt,
      text: parts.join('; '),
      payload: {
        title: cmd.title,
        severity: inc.severity,
        lead,
        startedAt,
        components: changes,
        scope: ctx.scope,
        ...(cmd.dedicated ? { dedicated: true } : {}),
      },
    });
    const pages = ctx.policy.paging !== undefined && inc.severity <= ctx.policy.paging.severity;
    if (pages) await recordPage(tx, ctx, inc, { auto: true, text: null, occurredAt: declaredAt });
    await touchIncident(tx, ctx, inc.id);
    const id = incRef(inc.id);
    if (visibility === 'private' && (await answerReachesOthers(ctx, tx))) {
      // Typed in a shared Teams channel: everyone there reads this answer, so it names nothing.
      return {
        text: `${id} declared as a private incident; its root message and thread are in the private-incidents channel`,
        data: { id, status: 'investigating', severity: inc.severity, visibility },
      };
    }
    return {
      text: `${id} declared: ${cmd.title} (sev${inc.severity}, investigating, lead ${lead})${
        visibility === 'private' ? '. It is private: nothing about it reaches customers, and only its people see it' : ''
      }${pages ? '; the on-call is paged through PagerDuty' : ''}`,
      data: { id, title: cmd.title, status: 'investigating', severity: inc.severity, lead, visibility },
    };
  });
}
