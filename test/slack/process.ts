import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { type Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SECRET, TOKEN, INCIDENTS, fixture, sign } from './harness.js';
import type { FakeSlackApi } from '../fakes/slack-api.js';

// The real server as a child process (`node dist/src/bin.js serve`) with Slack configured against
// a fake Slack on loopback, and a client that speaks to it the way Slack does (signed form posts
// over keep-alive HTTP). For what only a separate process shows: kill -9, its memory, its log.

const ROOT = new URL('../../', import.meta.url).pathname;
export const BIN = `${ROOT}dist/src/bin.js`;

/**
 * Rebuilds dist/ when a source file is newer than it (`npm test` builds first anyway). Test files
 * run in parallel processes: one builds while the others wait for it, so no server is started
 * from half-written output.
 */
export function ensureBuilt(): void {
  const built = `${ROOT}dist/adapters/slack/receiver.js`;
  const lock = `${ROOT}dist/.slack-test-build.lock`;
  const newest = (dir: string): number =>
    readdirSync(`${ROOT}${dir}`, { withFileTypes: true }).reduce((m, e) => {
      const p = `${dir}/${e.name}`;
      return Math.max(m, e.isDirectory() ? newest(p) : e.name.endsWith('.ts') ? statSync(`${ROOT}${p}`).mtimeMs : 0);
    }, 0);
  const stale = () => !existsSync(built) || ['adapters', 'src', 'db'].some((d) => newest(d) > statSync(built).mtimeMs);
  const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  for (const end = Date.now() + 170_000; stale() && Date.now() < end; ) {
    try {
      mkdirSync(lock, { recursive: false });
    } catch {
      // Another test process is building; a lock older than a build could take was left by a crash.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 150_000) rmSync(lock, { recursive: true, force: true });
      sleep(200);
      continue;
    }
    try {
      // Type errors elsewhere still emit JavaScript (and `npx tsc --noEmit` reports them); what
      // matters here is that dist/ is current.
      spawnSync(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, '-p', `${ROOT}tsconfig.json`], { stdio: 'inherit' });
      // tsc leaves an unchanged file's mtime alone; mark the build as newer than every source.
      utimesSync(built, new Date(), new Date());
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
}

export const tempDir = () => mkdtempSync(join(tmpdir(), 'sitrep-slack-'));

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Everything it wrote to stdout and stderr so far (its log lines included). */
  output(): string;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

export async function startServerProcess(opts: { db: string; port: number; apiUrl: string; env?: Record<string, string> }): Promise<ServerProcess> {
  return serveProcess(opts.port, {
    SITREP_DB: opts.db,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_BOT_TOKEN: TOKEN,
    SLACK_API_URL: opts.apiUrl,
    SLACK_INCIDENTS_CHANNEL: INCIDENTS,
    SITREP_PUBLIC_URL: `http://127.0.0.1:${opts.port}`,
    ...opts.env,
  });
}

/**
 * The built `sitrep serve` as a child process on `port` (0: any) with `env` besides PATH (logging
 * silent unless `env` says otherwise), resolved once it says it is running.
 */
export async function serveProcess(port: number, env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { PATH: process.env.PATH ?? '', PORT: String(port), LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const onData = () => {
      if (out.includes('Sitrep is running')) {
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited early (${code}): ${out}`)));
  });
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    output: () => out,
    kill9: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface Answer {
  status: number;
  body: string;
}

/**
 * One signed slash command, as Slack sends it; rejects when the connection fails (no answer).
 * With `fake`, a message carried by the ack joins the fake's responses, as Slack would show it.
 */
export function signedSlash(
  url: string,
  agent: Agent,
  text: string,
  opts: { responseUrl: string; user?: string; channel?: string; fake?: FakeSlackApi },
): Promise<Answer> {
  const form = new URLSearchParams(fixture('slash_command-real.form.txt'));
  form.set('command', '/incident');
  form.set('text', text);
  form.set('user_id', opts.user ?? 'U0ALICE');
  form.set('channel_id', opts.channel ?? 'C0GENERAL');
  form.set('response_url', opts.responseUrl);
  return signedPost(url, agent, form.toString(), 'application/x-www-form-urlencoded').then((answer) => {
    opts.fake?.recordAck(opts.responseUrl, answer.body);
    return answer;
  });
}

export function signedPost(url: string, agent: Agent, body: string, contentType: string): Promise<Answer> {
  const ts = Math.floor(Date.now() / 1000);
  return new Promise((resolve, reject) => {
    const req = request(`${url}/slack/events`, {
      method: 'POST',
      agent,
      headers: {
        'content-type': contentType,
        'content-length': Buffer.byteLength(body),
        'x-slack-request-timestamp': String(ts),
        'x-slack-signature': sign(body, ts),
      },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** VmHWM: the most memory the process has ever held resident, in bytes (Linux). */
export function peakRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return kb * 1024;
}

/** Reads the database file the way a second process would, without disturbing the server. */
export function readDb<T>(file: string, fn: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** The number of a streamed `note INC-1 n-<i>` back from its timeline text. */
export const noteIndex = (text: string) => Number(/^n-(\d+)$/.exec(text)?.[1] ?? NaN);
