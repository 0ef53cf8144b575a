import { help } from './help.js';
import type { CommandContext, Reply } from './context.js';
import type { Command } from './grammar.js';
import { declare } from './declare.js';
import { update } from './update.js';
import { resolve, reopen } from './resolve.js';
import { assign, note, setComponents, severity } from './note.js';
import { approve, draft, reject } from './draft.js';
import { component } from './component.js';
import { approver, channel } from './admin.js';
import { list, show, timeline } from './read.js';
import { followup } from './followup.js';
import { stats } from './stats.js';
import { template } from './template.js';
import { postmortem } from './postmortem.js';
import { listSubscriptions, subscribe, unsubscribe } from './subscribe.js';
import { deliveries } from './deliveries.js';
import { maintenance } from './maintenance.js';
import { page } from './page.js';

export type { Logger, Result } from './run.js';

// Every verb, loaded: the server and the console may run any of them, through the runner
// (runner.ts). (The CLI runs one command per process and loads only its verb: verbs.ts.)

/** Runs one parsed command. Each verb authorises, validates, loads, decides, writes, replies. */
export function executeCommand(ctx: CommandContext, cmd: Command): Promise<Reply> {
  switch (cmd.verb) {
    case 'declare':
      return declare(ctx, cmd);
    case 'update':
      return update(ctx, cmd);
    case 'draft':
      return draft(ctx, cmd);
    case 'approve':
      return approve(ctx, cmd);
    case 'reject':
      return reject(ctx, cmd);
    case 'resolve':
      return resolve(ctx, cmd);
    case 'reopen':
      return reopen(ctx, cmd);
    case 'note':
      return note(ctx, cmd);
    case 'severity':
      return severity(ctx, cmd);
    case 'assign':
      return assign(ctx, cmd);
    case 'components':
      return setComponents(ctx, cmd);
    case 'component':
      return component(ctx, cmd);
    case 'approver':
      return approver(ctx, cmd);
    case 'channel':
      return channel(ctx, cmd);
    case 'list':
      return list(ctx, cmd);
    case 'show':
      return show(ctx, cmd);
    case 'timeline':
      return timeline(ctx, cmd);
    case 'followup':
      return followup(ctx, cmd);
    case 'stats':
      return stats(ctx, cmd);
    case 'template':
      return template(ctx, cmd);
    case 'subscribe':
      return subscribe(ctx, cmd);
    case 'unsubscribe':
      return unsubscribe(ctx, cmd);
    case 'subscriptions':
      return listSubscriptions(ctx, cmd);
    case 'deliveries':
      return deliveries(ctx, cmd);
    case 'postmortem':
      return postmortem(ctx, cmd);
    case 'maintenance':
      return maintenance(ctx, cmd);
    case 'page':
      return page(ctx, cmd);
    case 'help':
      return help(ctx, cmd);
  }
}
