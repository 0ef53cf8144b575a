import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Sitrep's own package.json, found upward from this file (src/ in the tests, dist/src/ when built
// or installed from the tarball): its version is what `sitrep --version`, /healthz and the Teams
// app package say, and its folder is where the files shipped beside the code are.

let found: { root: string; version: string } | undefined;

function packageJson(): { root: string; version: string } {
  if (found) return found;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'sitrep' && typeof pkg.version === 'string') return (found = { root: dir, version: pkg.version });
    }
    dir = dirname(dir);
  }
  throw new Error("cannot find sitrep's package.json");
}

export const packageVersion = (): string => packageJson().version;

/** The folder that holds package.json (the repository, or node_modules/sitrep when installed). */
export const packageRoot = (): string => packageJson().root;
