import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32, inflateRawSync } from 'node:zlib';
import AjvDraft04 from 'ajv-draft-04';
import ajvFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../slack/process.js';
import { crc32 as ourCrc32, zip } from '../../adapters/teams/zip.js';
import { ROOT, packageJson } from './support.js';

// `npm run teams:package`: the real script as its own process, its zip read back by a reader of
// our own (the central directory, then each local entry, inflated and its CRC checked with
// node:zlib's), and the manifest validated against Microsoft's Teams manifest schema for its
// manifestVersion (vendored in test/fixtures/teams/, see test/fixtures/README.md).

const SCRIPT = join(ROOT, 'dist/adapters/teams/package.js');
const APP_ID = '1b4c0a5e-8c2e-4d6b-9f1a-3e5d7c9b2a10';
let dir: string;

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'sitrep-teams-package-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the script with exactly this environment (plus PATH). */
async function teamsPackage(env: Record<string, string>, ...args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [SCRIPT, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** The files of a zip, by name, read from its central directory; each one inflated and CRC-checked. */
function unzip(zip: Buffer): Map<string, Buffer> {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  expect(eocd).toBeGreaterThanOrEqual(0);
  const count = zip.readUInt16LE(eocd + 10);
  const cdSize = zip.readUInt32LE(eocd + 12);
  let p = zip.readUInt32LE(eocd + 16);
  expect(p + cdSize).toBe(eocd);
  const files = new Map<string, Buffer>();
  for (let n = 0; n < count; n++) {
    expect(zip.readUInt32LE(p)).toBe(0x02014b50);
    const method = zip.readUInt16LE(p + 10);
    const crc = zip.readUInt32LE(p + 16);
    const compressed = zip.readUInt32LE(p + 20);
    const size = zip.readUInt32LE(p + 24);
    const nameLength = zip.readUInt16LE(p + 28);
    const skip = nameLength + zip.readUInt16LE(p + 30) + zip.readUInt16LE(p + 32);
    const local = zip.readUInt32LE(p + 42);
    const name = zip.toString('utf8', p + 46, p + 46 + nameLength);
    // The local header says the same, and the data follows it.
    expect(zip.readUInt32LE(local)).toBe(0x04034b50);
    expect(zip.toString('utf8', local + 30, local + 30 + zip.readUInt16LE(local + 26))).toBe(name);
    expect(zip.readUInt32LE(local + 14)).toBe(crc);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const body = zip.subarray(start, start + compressed);
    expect([0, 8]).toContain(method);
    const data = method === 8 ? inflateRawSync(body) : Buffer.from(body);
    expect(data.length, name).toBe(size);
    expect(crc32(data), name).toBe(crc);
    files.set(name, data);
    p += 46 + skip;
  }
  return files;
}

function validate(manifest: Record<string, any>): string[] {
  const schemaFile = join(ROOT, 'test/fixtures/teams', `v${manifest.manifestVersion}`, 'MicrosoftTeams.schema.json');
  expect(existsSync(schemaFile), `no vendored schema for manifestVersion ${manifest.manifestVersion}`).toBe(true);
  // The schema is draft-04; Microsoft's own validator reads it with these same options.
  // (Both packages are CommonJS; under NodeNext their classes are the modules' `default`.)
  const ajv = new AjvDraft04.default({ allErrors: true, strictTypes: false });
  ajvFormats.default(ajv, ['uri', 'email', 'regex']);
  const check = ajv.compile(JSON.parse(readFileSync(schemaFile, 'utf8')));
  return check(manifest) ? [] : (check.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}

const pngSize = (b: Buffer) => [b.readUInt32BE(16), b.readUInt32BE(20)];

describe('npm run teams:package', () => {
  it('is `node dist/adapters/teams/package.js` after a build', () => {
    expect(packageJson().scripts['teams:package']).toBe('npm run build && node dist/adapters/teams/package.js');
  });

  it('writes dist/sitrep-teams.zip: manifest.json with the identity and public URL filled in, and the two icons; the manifest is valid for its manifestVersion', async () => {
    const out = join(ROOT, 'dist/sitrep-teams.zip');
    rmSync(out, { force: true });
    const run = await teamsPackage({ MICROSOFT_APP_ID: APP_ID, SITREP_PUBLIC_URL: 'https://status.example.com/', SITREP_ORG_NAME: 'Example & Co' });
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toBe(`wrote dist/sitrep-teams.zip: app ${APP_ID}, https://status.example.com\n`);

    const files = unzip(readFileSync(out));
    expect([...files.keys()].sort()).toEqual(['color.png', 'manifest.json', 'outline.png']);
    const manifest = JSON.parse(files.get('manifest.json')!.toString('utf8'));
    expect(manifest.id).toBe(APP_ID);
    expect(manifest.bots[0].botId).toBe(APP_ID);
    // The "Add to timeline" message action is the same bot's.
    expect(manifest.composeExtensions[0]).toMatchObject({ botId: APP_ID, commands: [{ type: 'action', context: ['message'] }] });
    expect(manifest.version).toBe(packageJson().version);
    expect(manifest.developer).toMatchObject({ name: 'Example & Co', websiteUrl: 'https://status.example.com/', privacyUrl: 'https://status.example.com/' });
    expect(manifest.validDomains).toEqual(['status.example.com']);
    expect(JSON.stringify(manifest)).not.toMatch(/\{\{/);
    expect(manifest.$schema).toBe(`https://developer.microsoft.com/en-us/json-schemas/teams/v${manifest.manifestVersion}/MicrosoftTeams.schema.json`);
    expect(validate(manifest)).toEqual([]);
    // The icons are the repository's, byte for byte, and the sizes Teams requires.
    for (const [name, size] of [
      ['color.png', 192],
      ['outline.png', 32],
    ] as const) {
      expect(files.get(name)!.equals(readFileSync(join(ROOT, 'adapters/teams/manifest', name))), name).toBe(true);
      expect(pngSize(files.get(name)!)).toEqual([size, size]);
    }
  });

  it('the schema check has teeth: a manifest without its id, or with a bad one, is invalid', async () => {
    const out = join(dir, 'teeth.zip');
    expect((await teamsPackage({ MICROSOFT_APP_ID: APP_ID, SITREP_PUBLIC_URL: 'https://status.example.com' }, '--out', out)).code).toBe(0);
    const manifest = JSON.parse(unzip(readFileSync(out)).get('manifest.json')!.toString('utf8'));
    const { id: _id, ...withoutId } = manifest;
    expect(validate(withoutId).join('\n')).toMatch(/must have required property 'id'/);
    expect(validate({ ...manifest, id: 'not-a-guid' }).join('\n')).toMatch(/^\/id must match pattern/m);
  });

  it('a missing MICROSOFT_APP_ID is one clear line on stderr and exit 1, and no zip is written', async () => {
    const out = join(dir, 'missing.zip');
    const unset: Record<string, string>[] = [{}, { MICROSOFT_APP_ID: '' }, { MICROSOFT_APP_ID: '   ' }];
    for (const env of unset) {
      const run = await teamsPackage({ SITREP_PUBLIC_URL: 'https://status.example.com', ...env }, '--out', out);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe(
        "teams:package: MICROSOFT_APP_ID is not set: set it to the bot's Application (client) ID, e.g. MICROSOFT_APP_ID=<id> npm run teams:package\n",
      );
      expect(existsSync(out)).toBe(false);
      expect(existsSync(`${out}.tmp`)).toBe(false);
    }
  });

  it('refuses, in one line and without a zip, what Teams would refuse: an id that is not a GUID, an over-long developer name, a bad variable', async () => {
    const out = join(dir, 'refused.zip');
    const cases: [Record<string, string>, string][] = [
      [
        { MICROSOFT_APP_ID: 'sitrep-bot' },
        `MICROSOFT_APP_ID must be the bot's Application (client) ID, a GUID like 00000000-0000-0000-0000-000000000000 (got "sitrep-bot")`,
      ],
      [{ MICROSOFT_APP_ID: APP_ID, SITREP_ORG_NAME: 'A'.repeat(33) }, "SITREP_ORG_NAME is the app's developer name in Teams, at most 32 characters (got 33)"],
      [
        { MICROSOFT_APP_ID: APP_ID, SITREP_PUBLIC_URL: 'ftp://status.example.com' },
        'invalid configuration: SITREP_PUBLIC_URL must be an http(s) URL, e.g. https://status.example.com',
      ],
    ];
    for (const [env, message] of cases) {
      const run = await teamsPackage(env, '--out', out);
      expect(run).toEqual({ code: 1, stdout: '', stderr: `teams:package: ${message}\n` });
      expect(existsSync(out)).toBe(false);
    }
  });

  it('an http public URL (the local default) still packages, with a warning that Teams needs https', async () => {
    const out = join(dir, 'local.zip');
    const run = await teamsPackage({ MICROSOFT_APP_ID: APP_ID }, '--out', out);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('warning: SITREP_PUBLIC_URL is http://localhost:3000; Teams needs the https address it reaches Sitrep at\n');
    const manifest = JSON.parse(unzip(readFileSync(out)).get('manifest.json')!.toString('utf8'));
    expect(manifest.developer.websiteUrl).toBe('http://localhost:3000/');
    expect(manifest.validDomains).toEqual(['localhost']);
    expect(validate(manifest)).toEqual([]);
  });
});

describe('the zip writer', () => {
  it('computes the CRC-32 node:zlib computes', () => {
    for (const data of [
      Buffer.alloc(0),
      Buffer.from('123456789'),
      Buffer.alloc(70_000, 7),
      Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24)),
    ]) {
      expect(ourCrc32(data)).toBe(crc32(data));
    }
  });

  it('round-trips empty, compressible and incompressible files, UTF-8 names included, and gives the same bytes for the same files', () => {
    const noise = Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 2654435761) >>> 24));
    const entries = [
      { name: 'empty.txt', data: Buffer.alloc(0) },
      { name: 'text.txt', data: Buffer.from('incident '.repeat(500)) },
      { name: 'noise.bin', data: noise },
      { name: 'café.json', data: Buffer.from('{"ok":true}') },
    ];
    const files = unzip(zip(entries));
    expect([...files.keys()]).toEqual(entries.map((e) => e.name));
    for (const e of entries) expect(files.get(e.name)!.equals(e.data), e.name).toBe(true);
    expect(zip(entries).equals(zip(entries))).toBe(true);
  });
});
