import { displayUser } from '../domain/actor.js';
import { SitrepError } from '../domain/errors.js';
import type { WriteTx } from '../../db/store.js';
import { incRef, type IncidentRow } from '../../db/queries/incidents.js';
import type { CommandContext, Reply } from './context.js';
import type { Command } from './grammar.js';
import { recordEvent, resolveIncident } from './store.js';

// `page [INC-n] [text]`: pages the on-call through PagerDuty. The verb only records who paged and
// why (a `paged` timeline event, so the thread says so); the PagerDuty outlet turns it into an
// outbox row in the same transaction, and the worker sends it (dedup key INC-n: one alert per
// incident however often it is paged).

export const NOT_CONFIGURED = 'PagerDuty is not configured; set PAGERDUTY_ROUTING_KEY (the Events API v2 integration key) and restart';

/** Records a page of `inc` (by hand, or at declare when its severity calls for one). */
export async function recordPage(
  tx: WriteTx,
  ctx: CommandContext,
  inc: IncidentRow,
  p: { auto: boolean; text: string | null; occurredAt?: number },
): Promise<void> {
  const id = incRef(inc.id);
  const why = p.auto ? `sev${inc.severity} declared (SITREP_PAGE_SEVERITY=${ctx.policy.paging?.severity ?? 1})` : `by ${displayUser(ctx.actor)}`;
  await recordEvent(tx, ctx, {
    incidentId: inc.id,
    kind: 'paged',
    ...(p.occurredAt !== undefined ? { occurredAt: p.occurredAt } : {}),
    text: `Paged the on-call through PagerDuty, ${why}${p.text ? `: ${p.text}` : ''} (alert ${id})`,
    payload: { auto: p.auto, text: p.text },
  });
}

export async function page(ctx: CommandContext, cmd: Extract<Command, { verb: 'page' }>): Promise<Reply> {
  if (!ctx.policy.paging) throw new SitrepError('INVALID', NOT_CONFIGURED);
  return ctx.store.transaction(async (tx) => {
    const inc = await resolveIncident(ctx, tx, cmd.incident, 'page');
    const id = incRef(inc.id);
    if (inc.status === 'resolved') throw new SitrepError('CONFLICT', `${id} is resolved; \`reopen ${id}\` first if it needs people again`);
    await recordPage(tx, ctx, inc, { auto: false, text: cmd.text ?? null, ...(cmd.at !== undefined ? { occurredAt: cmd.at } : {}) });
    return { text: `Paged the on-call for ${id} through PagerDuty.`, data: { incident: id, paged: true } };
  });
}
