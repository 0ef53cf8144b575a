import type { Config } from '../../src/config.js';
import { redactUrl } from '../../db/open.js';
import { CountsDiffer, MigrateFailed, MigrateRefused, migrateToPg, type TableCount } from '../../db/migrate-to.js';

// `npx sitrep migrate-to [postgres://…] [--json]`: the shell side of db/migrate-to.ts. The URL is
// the argument, or SITREP_DATABASE_URL when there is none. Every line printed goes through the
// redactor first, so the URL's password never reaches the terminal or a log, whatever a message
// (ours or PostgreSQL's) contains. Exit codes as the CLI's: 0 copied and verified, 1 refused with
// nothing written (bad arguments, no SQLite file, a target that holds rows), 2 the copy failed and
// was rolled back (counts differ, the connection broke).

export const MIGRATE_USAGE =
  'usage: npx sitrep migrate-to postgres://user:password@host:5432/database [--json] (copies SITREP_DB into that empty PostgreSQL database; without a URL, SITREP_DATABASE_URL)';

export interface MigrateCliDeps {
  config: Config;
  out?: (s: string) => void;
  err?: (s: string) => void;
  /** Rows per batch (tests make it small so that one table spans several). */
  batchRows?: number;
}

/** The URL to copy into, or why the argument is not one. Never echoes the argument (it may carry a password). */
export function parseTargetUrl(raw: string): { url: string } | { error: string } {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { error: `migrate-to needs a PostgreSQL URL and that argument is not a URL; ${MIGRATE_USAGE}` };
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    return { error: `migrate-to copies into PostgreSQL only: the URL must start with postgres:// or postgresql://, not ${u.protocol}//; ${MIGRATE_USAGE}` };
  }
  if (!u.hostname) return { error: `the PostgreSQL URL names no host; ${MIGRATE_USAGE}` };
  return { url: raw };
}

/** Replaces the URL, and its password in any spelling, in a line about to be printed. */
export function redactor(url: string | undefined): (line: string) => string {
  if (!url) return (line) => line;
  const shown = redactUrl(url);
  const secrets: string[] = [];
  try {
    const u = new URL(url);
    if (u.password) {
      secrets.push(u.password);
      try {
        secrets.push(decodeURIComponent(u.password));
      } catch {
        // Not percent-encoded validly: the raw spelling is the one to hide.
      }
    }
  } catch {
    // Not a URL: nothing in it is known to be a password, and it is never echoed anyway.
  }
  const hidden = [...new Set(secrets)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  return (line) => {
    let l = line.split(url).join(shown);
    for (const s of hidden) l = l.split(s).join('***');
    return l;
  };
}

export async function runMigrateTo(argv: string[], deps: MigrateCliDeps): Promise<number> {
  const rawOut = deps.out ?? ((s: string) => process.stdout.write(s + '\n'));
  const rawErr = deps.err ?? ((s: string) => process.stderr.write(s + '\n'));
  let json = false;
  const positional: string[] = [];
  for (const a of argv) {
    if (a === '--json') json = true;
    else if (a === '--help' || a === '-h') {
      rawOut(MIGRATE_USAGE);
      return 0;
    } else positional.push(a);
  }
  const given = positional[0] ?? deps.config.databaseUrl;
  // Every URL in sight is hidden, even one refused below.
  const redact = redactor(given);
  const out = (s: string) => rawOut(redact(s));
  const err = (s: string) => rawErr(redact(s));
  const fail = (code: 'INVALID' | 'CONFLICT' | 'INTERNAL', message: string): number => {
    if (json) out(JSON.stringify({ error: { code, message } }));
    else err(`sitrep: ${message}`);
    return code === 'INTERNAL' ? 2 : 1;
  };
  if (positional.length > 1) return fail('INVALID', `migrate-to takes one URL; ${MIGRATE_USAGE}`);
  if (!given) return fail('INVALID', `migrate-to needs the PostgreSQL database to copy into; ${MIGRATE_USAGE}`);
  const parsed = parseTargetUrl(given);
  if ('error' in parsed) return fail('INVALID', parsed.error);
  const target = redactUrl(parsed.url);
  const line = (c: TableCount) =>
    `  ${c.table.padEnd(26)} ${String(c.sqlite).padStart(9)} ${String(c.postgres).padStart(11)}${c.sqlite === c.postgres ? '' : '  DIFFERS'}`;
  try {
    const report = await migrateToPg({
      sqliteFile: deps.config.dbFile,
      url: parsed.url,
      ...(deps.batchRows ? { batchRows: deps.batchRows } : {}),
      onMigrated: () => {
        // Printed once every check passed, so that a refusal is one line and nothing else.
        if (!json)
          out(
            `Copying ${deps.config.dbFile} into ${target}: the PostgreSQL migrations are applied; copying in one transaction:\n  ${'table'.padEnd(26)} ${'SQLite'.padStart(9)} ${'PostgreSQL'.padStart(11)}`,
          );
      },
      // On stderr, so that stdout stays the table of counts.
      onProgress: (table, rows) => {
        if (!json) err(`  … ${table}: ${rows} rows so far`);
      },
      onTable: (c) => {
        if (!json) out(line(c));
      },
    });
    const nextIds = Object.entries(report.sequences).map(([k, n]) => `${k.split('.')[0]} ${n}`);
    if (json) {
      out(
        JSON.stringify({
          target,
          source: deps.config.dbFile,
          tables: report.tables,
          rows: report.rows,
          sequences: report.sequences,
          source_changed: report.sourceChanged,
        }),
      );
    } else {
      out(`Copied ${report.rows} rows in ${report.tables.length} tables, ids kept; every count is equal. Next ids: ${nextIds.join(', ')}.`);
    }
    if (report.sourceChanged) {
      err(
        'sitrep: warning: SITREP_DB was written to while it was copied (a server or CLI run on it); what it wrote after the copy began is not in PostgreSQL. Stop every Sitrep on SITREP_DB before you switch, and copy again into an empty database if that write matters.',
      );
    }
    return 0;
  } catch (e) {
    if (e instanceof CountsDiffer && json) {
      out(JSON.stringify({ error: { code: 'INTERNAL', message: e.message }, tables: e.counts }));
      return 2;
    }
    if (e instanceof MigrateRefused) return fail(/already holds/.test(e.message) ? 'CONFLICT' : 'INVALID', e.message);
    if (e instanceof MigrateFailed) return fail('INTERNAL', e.message);
    return fail('INTERNAL', `migrate-to failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
}
