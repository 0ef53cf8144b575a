import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../slack/process.js';
import { ROOT, packageJson } from './support.js';

// `npx sitrep` from a packed tarball, as someone installing the package gets it: `npm pack`, then
// `npm install <tarball>` into an empty folder, then `npx sitrep …` there. The install resolves the
// dependencies from the npm registry (the npm cache first) and builds better-sqlite3's native
// module like any user's install does, so this test needs the registry (CI reaches it) and takes
// a minute or two of one core: its time limit is generous, and nothing in it is timed.

const exec = promisify(execFile);
const MINUTES = 60_000;
let dir: string;
let tarball: string;
let packed: string[];

beforeAll(async () => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'sitrep-pack-'));
  // Scripts are skipped because ensureBuilt() has just built dist/ (under its lock, which a
  // `prepare` run by npm here would not take while other test files read dist/).
  const { stdout } = await exec('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  const [info] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[] }];
  tarball = join(dir, info.filename);
  packed = info.files.map((f) => f.path);
}, 5 * MINUTES);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the packed package (slow: installs from the npm registry)', () => {
  it('is publishable under Apache-2.0 and ships what runs, not the sources or tests', () => {
    const pkg = packageJson();
    expect(pkg.private).toBeUndefined();
    expect(pkg.license).toBe('Apache-2.0');
    expect(pkg.bin).toEqual({ sitrep: 'dist/src/bin.js' });
    expect(packed).toEqual(
      expect.arrayContaining(['package.json', 'LICENSE', 'README.md', 'CHANGELOG.md', 'dist/src/bin.js', 'db/migrations/meta/_journal.json']),
    );
    expect(packed.filter((p) => p.startsWith('test/') || p.startsWith('src/') || p.endsWith('.ts') || p.endsWith('.map'))).toEqual([]);
  });

  it(
    '`npx sitrep help`, `--version` and a first write work from the installed tarball',
    async () => {
      const app = join(dir, 'app');
      rmSync(app, { recursive: true, force: true });
      mkdirSync(app, { recursive: true });
      // A user's project; allowScripts lets better-sqlite3 build its native module, as in ours.
      writeFileSync(
        join(app, 'package.json'),
        `${JSON.stringify({ name: 'uses-sitrep', private: true, allowScripts: { 'better-sqlite3': true } }, null, 2)}\n`,
      );
      await exec('npm', ['install', tarball, '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: app, maxBuffer: 64 * 1024 * 1024 });

      const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? app, SITREP_DB: join(app, 'data', 'sitrep.db'), USER: 'packer', LOG_LEVEL: 'warn' };
      // --no: never fetch a package called "sitrep" from the registry, only the installed one runs;
      // `--` hands `--version` to sitrep instead of to npx.
      const npx = (...args: string[]) => exec('npx', ['--no', '--', 'sitrep', ...args], { cwd: app, env });

      const help = await npx('help');
      expect(help.stdout).toMatch(/declare/);
      expect(help.stdout).toMatch(/resolve/);
      expect((await npx('--version')).stdout).toBe(`${packageJson().version}\n`);
      // A write: the native driver loads and the shipped migrations create the schema.
      const declared = JSON.parse((await npx('declare', 'Packed and installed', 'sev:3', '--json')).stdout) as { id: string };
      expect(declared.id).toBe('INC-1');
      expect(existsSync(env.SITREP_DB)).toBe(true);
    },
    15 * MINUTES,
  );
});
