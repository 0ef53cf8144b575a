import Database from 'better-sqlite3';
import { is } from 'drizzle-orm';
import { getTableConfig as pgTableConfig, PgTable } from 'drizzle-orm/pg-core';
import { getTableConfig as sqliteTableConfig, SQLiteTable } from 'drizzle-orm/sqlite-core';
import { existsSync } from 'node:fs';
import type pg from 'pg';
import { BUSY_TIMEOUT_MS } from './client.js';
import { migratePg, openPool } from './client.pg.js';
import * as sqliteSchema from './schema.js';
import * as pgSchema from './schema.pg.js';

// `sitrep migrate-to postgres://…`: copies a SQLite database (SITREP_DB) into an empty PostgreSQL
// database, every table of db/schema.ts, ids kept.
//
// - The tables are enumerated from db/schema.ts, so a table added there is copied without anyone
//   touching this file; each must have its twin in db/schema.pg.ts (test/db/schema-mirror checks
//   the columns). drizzle's own bookkeeping (__drizzle_migrations) is not a schema table: the
//   target gets its own from applying db/migrations-pg. PG_ONLY_TABLES are PostgreSQL's own rows.
// - SQLite is read on a read-only connection inside one read transaction: one consistent snapshot
//   for the copy and its counts, and in WAL mode a running server's writes never wait for it.
// - PostgreSQL is written in one transaction, so a failure anywhere (a refused value, a lost
//   connection, a count that differs) rolls back every row: the target keeps its (empty) tables
//   and migrate-to can simply run again. The migrations are applied before it, by migratePg under
//   its advisory lock, as a replica's start would.
// - Rows go across in batches of keyset-paged reads (by rowid) and one `insert … select from
//   unnest($1::type[], …)` per batch: memory stays bounded by the batch, however many outbox rows.
// - Values cross as text in their PostgreSQL type, so they round-trip exactly: integers as
//   SQLite's 64-bit integers (read with safeIntegers, never through a double), JSON columns as
//   the stored text (PostgreSQL's json type keeps it as written), booleans from SQLite's 0/1.

/** Tables only PostgreSQL has (db/schema.pg.ts): not copied, not counted as Sitrep rows. */
export const PG_ONLY_TABLES: readonly string[] = ['data_version'];

type PgType = 'integer' | 'bigint' | 'text' | 'boolean' | 'json';
const PG_TYPES: readonly string[] = ['integer', 'bigint', 'text', 'boolean', 'json'];

export interface ColumnPlan {
  name: string;
  pgType: PgType;
}

export interface TablePlan {
  name: string;
  columns: ColumnPlan[];
}

/** A refusal before anything was written (exit 1): the message is one line. */
export class MigrateRefused extends Error {}
/** The copy failed and was rolled back (exit 2): the message is one line. */
export class MigrateFailed extends Error {}

/**
 * Every table of db/schema.ts with its columns in PostgreSQL's types, parents before the tables
 * whose foreign keys name them (the foreign keys are checked row by row as rows arrive).
 */
export function copyPlan(): TablePlan[] {
  const pgTables = new Map<string, PgTable>();
  for (const t of Object.values(pgSchema)) if (is(t, PgTable)) pgTables.set(pgTableConfig(t).name, t);
  const tables = new Map<string, { plan: TablePlan; parents: Set<string> }>();
  for (const t of Object.values(sqliteSchema)) {
    if (!is(t, SQLiteTable)) continue;
    const config = sqliteTableConfig(t);
    const twin = pgTables.get(config.name);
    if (!twin) throw new Error(`db/schema.pg.ts has no table ${config.name}`);
    const pgColumns = new Map(pgTableConfig(twin).columns.map((c) => [c.name, c.getSQLType()]));
    const columns = config.columns.map((c) => {
      const pgType = pgColumns.get(c.name);
      if (!pgType) throw new Error(`db/schema.pg.ts's ${config.name} has no column ${c.name}`);
      if (!PG_TYPES.includes(pgType)) throw new Error(`migrate-to cannot copy ${config.name}.${c.name} of type ${pgType} yet`);
      return { name: c.name, pgType: pgType as PgType };
    });
    const parents = new Set(config.foreignKeys.map((fk) => sqliteTableConfig(fk.reference().foreignTable).name).filter((n) => n !== config.name));
    tables.set(config.name, { plan: { name: config.name, columns }, parents });
  }
  for (const name of pgTables.keys()) {
    if (!tables.has(name) && !PG_ONLY_TABLES.includes(name)) throw new Error(`db/schema.pg.ts's ${name} is in no SQLite table and not in PG_ONLY_TABLES`);
  }
  const ordered: TablePlan[] = [];
  const placed = new Set<string>();
  while (placed.size < tables.size) {
    const ready = [...tables.values()].filter((t) => !placed.has(t.plan.name) && [...t.parents].every((p) => placed.has(p)));
    if (!ready.length) throw new Error('the schema\u2019s foreign keys form a cycle: migrate-to cannot order the tables');
    for (const t of ready) {
      placed.add(t.plan.name);
      ordered.push(t.plan);
    }
  }
  return ordered;
}

export interface TableCount {
  table: string;
  sqlite: number;
  postgres: number;
}

export interface MigrateReport {
  tables: TableCount[];
  rows: number;
  /** Identity sequences reset past the largest id: `table.column` → the id the next insert gets. */
  sequences: Record<string, number>;
  /** SITREP_DB was written while it was copied: what was written after the snapshot is not in PostgreSQL. */
  sourceChanged: boolean;
}

export interface MigrateOptions {
  sqliteFile: string;
  url: string;
  /** Rows per read and per insert (bounded further by BATCH_BYTES). */
  batchRows?: number;
  /** Told as each table is copied and counted, for progress lines. */
  onTable?: (count: TableCount) => void;
  /** Told once the migrations are applied. */
  onMigrated?: () => void;
  /** Told every PROGRESS_ROWS rows of a table, while it is being copied. */
  onProgress?: (table: string, rows: number) => void;
}

/** How often a long table reports its progress. */
export const PROGRESS_ROWS = 100_000;

/** A batch is sent once its text reaches this many characters, whatever its row count. */
const BATCH_BYTES = 8 * 1024 * 1024;

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Copies `sqliteFile` into the PostgreSQL database at `url` (see the top of this file). */
export async function migrateToPg(opts: MigrateOptions): Promise<MigrateReport> {
  const plan = copyPlan();
  const batchRows = opts.batchRows ?? 1000;
  if (opts.sqliteFile === ':memory:' || opts.sqliteFile === '')
    throw new MigrateRefused('SITREP_DB is :memory:, there is nothing to copy: set SITREP_DB to the SQLite file Sitrep uses');
  if (!existsSync(opts.sqliteFile))
    throw new MigrateRefused(`SITREP_DB ${opts.sqliteFile} does not exist: set SITREP_DB to the SQLite file Sitrep uses; nothing was written`);
  let source: Database.Database;
  try {
    source = new Database(opts.sqliteFile, { readonly: true, fileMustExist: true });
    source.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  } catch (e) {
    throw new MigrateRefused(`cannot open SITREP_DB ${opts.sqliteFile} as a SQLite database (${message(e)}); nothing was written`);
  }
  try {
    checkSourceSchema(source, opts.sqliteFile, plan);
    const pool = openPool(opts.url, { max: 2 });
    try {
      await reach(pool);
      // Before the migrations: a database that holds Sitrep rows is refused with nothing written.
      await refuseRows(pool, plan);
      await migratePg(pool);
      opts.onMigrated?.();
      return await copyAll(source, pool, plan, batchRows, opts);
    } finally {
      await pool.end().catch(() => undefined);
    }
  } finally {
    source.close();
  }
}

/** SITREP_DB must be a Sitrep database at this version's schema: the same tables and columns. */
function checkSourceSchema(source: Database.Database, file: string, plan: TablePlan[]): void {
  let names: string[];
  try {
    names = source
      .prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite\\_%' escape '\\' and name not like '\\_\\_drizzle%' escape '\\'")
      .pluck()
      .all() as string[];
  } catch (e) {
    throw new MigrateRefused(`cannot read SITREP_DB ${file} as a SQLite database (${message(e)}); nothing was written`);
  }
  const known = new Set(plan.map((t) => t.name));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length) {
    throw new MigrateRefused(
      `SITREP_DB ${file} has tables this version of Sitrep does not know (${unknown.join(', ')}): run migrate-to from the version that wrote it; nothing was written`,
    );
  }
  const older = `SITREP_DB ${file} is not at this version's schema`;
  const hint = 'run any sitrep command on it once (e.g. `npx sitrep list`) to migrate it, then migrate-to again; nothing was written';
  for (const t of plan) {
    if (!names.includes(t.name)) throw new MigrateRefused(`${older} (it has no table ${t.name}): ${hint}`);
    const columns = new Set((source.pragma(`table_info(${q(t.name)})`) as Array<{ name: string }>).map((c) => c.name));
    const missing = t.columns.filter((c) => !columns.has(c.name)).map((c) => c.name);
    const extra = [...columns].filter((c) => !t.columns.some((p) => p.name === c));
    if (missing.length) throw new MigrateRefused(`${older} (${t.name} has no column ${missing.join(', ')}): ${hint}`);
    if (extra.length)
      throw new MigrateRefused(`SITREP_DB ${file} has columns this version of Sitrep does not know (${t.name}.${extra.join(', ')}); nothing was written`);
  }
}

async function reach(pool: pg.Pool): Promise<void> {
  try {
    await pool.query('select 1');
  } catch (e) {
    throw new MigrateRefused(`cannot connect to the PostgreSQL database (${message(e)}); nothing was written`);
  }
}

/** Refuses a target whose Sitrep tables hold any row (tables that exist but are empty are fine). */
async function refuseRows(db: pg.Pool | pg.PoolClient, plan: TablePlan[]): Promise<void> {
  const existing = await db.query<{ name: string }>(
    "select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name = any($1::text[])",
    [plan.map((t) => t.name)],
  );
  const held: string[] = [];
  for (const { name } of existing.rows) {
    const r = await db.query<{ n: number }>(`select count(*) as n from ${q(name)}`);
    const n = Number(r.rows[0]?.n ?? 0);
    if (n > 0) held.push(`${name}: ${n}`);
  }
  if (held.length) {
    throw new MigrateRefused(
      `the PostgreSQL database already holds Sitrep rows (${held.join(', ')}): migrate-to copies into an empty database only (create a new one, or drop these rows); nothing was written`,
    );
  }
}

async function copyAll(
  source: Database.Database,
  pool: pg.Pool,
  plan: TablePlan[],
  batchRows: number,
  { onTable, onProgress }: Pick<MigrateOptions, 'onTable' | 'onProgress'>,
): Promise<MigrateReport> {
  const client = await pool.connect();
  let broken: Error | undefined;
  source.exec('begin');
  try {
    await client.query('begin');
    // Replicas already running on the target wait for the copy instead of writing beside it.
    await client.query(`lock table ${plan.map((t) => q(t.name)).join(', ')} in exclusive mode`);
    await refuseRows(client, plan);
    const versionBefore = Number(source.pragma('data_version', { simple: true }));
    const counts: TableCount[] = [];
    let rows = 0;
    for (const t of plan) {
      const sqliteCount = Number(
        source
          .prepare(`select count(*) from ${q(t.name)}`)
          .pluck()
          .get(),
      );
      const copied = await copyTable(source, client, t, batchRows, onProgress);
      const r = await client.query<{ n: number }>(`select count(*) as n from ${q(t.name)}`);
      const postgres = Number(r.rows[0]?.n ?? 0);
      const count = { table: t.name, sqlite: sqliteCount, postgres };
      counts.push(count);
      rows += copied;
      onTable?.(count);
    }
    const sequences = await resetSequences(client, plan);
    const differ = counts.filter((c) => c.sqlite !== c.postgres);
    if (differ.length) {
      const list = differ.map((c) => `${c.table}: SQLite ${c.sqlite}, PostgreSQL ${c.postgres}`).join('; ');
      throw new CountsDiffer(`the row counts differ (${list}): the copy was rolled back, the PostgreSQL database is left empty`, counts);
    }
    // Running replicas see the new rows as any other commit (db/store.pg.ts's version()).
    await client.query('update data_version set n = n + 1 where id = 1');
    await client.query('commit');
    source.exec('commit');
    const sourceChanged = Number(source.pragma('data_version', { simple: true })) !== versionBefore;
    return { tables: counts, rows, sequences, sourceChanged };
  } catch (e) {
    if (source.inTransaction) source.exec('rollback');
    try {
      await client.query('rollback');
    } catch (err) {
      broken = err instanceof Error ? err : new Error(String(err));
    }
    if (e instanceof MigrateRefused || e instanceof MigrateFailed) throw e;
    throw new MigrateFailed(`the copy failed and was rolled back, the PostgreSQL database is left empty: ${message(e)}`);
  } finally {
    client.release(broken);
  }
}

/** The counts of every table when they differ (the CLI prints them before the one-line error). */
export class CountsDiffer extends MigrateFailed {
  constructor(
    msg: string,
    readonly counts: TableCount[],
  ) {
    super(msg);
  }
}

async function copyTable(
  source: Database.Database,
  client: pg.PoolClient,
  t: TablePlan,
  batchRows: number,
  onProgress?: (table: string, rows: number) => void,
): Promise<number> {
  const names = t.columns.map((c) => q(c.name)).join(', ');
  const select = `select rowid, ${names} from ${q(t.name)}`;
  const head = source.prepare(`${select} order by rowid limit ?`).raw(true).safeIntegers(true);
  const next = source.prepare(`${select} where rowid > ? order by rowid limit ?`).raw(true).safeIntegers(true);
  const insert = `insert into ${q(t.name)} (${names}) select * from unnest(${t.columns.map((c, i) => `$${i + 1}::${c.pgType}[]`).join(', ')})`;
  let after: bigint | undefined;
  let copied = 0;
  let batch: Array<Array<string | null>> = t.columns.map(() => []);
  let size = 0;
  let pending = 0;
  const flush = async () => {
    if (!pending) return;
    await client.query(insert, batch);
    if (Math.floor((copied + pending) / PROGRESS_ROWS) > Math.floor(copied / PROGRESS_ROWS)) onProgress?.(t.name, copied + pending);
    copied += pending;
    batch = t.columns.map(() => []);
    size = 0;
    pending = 0;
  };
  for (;;) {
    const chunk = (after === undefined ? head.all(batchRows) : next.all(after, batchRows)) as unknown[][];
    if (!chunk.length) break;
    for (const row of chunk) {
      const rowid = row[0] as bigint;
      after = rowid;
      for (let i = 0; i < t.columns.length; i++) {
        const v = toPg(t, t.columns[i]!, row[i + 1], rowid);
        batch[i]!.push(v);
        size += v === null ? 1 : v.length;
      }
      pending++;
      if (pending >= batchRows || size >= BATCH_BYTES) await flush();
    }
  }
  await flush();
  return copied;
}

/** One SQLite value as the text of its PostgreSQL type (null stays null). */
function toPg(t: TablePlan, c: ColumnPlan, v: unknown, rowid: bigint): string | null {
  if (v === null || v === undefined) return null;
  const bad = (what: string) => new Error(`${t.name}.${c.name} of row ${rowid} is ${what}, which PostgreSQL's ${c.pgType} column cannot hold`);
  switch (c.pgType) {
    case 'integer':
    case 'bigint':
      if (typeof v === 'bigint') return v.toString();
      if (typeof v === 'number' && Number.isInteger(v)) return String(v);
      throw bad(typeof v === 'string' ? `the text ${JSON.stringify(v.slice(0, 40))}` : String(v));
    case 'boolean':
      if (v === 0n || v === 0) return 'f';
      if (v === 1n || v === 1) return 't';
      throw bad(String(v));
    case 'json':
    case 'text':
      // PostgreSQL's text cannot hold NUL, which SQLite's can: say where, rather than its bare
      // "invalid byte sequence" (JSON text escapes it, so only plain text columns meet it).
      if (typeof v === 'string') {
        if (c.pgType === 'text' && v.includes('\u0000')) throw bad('a text with a NUL character');
        return v;
      }
      if (typeof v === 'bigint' || typeof v === 'number') return String(v);
      throw bad('a blob');
  }
}

/**
 * Every identity or serial sequence of the copied tables set so that the next insert gets the id
 * after the largest copied one (an empty table's starts at 1).
 */
async function resetSequences(client: pg.PoolClient, plan: TablePlan[]): Promise<Record<string, number>> {
  const r = await client.query<{ tbl: string; col: string; seq: string }>(
    `select table_name as tbl, column_name as col, pg_get_serial_sequence(quote_ident(table_name), column_name) as seq
       from information_schema.columns
      where table_schema = current_schema() and table_name = any($1::text[])
        and pg_get_serial_sequence(quote_ident(table_name), column_name) is not null
      order by table_name, column_name`,
    [plan.map((t) => t.name)],
  );
  const out: Record<string, number> = {};
  for (const { tbl, col, seq } of r.rows) {
    const next = await client.query<{ next: number }>(`select coalesce(max(${q(col)}), 0) + 1 as next from ${q(tbl)}`);
    const n = Number(next.rows[0]?.next ?? 1);
    await client.query('select setval($1::regclass, $2, false)', [seq, n]);
    out[`${tbl}.${col}`] = n;
  }
  return out;
}

function message(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0] ?? m;
}
