import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadProcessConfig, type Config } from '../../src/config.js';
import { packageRoot, packageVersion } from '../../src/version.js';
import { zip } from './zip.js';

// `npm run teams:package`: the Teams app package an admin uploads (Teams → Apps → Upload an app),
// dist/sitrep-teams.zip with manifest.json and the two icons at its root. The manifest is
// adapters/teams/manifest/manifest.json with its placeholders filled from the configuration: the
// app and bot id from MICROSOFT_APP_ID, the links and valid domain from SITREP_PUBLIC_URL, the
// developer name from SITREP_ORG_NAME, and the version from package.json.
//   node dist/adapters/teams/package.js [--out <file>]

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export class PackageError extends Error {}

/** manifest.json's text, placeholders filled in (every string value, wherever it is). */
export function fillManifest(template: string, config: Config, version: string): Record<string, unknown> {
  const appId = config.teams.appId;
  if (!appId) {
    throw new PackageError("MICROSOFT_APP_ID is not set: set it to the bot's Application (client) ID, e.g. MICROSOFT_APP_ID=<id> npm run teams:package");
  }
  if (!GUID.test(appId))
    throw new PackageError(`MICROSOFT_APP_ID must be the bot's Application (client) ID, a GUID like 00000000-0000-0000-0000-000000000000 (got "${appId}")`);
  // Teams' limit for the developer name (manifest schema: developer.name, maxLength 32).
  if (config.orgName.length > 32)
    throw new PackageError(`SITREP_ORG_NAME is the app's developer name in Teams, at most 32 characters (got ${config.orgName.length})`);
  const values: Record<string, string> = {
    MICROSOFT_APP_ID: appId,
    SITREP_PUBLIC_URL: config.publicUrl,
    SITREP_HOST: new URL(config.publicUrl).hostname,
    ORG_NAME: config.orgName,
  };
  const fill = (v: unknown): unknown => {
    if (typeof v === 'string')
      return v.replace(/\{\{(\w+)\}\}/g, (whole, name: string) => {
        const value = values[name];
        if (value === undefined) throw new PackageError(`manifest.json has an unknown placeholder ${whole}`);
        return value;
      });
    if (Array.isArray(v)) return v.map(fill);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]));
    return v;
  };
  const manifest = fill(JSON.parse(template)) as Record<string, unknown>;
  manifest.version = version;
  return manifest;
}

/** Width and height of a PNG (from its IHDR chunk), or undefined when it is not one. */
function pngSize(data: Buffer): [number, number] | undefined {
  if (data.length < 24 || data.toString('latin1', 1, 4) !== 'PNG' || data.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  return [data.readUInt32BE(16), data.readUInt32BE(20)];
}

/** Builds the package; returns the zip's bytes and the filled manifest. */
export function buildPackage(config: Config, root = packageRoot()): { zip: Buffer; manifest: Record<string, unknown> } {
  const dir = join(root, 'adapters', 'teams', 'manifest');
  const manifest = fillManifest(readFileSync(join(dir, 'manifest.json'), 'utf8'), config, packageVersion());
  const icons = manifest.icons as { color: string; outline: string };
  const files = [{ name: 'manifest.json', data: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`) }];
  for (const [kind, size] of [
    ['color', 192],
    ['outline', 32],
  ] as const) {
    const data = readFileSync(join(dir, icons[kind]));
    const got = pngSize(data);
    if (!got || got[0] !== size || got[1] !== size) throw new PackageError(`${icons[kind]}: the ${kind} icon must be a ${size}×${size} PNG`);
    files.push({ name: icons[kind], data });
  }
  return { zip: zip(files), manifest };
}

export function main(argv: string[]): number {
  const root = packageRoot();
  const at = argv.indexOf('--out');
  const out = at >= 0 && argv[at + 1] ? resolve(argv[at + 1]!) : join(root, 'dist', 'sitrep-teams.zip');
  try {
    const config = loadProcessConfig();
    const built = buildPackage(config, root);
    mkdirSync(dirname(out), { recursive: true });
    // Written whole or not at all: a half-written zip is never left where Teams would take it.
    writeFileSync(`${out}.tmp`, built.zip);
    renameSync(`${out}.tmp`, out);
    const shown = relative(process.cwd(), out) || out;
    process.stdout.write(`wrote ${shown.startsWith('..') ? out : shown}: app ${String(built.manifest.id)}, ${config.publicUrl}\n`);
    if (!config.publicUrl.startsWith('https://')) {
      process.stderr.write(`warning: SITREP_PUBLIC_URL is ${config.publicUrl}; Teams needs the https address it reaches Sitrep at\n`);
    }
    return 0;
  } catch (e) {
    if (e instanceof ConfigError || e instanceof PackageError) {
      process.stderr.write(`teams:package: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

// Run as a script (node dist/adapters/teams/package.js), not when imported.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
