import type Database from 'better-sqlite3';
import { connectionOf, type DbOrTx } from '../client.js';

// The hottest statements (every command on an incident runs them) are prepared once per connection
// instead of being built and prepared by drizzle on every call. They run on the connection the
// handle (database or transaction) uses, so they take part in the caller's transaction. Only
// queries in this folder use this; their SQL is plain enough for any engine.

const statements = new WeakMap<Database.Database, Map<string, Database.Statement>>();

export function prepared(db: DbOrTx, text: string): Database.Statement {
  const client = connectionOf(db);
  if (!client) throw new Error('this database handle was not opened by openDatabase');
  let cache = statements.get(client);
  if (!cache) statements.set(client, (cache = new Map()));
  let stmt = cache.get(text);
  if (!stmt) cache.set(text, (stmt = client.prepare(text)));
  return stmt;
}
