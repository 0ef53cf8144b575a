import type { WriteTx } from '../../db/store.js';
import {
  deadSubscriptionRowIds,
  deleteSubscription,
  enableSubscription,
  findSubscriptionById,
  findSubscriptionByTarget,
  insertSubscription,
  listSubscriptionRows,
  type SubscriptionRow,
} from '../../db/queries/subscriptions.js';
import { displayUser } from '../domain/actor.js';
import { SitrepError } from '../domain/errors.js';
import { checkWebhookUrl } from '../mirror/address.js';
import { generateWebhookSecret } from '../mirror/signing.js';
import { toIso } from '../render/time.js';
import type { CommandContext, Reply } from './context.js';
import { shown, type Command } from './grammar.js';
import { requireAdmin } from './store.js';
import { componentsBySlug } from '../../db/queries/incidents.js';

// Customer channels: who hears about incidents outside the company. Only admins manage them
// (a webhook URL is where customer-facing text goes, and may carry a token in its query).

type Kind = SubscriptionRow['kind'];

const TARGET_HELP = 'write slack:C123, teams:<conversation id> or webhook:https://…';
export const subRef = (id: number) => `S-${id}`;

/** Validates and normalises a subscription target as typed. Never touches the network. */
export function parseSubscriptionTarget(raw: string, ctx: CommandContext): { kind: Kind; target: string } {
  const i = raw.indexOf(':');
  const scheme = i > 0 ? raw.slice(0, i).toLowerCase() : '';
  const rest = i > 0 ? raw.slice(i + 1) : '';
  switch (scheme) {
    case 'webhook': {
      const check = checkWebhookUrl(rest, ctx.policy.webhooks ?? { publicOnly: false, allowLinkLocal: false });
      if (!check.ok) throw new SitrepError('INVALID', check.reason);
      return { kind: 'webhook', target: `webhook:${check.url.href}` };
    }
    case 'slack':
      if (!/^[CG][A-Z0-9]{2,}$/.test(rest)) {
        throw new SitrepError('INVALID', `"${rest}" is not a Slack channel ID; write slack:C0123ABCD (channel details → the ID at the bottom)`);
      }
      return { kind: 'slack', target: `slack:${rest}` };
    case 'teams':
      if (!rest || /\s/.test(rest) || rest.length > 500) {
        throw new SitrepError('INVALID', `"${rest}" is not a Teams conversation id; write teams:19:abc…@thread.tacv2`);
      }
      return { kind: 'teams', target: `teams:${rest}` };
    case 'http':
    case 'https':
      throw new SitrepError('INVALID', `a webhook target starts with webhook:, e.g. webhook:${raw}`);
    default:
      throw new SitrepError('INVALID', `"${raw}" is not a subscription target; ${TARGET_HELP}`);
  }
}

/**
 * A webhook's signing secret is shown once, to the person who subscribed. Slack answers them
 * alone (ephemeral) and the CLI prints to them, but a Teams reply in a channel or group chat is
 * read by everyone there: so there it is refused, with where to run it instead.
 */
function refuseSecretInSharedConversation(ctx: CommandContext, raw: string): void {
  if (ctx.scope.platform !== 'teams' || !(ctx.scope.shared || ctx.scope.channel !== undefined)) return;
  if (!/^webhook:/i.test(raw)) return;
  throw new SitrepError(
    'INVALID',
    'a webhook subscription shows its signing secret, which must not be posted where others read it; run `subscribe webhook:…` in a personal chat with Sitrep, or from the CLI (`npx sitrep subscribe webhook:…`); nothing was subscribed',
  );
}

export async function subscribe(ctx: CommandContext, cmd: Extract<Command, { verb: 'subscribe' }>): Promise<Reply> {
  requireAdmin(ctx, 'manage subscriptions');
  refuseSecretInSharedConversation(ctx, cmd.target);
  const { kind, target } = parseSubscriptionTarget(cmd.target, ctx);
  const secret = kind === 'webhook' ? generateWebhookSecret() : null;
  const outcome = await ctx.store.transaction(async (tx) => {
    await componentsBySlug(tx, cmd.components);
    const existing = await findSubscriptionByTarget(tx, target);
    if (existing && existing.disabledAt !== null) return { kind: 'reenabled' as const, reply: await reenable(ctx, tx, existing, cmd.components) };
    if (existing) {
      throw new SitrepError('CONFLICT', `${target} is already subscribed as ${subRef(existing.id)}; \`unsubscribe ${target}\` first to change it`);
    }
    return {
      kind: 'created' as const,
      row: await insertSubscription(tx, { target, kind, components: cmd.components, secret, createdBy: ctx.actor, createdAt: ctx.now() }),
    };
  });
  if (outcome.kind === 'reenabled') return outcome.reply;
  const row = outcome.row;
  const scope = cmd.components.length ? `incidents affecting ${cmd.components.join(', ')}` : 'every incident';
  const lines = [`Subscribed ${subRef(row.id)}: ${target} hears customer-facing updates for ${scope}.`];
  if (secret) {
    lines.push(
      `Signing secret (shown only now; store it in the receiver): ${secret}`,
      'Each POST carries webhook-id, webhook-timestamp and webhook-signature (Standard Webhooks).',
    );
  }
  return { text: lines.join('\n'), data: { id: subRef(row.id), target, secret, kind, components: cmd.components } };
}

/**
 * `subscribe` of a target that was disabled (410 Gone, or a whole failed retry schedule) enables
 * it again, keeping its id, filter and signing secret: the receiver already holds the secret, and
 * a new one would break its verification. What was dead-lettered stays dead until retried.
 */
async function reenable(ctx: CommandContext, tx: WriteTx, sub: SubscriptionRow, components: string[]): Promise<Reply> {
  const same = components.length === 0 || (components.length === sub.components.length && components.every((c) => sub.components.includes(c)));
  if (!same) {
    throw new SitrepError(
      'CONFLICT',
      `${sub.target} is subscribed as ${subRef(sub.id)} (disabled) with components: ${sub.components.length ? sub.components.join(', ') : 'all'}; \`subscribe ${sub.target}\` without components enables it again, or \`unsubscribe ${sub.target}\` first to change them`,
    );
  }
  await enableSubscription(tx, sub.id);
  const dead = await deadSubscriptionRowIds(tx, sub);
  const scope = sub.components.length ? `incidents affecting ${sub.components.join(', ')}` : 'every incident';
  const lines = [
    `Enabled ${subRef(sub.id)} again: ${sub.target} hears customer-facing updates for ${scope}. It was disabled ${toIso(sub.disabledAt ?? ctx.now(), ctx.policy.timezone)} (${sub.disabledReason ?? 'disabled'}).`,
  ];
  if (sub.kind === 'webhook') lines.push('Its signing secret is unchanged.');
  if (dead.length)
    lines.push(
      `${dead.length} dead deliver${dead.length === 1 ? 'y is' : 'ies are'} kept (${dead.map((id) => `#${id}`).join(', ')}); \`deliveries retry <id>\` sends one again.`,
    );
  return {
    text: lines.join('\n'),
    data: { id: subRef(sub.id), target: sub.target, secret: null, kind: sub.kind, components: sub.components, reenabled: true, dead },
  };
}

/** Accepts the target as subscribed or its S-n id. */
async function findSubscription(ctx: CommandContext, tx: WriteTx, raw: string): Promise<SubscriptionRow | undefined> {
  const byId = /^S-(\d+)$/i.exec(raw);
  if (byId) return findSubscriptionById(tx, Number(byId[1]));
  const exact = await findSubscriptionByTarget(tx, raw);
  if (exact) return exact;
  let target: string;
  try {
    target = parseSubscriptionTarget(raw, { ...ctx, policy: { ...ctx.policy, webhooks: { publicOnly: false, allowLinkLocal: true } } }).target;
  } catch {
    return undefined;
  }
  return findSubscriptionByTarget(tx, target);
}

export async function unsubscribe(ctx: CommandContext, cmd: Extract<Command, { verb: 'unsubscribe' }>): Promise<Reply> {
  requireAdmin(ctx, 'manage subscriptions');
  const { sub, dropped } = await ctx.store.transaction(async (tx) => {
    const sub = await findSubscription(ctx, tx, cmd.target);
    if (!sub) throw new SitrepError('NOT_FOUND', `${shown(cmd.target)} is not subscribed; \`subscriptions\` lists what is`);
    // Messages still waiting for this channel are not sent after it was removed; they stay
    // visible in `deliveries` as dead with the reason.
    return { sub, dropped: await deleteSubscription(tx, sub, `unsubscribed by ${displayUser(ctx.actor)} before delivery`) };
  });
  return {
    text: `Unsubscribed ${subRef(sub.id)} (${sub.target}).${dropped ? ` ${dropped} waiting deliver${dropped === 1 ? 'y' : 'ies'} will not be sent.` : ''}`,
    data: { id: subRef(sub.id), target: sub.target, unsubscribed: true, dropped },
  };
}

export async function listSubscriptions(ctx: CommandContext, _cmd: Extract<Command, { verb: 'subscriptions' }>): Promise<Reply> {
  requireAdmin(ctx, 'see subscriptions');
  const rows = await ctx.store.read((db) => listSubscriptionRows(db));
  const zone = ctx.policy.timezone;
  const disabled = (r: (typeof rows)[number]) =>
    r.disabledAt === null
      ? ''
      : `  DISABLED ${toIso(r.disabledAt, zone)}: ${r.disabledReason ?? r.disabledCause ?? 'disabled'} (\`subscribe ${r.target}\` or \`deliveries retry <id>\` enables it again)`;
  const text = rows.length
    ? [
        'Subscriptions:',
        ...rows.map(
          (r) =>
            `${subRef(r.id)}  ${r.target}  components: ${r.components.length ? r.components.join(', ') : 'all'}  (by ${displayUser(r.createdBy)})${disabled(r)}`,
        ),
      ].join('\n')
    : 'No subscriptions yet; `subscribe webhook:https://… [components:slug,…]` adds one.';
  // The signing secret is never shown again: it was printed once at `subscribe`.
  return {
    text,
    data: {
      subscriptions: rows.map((r) => ({
        id: subRef(r.id),
        target: r.target,
        kind: r.kind,
        components: r.components,
        created_by: r.createdBy,
        created_at: toIso(r.createdAt, zone),
        disabled: r.disabledAt !== null,
        disabled_at: r.disabledAt === null ? null : toIso(r.disabledAt, zone),
        disabled_cause: r.disabledCause,
        disabled_reason: r.disabledReason,
      })),
    },
  };
}
