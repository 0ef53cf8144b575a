import type { Tx } from '../../db/client.js';
import type { IncidentStatus } from '../domain/enums.js';
import { SitrepError } from '../domain/errors.js';
import type { CommandContext, Reply } from './context.js';
import type { Command } from './grammar.js';
import type { IncidentRow } from './store.js';

export function renderTemplate(_tx: Tx, _ctx: CommandContext, name: string, _inc: IncidentRow, _status: IncidentStatus, _extra: string): string {
  throw new SitrepError('INVALID', `templates are not available yet (template:${name}); write the text yourself`);
}

export function template(_ctx: CommandContext, _cmd: Extract<Command, { verb: 'template' }>): Reply {
  throw new SitrepError('INVALID', 'templates are not available yet');
}
