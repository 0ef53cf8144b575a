import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A folder of migrations next to the package's package.json, found from this file whether it runs
 * from db/ (tests) or dist/db/ (built): `db/migrations` (SQLite) or `db/migrations-pg`.
 */
export function migrationsDir(name: 'migrations' | 'migrations-pg'): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'db', name))) return join(dir, 'db', name);
    dir = dirname(dir);
  }
  throw new Error(`cannot find db/${name} next to package.json`);
}
