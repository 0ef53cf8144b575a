import { randomBytes } from 'node:crypto';
import { BUSY_TIMEOUT_MS, isBusyError } from '../../db/client.js';
import { isSitrepError, type ErrorCode } from '../domain/errors.js';
import type { CommandContext, Reply } from './context.js';
import { parseCommand, type Command } from './grammar.js';

// Running a command and mapping its failures, whatever runs the verbs: execute.ts with every verb
// loaded (the server, the console), or the CLI with only the one verb its command line names
// (verbs.ts). The runner (runner.ts) is what surfaces call; no verb is imported here.

/** A failure as every surface shows it: a code, one line, and for an unexpected one its reference id. */
export interface Failure {
  code: ErrorCode;
  message: string;
  ref?: string;
}

export type Result = { ok: true; command: Command; reply: Reply } | { ok: false; error: Failure };

/** Runs one parsed command: authorises, validates, loads, decides, writes, replies. */
export type Execute = (ctx: CommandContext, cmd: Command) => Promise<Reply>;

export interface Logger {
  error(obj: Record<string, unknown>, msg: string): void;
}

/**
 * Runs an already-built command and maps failures once for every surface: SitrepErrors keep their
 * code and message; anything else is logged with a reference id that the user also sees, so a
 * report can be matched to the log.
 */
export async function runParsedWith(
  execute: Execute,
  ctx: CommandContext,
  command: Command,
  log?: Logger,
  fields: Record<string, unknown> = {},
): Promise<Result> {
  try {
    return { ok: true, command, reply: await execute(ctx, command) };
  } catch (e) {
    return { ok: false, error: mapFailure(e, log, fields) };
  }
}

/** A command line parsed: the command, or what parsing threw (mapped when the command is run). */
export type Parsed = { ok: true; command: Command } | { ok: false; thrown: unknown };

/** What parsing reads of a command's context: its zone, its clock and where it was typed. */
export type ParseFrom = { now: () => number; policy: { timezone: string }; scope: { platform: CommandContext['scope']['platform'] } };

export function parseText(ctx: ParseFrom, text: string): Parsed {
  try {
    return { ok: true, command: parseCommand(text, { timezone: ctx.policy.timezone, now: ctx.now(), platform: ctx.scope.platform }) };
  } catch (e) {
    return { ok: false, thrown: e };
  }
}

/** Runs what parseText gave: a parse failure maps like any other. */
export async function runParsedText(
  execute: Execute,
  ctx: CommandContext,
  parsed: Parsed,
  log?: Logger,
  fields: Record<string, unknown> = {},
): Promise<Result> {
  if (!parsed.ok) return { ok: false, error: mapFailure(parsed.thrown, log, fields) };
  return runParsedWith(execute, ctx, parsed.command, log, fields);
}

/**
 * The one mapping of a failure to what the person sees, for every surface: a SitrepError keeps its
 * code and message; anything else is logged with a reference id that the message carries too.
 */
export function mapFailure(e: unknown, log: Logger | undefined, fields: Record<string, unknown> = {}): Failure {
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
