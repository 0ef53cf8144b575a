import { createInterface } from 'node:readline';
import { appendFileSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { CliDeps } from './cli.js';
import { actorFor, parseCliArgs } from './cli.js';

/** `npx sitrep console`: an interactive prompt with history (kept next to the database) and help. */
export async function runConsole(argv: string[], deps: CliDeps): Promise<number> {
  const args = parseCliArgs(argv);
  if ('error' in args) {
    process.stderr.write(`sitrep: ${args.error}\n`);
    return 1;
  }
  const actor = actorFor(args.as, deps.config);
  const app = deps.createApp(deps.config);
  const historyFile = deps.config.dbFile === ':memory:' ? null : join(dirname(resolve(deps.config.dbFile)), '.sitrep_history');
  let history: string[] = [];
  if (historyFile) {
    try {
      history = readFileSync(historyFile, 'utf8').split('\n').filter(Boolean).reverse().slice(0, 500);
    } catch {
      history = [];
    }
  }
  const interactive = Boolean(process.stdin.isTTY);
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: interactive, history, historySize: 500 });
  const print = (s: string) => process.stdout.write(s + '\n');
  if (interactive) {
    print(`Sitrep console as ${actor} on ${deps.config.dbFile}. Type \`help\` for commands, \`exit\` to leave.`);
  }
  rl.setPrompt('sitrep> ');
  if (interactive) rl.prompt();
  for await (const line of rl) {
    const text = line.trim();
    if (text === 'exit' || text === 'quit') break;
    if (text) {
      if (historyFile) {
        try {
          appendFileSync(historyFile, text + '\n');
        } catch {
          // history is a convenience; a read-only directory must not stop the console
        }
      }
      const result = await app.run(text, actor, { platform: 'cli' });
      if (result.ok) print(args.json ? JSON.stringify(result.reply.data) : result.reply.text);
      else print(args.json ? JSON.stringify({ error: { code: result.error.code, message: result.error.message } }) : `error: ${result.error.message}`);
    }
    if (interactive) rl.prompt();
  }
  rl.close();
  await app.close();
  return 0;
}
