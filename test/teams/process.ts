import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

// The real server as operators run it: `node dist/src/bin.js serve` in its own process, on a
// database file, logging where its output is captured. Used by the tests that kill it or read
// what it wrote to disk and to its logs.

export const ROOT = new URL('../../', import.meta.url).pathname;
export const BIN = `${ROOT}dist/src/bin.js`;

/** Builds dist/ when any source is newer than its output (`npm test` builds first anyway). */
export function ensureBuilt(): void {
  const stale = (dir: string): boolean =>
    readdirSync(join(ROOT, dir), { withFileTypes: true }).some((e) => {
      const rel = join(dir, e.name);
      if (e.isDirectory()) return stale(rel);
      if (!e.name.endsWith('.ts')) return false;
      const out = join(ROOT, 'dist', rel.replace(/\.ts$/, '.js'));
      return !existsSync(out) || statSync(join(ROOT, rel)).mtimeMs > statSync(out).mtimeMs;
    });
  if (['src', 'adapters', 'db'].some(stale)) {
    execFileSync(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, '-p', `${ROOT}tsconfig.json`], { stdio: 'inherit' });
  }
}

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  url: string;
  /** Everything it wrote to stdout and stderr so far (its log lines included). */
  output(): string;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

/** Environment for a child: only what it needs, and never Teams credentials (local mode). */
const baseEnv = () => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', USER: 'ops' });

export async function serve(env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, [BIN, 'serve'], { env: { ...baseEnv(), PORT: '0', LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const onData = () => {
      const m = /Sitrep is running on port (\d+)/.exec(out);
      if (m) {
        child.stdout!.off('data', onData);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited early (${code}): ${out}`)));
  });
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    output: () => out,
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs one CLI command as its own process (`node dist/src/bin.js … --json`) and parses its output. */
export async function cliJson(env: Record<string, string>, ...argv: string[]): Promise<any> {
  const { stdout } = await promisify(execFile)(process.execPath, [BIN, ...argv, '--json'], { env: { ...baseEnv(), LOG_LEVEL: 'warn', ...env } });
  return JSON.parse(stdout);
}
