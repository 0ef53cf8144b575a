import { randomBytes } from 'node:crypto';
import { BUSY_TIMEOUT_MS, isBusyError } from '../../db/client.js';
import { isSitrepError, type ErrorCode } from '../domain/errors.js';
import { helpText } from './help.js';
import type { CommandContext, Reply } from './context.js';
import { parseCommand, type Command } from './grammar.js';
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

export type Result =
  | { ok: true; command: Command; reply: Reply }
  | { ok: false; error: { code: ErrorCode; message: string; ref?: string } };


/** Runs one parsed command. Each verb authorises, validates, loads, decides, writes, replies. */
export function executeCommand(ctx: CommandContext, cmd: Command): Reply {
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
    case 'help':
      return { text: helpText(cmd.topic), data: { help: helpText(cmd.topic) } };
  }
}

export interface Logger {
  error(obj: Record<string, unknown>, msg: string): void;
}

/**
 * Runs an already-built command (a modal or card submission) and maps failures once for every
 * surface: SitrepErrors keep their code and message; anything else is logged with a reference id
 * that the user also sees, so a report can be matched to the log.
 */
export function runParsedCommand(ctx: CommandContext, command: Command, log?: Logger, fields: Record<string, unknown> = {}): Result {
  try {
    return { ok: true, command, reply: executeCommand(ctx, command) };
  } catch (e) {
    return { ok: false, error: toResultError(e, log, fields) };
  }
}

function toResultError(e: unknown, log: Logger | undefined, fields: Record<string, unknown>): Extract<Result, { ok: false }>['error'] {
  if (isSitrepError(e)) return { code: e.code, message: e.message };
  // Another process kept the write lock for the whole busy timeout: nothing was written (the
  // transaction never began), and trying again is the whole remedy.
  if (isBusyError(e)) {
    return { code: 'CONFLICT', message: `the database is busy: another writer held it for over ${BUSY_TIMEOUT_MS / 1000} s; nothing was written, try again` };
  }
  const ref = `ERR-${randomBytes(4).toString('hex')}`;
  log?.error({ errorRef: ref, err: e, ...fields }, 'command failed');
  return { code: 'INTERNAL', message: `something went wrong on our side (reference ${ref})`, ref };
}

/** Text in, result out: the single entry point every surface uses for typed commands. */
export function runCommandText(ctx: CommandContext, text: string, log?: Logger, fields: Record<string, unknown> = {}): Result {
  let command: Command;
  try {
    command = parseCommand(text, { timezone: ctx.policy.timezone, now: ctx.now(), platform: ctx.scope.platform });
  } catch (e) {
    return { ok: false, error: toResultError(e, log, fields) };
  }
  return runParsedCommand(ctx, command, log, fields);
}
