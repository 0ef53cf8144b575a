import type { Config } from '../../src/config.js';
import type { Scope } from '../../src/commands/context.js';
import type { Result } from '../../src/commands/run.js';
import type { ErrorCode } from '../../src/domain/errors.js';
import { OPTION_KEYS } from '../../src/commands/grammar.js';

/**
 * What the CLI and the console need of an app: the runner's one entry for a command line (it
 * maps every failure, an unexpected one with a reference id that is also in the log), and close.
 */
export interface CommandApp {
  run(text: string, actor: string, scope: Scope): Promise<Result>;
  close(): Promise<void>;
}

export interface CliDeps {
  config: Config;
  createApp: (config: Config) => CommandApp;
  out?: (s: string) => void;
  err?: (s: string) => void;
}

/** CONTRACT.md's exit codes: 0 ok, 1 usage or validation, 3 not permitted (2: our own failure). */
export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'FORBIDDEN':
      return 3;
    case 'INVALID':
    case 'NOT_FOUND':
    case 'CONFLICT':
      return 1;
    case 'INTERNAL':
      return 2;
  }
}

export interface CliArgs {
  words: string[];
  json: boolean;
  as?: string;
}

export function parseCliArgs(argv: string[]): CliArgs | { error: string } {
  const words: string[] = [];
  let json = false;
  let as: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') json = true;
    else if (a === '--as') {
      as = argv[++i];
      if (!as) return { error: '--as needs a name, e.g. --as alice' };
    } else if (a.startsWith('--as=')) as = a.slice(5);
    else if (a === '--help' || a === '-h') words.push('help');
    else words.push(a);
  }
  return as === undefined ? { words, json } : { words, json, as };
}

/**
 * Joins arguments into one command line. An argument with spaces counts as quoted; an option
 * argument (`started:2021-12-07 07:32`) keeps its key outside the quotes so it stays an option.
 */
export function joinArgs(words: string[]): string {
  return words
    .map((w) => {
      if (!/\s/.test(w) || w === '') return w;
      const m = /^([a-z]+):(.*)$/s.exec(w);
      const q = w.includes('"') ? ['“', '”'] : ['"', '"'];
      if (m && (OPTION_KEYS as readonly string[]).includes(m[1]!)) return `${m[1]}:${q[0]}${m[2]}${q[1]}`;
      return `${q[0]}${w}${q[1]}`;
    })
    .join(' ');
}

export function actorFor(as: string | undefined, config: Config): string {
  const name = as ?? config.user;
  if (/^(slack|teams|cli):.+/.test(name)) return name;
  return `cli:${name.replace(/^@/, '')}`;
}

export async function runCli(argv: string[], deps: CliDeps): Promise<number> {
  const line = commandLine(argv, deps);
  if (typeof line === 'number') return line;
  return report(deps.createApp(deps.config), line, deps);
}

export interface CommandCliDeps extends Omit<CliDeps, 'createApp'> {
  /** Makes the app for this one command line, so that it may load only what that command needs. */
  createApp: (config: Config, text: string) => Promise<CommandApp>;
}

/** runCli for the `sitrep` process: the same output and exit codes, one command line, one app. */
export async function runCliCommand(argv: string[], deps: CommandCliDeps): Promise<number> {
  const line = commandLine(argv, deps);
  if (typeof line === 'number') return line;
  return report(await deps.createApp(deps.config, line.text), line, deps);
}

interface CommandLine {
  args: CliArgs;
  text: string;
}

/** The command line to run, or the exit code when the arguments themselves are wrong. */
function commandLine(argv: string[], deps: Pick<CliDeps, 'err'>): CommandLine | number {
  const args = parseCliArgs(argv);
  if ('error' in args) {
    (deps.err ?? stderr)(`sitrep: ${args.error}`);
    return 1;
  }
  if (!args.words.length) args.words.push('help');
  return { args, text: joinArgs(args.words) };
}

async function report(app: CommandApp, { args, text }: CommandLine, deps: Pick<CliDeps, 'config' | 'out' | 'err'>): Promise<number> {
  const out = deps.out ?? ((s: string) => process.stdout.write(s + '\n'));
  const err = deps.err ?? stderr;
  try {
    const result = await app.run(text, actorFor(args.as, deps.config), { platform: 'cli' });
    if (result.ok) {
      out(args.json ? JSON.stringify(result.reply.data) : result.reply.text);
      return 0;
    }
    if (args.json) out(JSON.stringify({ error: { code: result.error.code, message: result.error.message } }));
    else err(`sitrep: ${result.error.message}`);
    return exitCodeFor(result.error.code);
  } finally {
    await app.close();
  }
}

const stderr = (s: string) => process.stderr.write(s + '\n');
