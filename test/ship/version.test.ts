import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ensureBuilt } from '../slack/process.js';
import { ROOT, packageJson, startSitrep } from './support.js';

// One version, package.json's, wherever Sitrep states it: `sitrep --version`, /healthz, and the
// newest entry of CHANGELOG.md.

const exec = promisify(execFile);
const { version } = packageJson();
let dir: string;

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'sitrep-version-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('version', () => {
  it('`sitrep --version` and `sitrep -v` print package.json’s version alone, whatever the environment holds', async () => {
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    for (const flag of ['--version', '-v']) {
      // PORT is invalid on purpose: printing the version reads no configuration and opens no database.
      const { stdout, stderr } = await exec(process.execPath, [BIN, flag], {
        env: { PATH: process.env.PATH ?? '', PORT: 'abc', SITREP_DB: join(dir, 'no.db') },
      });
      expect(stdout).toBe(`${version}\n`);
      expect(stderr).toBe('');
    }
    expect(() => readFileSync(join(dir, 'no.db'))).toThrow();
  });

  it('/healthz of a running server carries the version', async () => {
    const server = await startSitrep(['node', BIN, 'serve'], { PORT: '0', SITREP_DB: join(dir, 'sitrep.db'), LOG_LEVEL: 'silent' });
    try {
      const res = await fetch(`${server.url}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ok: true, version });
    } finally {
      expect(await server.stop()).toEqual({ code: 0, signal: null });
    }
  });

  it('CHANGELOG.md’s newest entry is this version', () => {
    const changelog = readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8');
    const newest = /^## (\S+) — (\d{4}-\d{2}-\d{2})$/m.exec(changelog);
    expect(newest?.[1]).toBe(version);
  });
});
