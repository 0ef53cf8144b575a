import { deliveredAfter, findOutboxRow, recentOutboxRows, requeueDeadRow } from '../../db/queries/outbox.js';
import { deadSubscriptionRowIds, enableSubscription, subscriptionOfTarget } from '../../db/queries/subscriptions.js';
import { SitrepError } from '../domain/errors.js';
import { NO_DEADLINE } from '../mirror/policy.js';
import { isWebhookLane, subscriptionRef } from '../domain/subscriptions.js';
import { formatDuration, toIso } from '../render/time.js';
import type { CommandContext, Reply } from './context.js';
import type { Command } from './grammar.js';
import { maySeeIncident, requireAdmin, visibleIncident } from './store.js';
import { findIncident, incRef } from '../../db/queries/incidents.js';

// Visibility into the outbox: what left, what waits, what failed and why. Read-only except
// `deliveries retry`, which puts a dead-lettered row back in its lane.

const LIST_LIMIT = 100;
const DEFAULT_DEADLINE_MS = 60 * 60_000;

export async function deliveries(ctx: CommandContext, cmd: Extract<Command, { verb: 'deliveries' }>): Promise<Reply> {
  switch (cmd.action) {
    case 'list':
      return listDeliveries(ctx, cmd.incident ?? ctx.scope.incidentId);
    case 'retry':
      return retryDelivery(ctx, cmd.id);
  }
}

async function listDeliveries(ctx: CommandContext, incidentId: number | undefined): Promise<Reply> {
  const rows = await ctx.store.read(async (db) => {
    if (incidentId !== undefined) await visibleIncident(ctx, db, incidentId);
    const rows = await recentOutboxRows(db, incidentId, LIST_LIMIT);
    // The list of everything leaves out the rows of private incidents the reader may not see.
    const hidden = new Set<number>();
    for (const id of new Set(rows.map((r) => r.incidentId))) {
      if (id === null || id === incidentId) continue;
      const inc = await findIncident(db, id);
      if (inc && !(await maySeeIncident(ctx, db, inc))) hidden.add(id);
    }
    return rows.filter((r) => r.incidentId === null || !hidden.has(r.incidentId));
  });
  const now = ctx.now();
  const zone = ctx.policy.timezone;
  const where = incidentId === undefined ? '' : ` for ${incRef(incidentId)}`;
  const text = rows.length
    ? [
        `Deliveries${where} (oldest first):`,
        ...rows.map((r) => {
          const parts = [
            `#${r.id}`,
            r.target,
            r.state + (r.state === 'folded' && r.foldedInto !== null ? ` into #${r.foldedInto}` : ''),
            `attempts ${r.attempts}`,
            `age ${formatDuration(now - r.createdAt)}`,
          ];
          if (r.incidentId !== null && incidentId === undefined) parts.splice(1, 0, incRef(r.incidentId));
          if (r.lastError && r.state !== 'delivered') parts.push(`last error: ${r.lastError}`);
          return parts.join('  ');
        }),
        ...(rows.some((r) => r.state === 'dead') ? ['`deliveries retry <id>` sends a dead delivery again.'] : []),
      ].join('\n')
    : `No deliveries${where} yet.`;
  return {
    text,
    data: {
      deliveries: rows.map((r) => ({
        id: r.id,
        delivery_id: r.deliveryId,
        incident: r.incidentId === null ? null : incRef(r.incidentId),
        target: r.target,
        kind: r.kind,
        state: r.state,
        attempts: r.attempts,
        last_error: r.lastError,
        age_seconds: Math.max(0, Math.floor((now - r.createdAt) / 1000)),
        created_at: toIso(r.createdAt, zone),
        delivered_at: r.deliveredAt === null ? null : toIso(r.deliveredAt, zone),
        next_attempt_at: r.state === 'pending' ? toIso(r.nextAttemptAt, zone) : null,
        folded_into: r.foldedInto,
        customer_facing: r.customerFacing,
      })),
    },
  };
}

async function retryDelivery(ctx: CommandContext, id: number): Promise<Reply> {
  requireAdmin(ctx, 'retry deliveries');
  const now = ctx.now();
  return ctx.store.transaction(async (tx) => {
    const row = await findOutboxRow(tx, id);
    if (!row) throw new SitrepError('NOT_FOUND', `there is no delivery #${id}; \`deliveries\` lists them`);
    if (row.state !== 'dead') {
      throw new SitrepError('CONFLICT', `delivery #${id} is ${row.state}; only dead deliveries can be retried`);
    }
    // A fresh deadline of the same length, else the row would be dead-lettered again at once.
    // Webhook rows have none: the retry starts their schedule over, from "immediately".
    const from = row.approvedAt ?? row.createdAt;
    const window = row.deadlineAt !== null ? Math.max(60_000, row.deadlineAt - from) : DEFAULT_DEADLINE_MS;
    const webhook = isWebhookLane(row.target);
    await requeueDeadRow(tx, id, {
      now,
      deadlineAt: webhook ? NO_DEADLINE : row.customerFacing || row.deadlineAt !== null ? now + window : null,
      note: `retried by ${ctx.actor} (was: ${row.lastError ?? 'unknown'})`,
    });
    const newer = await deliveredAfter(tx, row.target, row.incidentId, row.id);
    const note = newer !== undefined ? ` Note: #${newer}, a newer message to the same target, was already delivered; this one arrives after it.` : '';
    // Retrying a dead letter of a disabled subscription says the endpoint is back: it is enabled
    // again, so later updates reach it too. Its other dead letters are named, not re-sent unasked.
    let enabled = '';
    const sub = webhook ? await subscriptionOfTarget(tx, row.target) : undefined;
    if (sub && sub.disabledAt !== null && (await enableSubscription(tx, sub.id))) {
      const others = (await deadSubscriptionRowIds(tx, sub)).map((r) => `#${r}`);
      enabled =
        ` ${subscriptionRef(sub.id)} was disabled (${sub.disabledReason ?? 'disabled'}) and is enabled again.` +
        (others.length
          ? ` ${others.length} more dead deliver${others.length === 1 ? 'y' : 'ies'} to it: ${others.join(', ')} (\`deliveries retry <id>\` each).`
          : '');
    }
    return {
      text: `Delivery #${id} to ${row.target} is queued again; a running server sends it shortly.${note}${enabled}`,
      data: { id, target: row.target, state: 'pending', ...(sub && enabled ? { subscription: subscriptionRef(sub.id), reenabled: true } : {}) },
    };
  });
}
