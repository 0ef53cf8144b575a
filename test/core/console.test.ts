import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDbFile } from '../helpers.js';

const BIN = new URL('../../dist/src/bin.js', import.meta.url).pathname;

describe('npx sitrep console', () => {
  it('runs each line as a command, shows help and errors, and keeps history', async () => {
    const db = tempDbFile();
    const child = spawn(process.execPath, [BIN, 'console', '--as', 'alice'], {
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', SITREP_DB: db },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stdin.end('help declare\ndeclare "DB down" sev:2\nshow\nupdate status:bogus x\nexit\n');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(0);
    expect(out).toContain('example: declare');
    expect(out).toContain('INC-1 declared: DB down (sev2, investigating, lead cli:alice)');
    expect(out).toContain('Status: investigating · Severity: sev2 · Lead: @alice');
    expect(out).toContain('error: "bogus" is not an incident status');
    const history = join(dirname(db), '.sitrep_history');
    expect(existsSync(history)).toBe(true);
    expect(readFileSync(history, 'utf8')).toContain('declare "DB down" sev:2');
  });
});
