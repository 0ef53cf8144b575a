import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { loadConfig, type Config } from '../src/config.js';
import { createApp, type App } from '../src/main.js';
import { runCli } from '../adapters/console/cli.js';
import { createLogger } from '../src/logger.js';
import type { Db } from '../db/client.js';

export function tempDbFile(): string {
  return join(mkdtempSync(join(tmpdir(), 'sitrep-test-')), 'sitrep.db');
}

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ SITREP_DB: ':memory:', LOG_LEVEL: 'silent', USER: 'tester', ...env });
}

export function testApp(env: Record<string, string> = {}, now?: () => number): App {
  return createApp(testConfig(env), { log: createLogger('silent'), ...(now ? { now } : {}) });
}

/** Row counts of every table: the "nothing was written" check. */
export function rowCounts(db: Db): Record<string, number> {
  const tables = db.all<{ name: string }>(sql`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like '__drizzle%'`);
  const out: Record<string, number> = {};
  for (const { name } of tables) {
    out[name] = db.get<{ n: number }>(sql.raw(`select count(*) as n from "${name}"`))!.n;
  }
  return out;
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  json: () => any;
}

/** Runs the real CLI entry (argument joining, --as, --json, exit codes) in-process against a file DB. */
export function cli(dbFile: string, env: Record<string, string> = {}) {
  return async (...argv: string[]): Promise<CliRun> => {
    let stdout = '';
    let stderr = '';
    const config = loadConfig({ SITREP_DB: dbFile, LOG_LEVEL: 'silent', USER: 'tester', ...env });
    const code = await runCli(argv, {
      config,
      createApp: (c) => createApp(c, { log: createLogger('silent') }),
      out: (s) => (stdout += s + '\n'),
      err: (s) => (stderr += s + '\n'),
    });
    return { code, stdout, stderr, json: () => JSON.parse(stdout) };
  };
}

/** Runs one command in-process as `actor` (CLI scope) and returns its reply; a refusal fails the test with its line. */
export async function runOk(app: App, text: string, actor = 'cli:alice') {
  const r = await app.run(text, actor, { platform: 'cli' });
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.reply;
}

/** Runs one command that must be refused and returns the refusal (its code and one line). */
export async function runRefused(app: App, text: string, actor = 'cli:alice') {
  const r = await app.run(text, actor, { platform: 'cli' });
  if (r.ok) throw new Error(`expected "${text}" to fail`);
  return r.error;
}
