import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

// What the test/ship tests share: the repository root, package.json, and a Sitrep server run as
// its own process (exactly as `npm start` or a container runs it) on a free loopback port.

export const ROOT = new URL('../../', import.meta.url).pathname;

export interface PackageJson {
  name: string;
  version: string;
  license?: string;
  private?: boolean;
  files?: string[];
  bin?: Record<string, string>;
  scripts: Record<string, string>;
  devDependencies: Record<string, string>;
  dependencies: Record<string, string>;
}

export const packageJson = (): PackageJson => JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as PackageJson;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SitrepProcess {
  url: string;
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Sends SIGTERM (what `docker stop` sends) and resolves with how the process ended. */
  stop: () => Promise<Exit>;
}

/**
 * Starts `command` (e.g. `node dist/src/bin.js serve`) in `cwd` with exactly `env` (plus PATH) and
 * resolves once it says which port it listens on. PORT should be 0 so that it picks a free one.
 */
export function startSitrep(command: readonly string[], env: Record<string, string>, cwd = ROOT): Promise<SitrepProcess> {
  const [file, ...args] = command;
  const child = spawn(file === 'node' ? process.execPath : file!, args, { cwd, env: { PATH: process.env.PATH ?? '', ...env } });
  let out = '';
  let err = '';
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const port = /Sitrep is running on port (\d+)/.exec(out)?.[1];
      if (port)
        resolve({
          url: `http://127.0.0.1:${port}`,
          child,
          stdout: () => out,
          stderr: () => err,
          stop: () => {
            child.kill('SIGTERM');
            return exited;
          },
        });
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    void exited.then((e) => reject(new Error(`${command.join(' ')} exited (${e.code ?? e.signal}) before listening:\n${out}\n${err}`)));
  });
}
