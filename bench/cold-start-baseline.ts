import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import * as schema from '../db/schema.js';

// The cold-start baseline: a bare node process that opens the same database file with
// better-sqlite3 and drizzle (the same schema module) and reads the incidents table, printing
// one line per incident. `sitrep list` does this plus everything the CLI needs to be Sitrep.

const file = process.argv[2] ?? process.env.SITREP_DB;
if (!file) throw new Error('usage: cold-start-baseline <database file>');
const db = drizzle(new Database(file, { fileMustExist: true }), { schema });
const rows = db.select().from(schema.incidents).all();
process.stdout.write(rows.map((r) => `INC-${r.id} sev${r.severity} ${r.status} ${r.title}`).join('\n') + '\n');
db.$client.close();
