import type Database from 'better-sqlite3';
import type { DbOrTx } from '../client.js';
import { engineOf, type PgClient } from '../engine.js';

// The hottest statements (every command on an incident runs them) are written in SQL once and
// prepared once per connection instead of being built by drizzle on every call. They run on the
// connection the handle (database or transaction) uses, so they take part in the caller's
// transaction. Only queries in this folder use this.
//
// One text serves both engines: `?` placeholders (PostgreSQL gets `$1, $2, …`), aliases quoted
// ("createdBy": PostgreSQL folds unquoted names to lower case), booleans as true/false. Where the
// engines' SQL differs, the caller passes `{ sqlite, pg }`. On SQLite a statement is a
// better-sqlite3 prepared statement, kept per connection; on PostgreSQL a named statement, which
// node-postgres prepares once per pooled connection.

export type Sql = string | { readonly sqlite: string; readonly pg: string };

/**
 * A statement's result: the value itself on SQLite (better-sqlite3 answers synchronously, and an
 * awaited plain value costs one tick, where an async wrapper would cost a promise and two), a
 * promise on PostgreSQL. Callers await it either way.
 */
export type Result<T> = T | Promise<T>;

export interface Statement {
  /** The first row, or undefined. */
  get(...params: unknown[]): Result<unknown>;
  all(...params: unknown[]): Result<unknown[]>;
  /** Runs it; how many rows it changed. */
  run(...params: unknown[]): Result<number>;
  /** Runs an insert of one row; the new row's id. */
  insert(...params: unknown[]): Result<number>;
}

const sqliteStatements = new WeakMap<Database.Database, Map<Sql, Statement>>();
const pgStatements = new WeakMap<PgClient, Map<Sql, Statement>>();

export function prepared(db: DbOrTx, text: Sql): Statement {
  const e = engineOf(db);
  if (e.kind === 'sqlite') {
    let cache = sqliteStatements.get(e.client);
    if (!cache) sqliteStatements.set(e.client, (cache = new Map()));
    let stmt = cache.get(text);
    if (!stmt) cache.set(text, (stmt = sqliteStatement(e.client.prepare(typeof text === 'string' ? text : text.sqlite))));
    return stmt;
  }
  let cache = pgStatements.get(e.client);
  if (!cache) pgStatements.set(e.client, (cache = new Map()));
  let stmt = cache.get(text);
  if (!stmt) cache.set(text, (stmt = pgStatement(e.client, toPg(typeof text === 'string' ? text : text.pg))));
  return stmt;
}

function sqliteStatement(s: Database.Statement): Statement {
  return {
    get: s.get.bind(s),
    all: s.all.bind(s),
    run: (...p) => s.run(...p).changes,
    insert: (...p) => Number(s.run(...p).lastInsertRowid),
  };
}

function pgStatement(client: PgClient, text: string): Statement {
  const name = nameOf(text);
  const query = (values: unknown[]) => client.query({ name, text, values: values.map(pgValue) });
  const returning = `${text} returning id`;
  const insertName = nameOf(returning);
  return {
    get: async (...p) => (await query(p)).rows[0],
    all: async (...p) => (await query(p)).rows,
    run: async (...p) => (await query(p)).rowCount ?? 0,
    insert: async (...p) => {
      const r = await client.query({ name: insertName, text: returning, values: p.map(pgValue) });
      return Number((r.rows[0] as { id: unknown }).id);
    },
  };
}

// node-postgres sends a JavaScript boolean as 'true'/'false' and a number as its digits; both are
// what PostgreSQL's boolean and integer inputs read. undefined means null, as on SQLite.
const pgValue = (v: unknown) => (v === undefined ? null : v);

/** `?` placeholders to `$1, $2, …`, leaving quoted strings and identifiers alone. */
export function toPg(text: string): string {
  let out = '';
  let n = 0;
  let quote: string | null = null;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '?') {
      out += `$${++n}`;
      continue;
    }
    out += ch;
  }
  return out;
}

// One name per distinct text, the same on every connection.
const names = new Map<string, string>();
function nameOf(text: string): string {
  let name = names.get(text);
  if (!name) names.set(text, (name = `sitrep_${names.size + 1}`));
  return name;
}

const syncStatements = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/**
 * A better-sqlite3 statement for the queries that stay synchronous by design and so run on SQLite
 * only (the outbox worker's claim path, the Slack receiver's inbox); on PostgreSQL it refuses,
 * naming the query.
 */
export function preparedSync(db: DbOrTx, text: string): Database.Statement {
  const e = engineOf(db);
  if (e.kind !== 'sqlite') throw new Error(`a synchronous SQLite-only query ran on PostgreSQL: ${text.slice(0, 60)}`);
  let cache = syncStatements.get(e.client);
  if (!cache) syncStatements.set(e.client, (cache = new Map()));
  let stmt = cache.get(text);
  if (!stmt) cache.set(text, (stmt = e.client.prepare(text)));
  return stmt;
}
