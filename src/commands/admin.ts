import { deleteApprover, findApprover, insertApprover, listApproverRows } from '../../db/queries/approvers.js';
import { displayUser } from '../domain/actor.js';
import { SitrepError } from '../domain/errors.js';
import type { CommandContext, Reply } from './context.js';
import type { Command } from './grammar.js';
import { privateIncidentsChannelKey, requireAdmin } from './store.js';
import { setSetting } from '../../db/queries/settings.js';

export async function approver(ctx: CommandContext, cmd: Extract<Command, { verb: 'approver' }>): Promise<Reply> {
  switch (cmd.action) {
    case 'list': {
      const rows = await ctx.store.read((db) => listApproverRows(db));
      return {
        text: rows.length
          ? `Approvers: ${rows.map((r) => displayUser(r.userRef)).join(', ')}`
          : 'No approvers yet, so no customer-facing update can be approved; an admin adds one with `approver add @user`.',
        data: { approvers: rows.map((r) => r.userRef) },
      };
    }
    case 'add':
    case 'remove': {
      requireAdmin(ctx, 'manage approvers');
      return ctx.store.transaction(async (tx) => {
        const existing = await findApprover(tx, cmd.user);
        if (cmd.action === 'add') {
          if (existing) throw new SitrepError('CONFLICT', `${displayUser(cmd.user)} is already an approver`);
          await insertApprover(tx, { userRef: cmd.user, addedBy: ctx.actor, addedAt: ctx.now() });
          return { text: `${displayUser(cmd.user)} may now approve customer-facing updates.`, data: { user: cmd.user, approver: true } };
        }
        if (!existing) throw new SitrepError('NOT_FOUND', `${displayUser(cmd.user)} is not an approver (see \`approver list\`)`);
        await deleteApprover(tx, cmd.user);
        return { text: `${displayUser(cmd.user)} is no longer an approver.`, data: { user: cmd.user, approver: false } };
      });
    }
  }
}

export async function channel(ctx: CommandContext, cmd: Extract<Command, { verb: 'channel' }>): Promise<Reply> {
  const { platform, channel: where } = ctx.scope;
  if (platform === 'cli' || !where) {
    throw new SitrepError('INVALID', `\`channel ${cmd.action}\` binds the channel it is typed in; run it in a Slack or Teams channel`);
  }
  if (cmd.action === 'private-incidents') {
    if (platform === 'slack') {
      throw new SitrepError(
        'INVALID',
        'in Slack each private incident gets a private channel of its own (`declare … visibility:private`); `channel private-incidents` is for Teams',
      );
    }
    requireAdmin(ctx, 'choose the private-incidents channel');
    await ctx.store.transaction((tx) => setSetting(tx, privateIncidentsChannelKey(platform), where, ctx.actor, ctx.now()));
    return {
      text: `Private incidents will post their root message and thread here (${where}); everyone in this channel may see them.`,
      data: { platform, channel: where, visibility: 'private' },
    };
  }
  requireAdmin(ctx, 'choose the incidents channel');
  await ctx.store.transaction((tx) => setSetting(tx, `incidents_channel:${platform}`, where, ctx.actor, ctx.now()));
  return { text: `New incidents will post their root message and thread here (${where}).`, data: { platform, channel: where } };
}
