import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

// A probe that lists every module file a Node process loads: ES modules as the loader hook (its
// own thread) sees them, CommonJS ones (both platform SDKs are CommonJS) from require's cache at
// exit. Used by the cold-start benchmark and the cold-start test.

const hooks = `
import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data.out; }
export async function load(url, context, next) {
  appendFileSync(out, url + '\\n');
  return next(url, context);
}
`;

const preload = (envVar: string) => `
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
const out = process.env.${envVar};
register(new URL('./hooks.mjs', import.meta.url), { data: { out } });
process.on('exit', () => {
  appendFileSync(out, Object.keys(createRequire(import.meta.url).cache).join('\\n') + '\\n');
});
`;

/**
 * Writes the probe into `dir`; returns the file to pass as `node --import <file>`. The process
 * appends each loaded file's URL or path, one per line, to the file named by `envVar`.
 */
export function writeLoadedFilesProbe(dir: string, envVar: string): string {
  writeFileSync(join(dir, 'hooks.mjs'), hooks);
  writeFileSync(join(dir, 'preload.mjs'), preload(envVar));
  return join(dir, 'preload.mjs');
}
