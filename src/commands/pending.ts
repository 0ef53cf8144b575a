import { SitrepError } from '../domain/errors.js';
import type { CommandContext, Reply } from './context.js';
import type { Command } from './grammar.js';

// Commands that parse today but whose effect arrives with a later capability.
export function notYet(_ctx: CommandContext, cmd: Command): Reply {
  throw new SitrepError('INVALID', `\`${cmd.verb}\` is not available yet in this version of Sitrep`);
}
