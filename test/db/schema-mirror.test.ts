import { getTableColumns } from 'drizzle-orm';
import { getTableConfig as pgConfig, PgTable } from 'drizzle-orm/pg-core';
import { getTableConfig as sqliteConfig, SQLiteTable } from 'drizzle-orm/sqlite-core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as pgSchema from '../../db/schema.pg.js';
import * as sqliteSchema from '../../db/schema.js';

// db/schema.pg.ts mirrors db/schema.ts (db/engine.ts hands db/queries either engine's tables
// typed as SQLite's): the same tables under the same export names, the same columns under the
// same property and SQL names, nullability and defaults, the same indexes, uniques and checks,
// and the same row types.

const sqliteTables = Object.entries(sqliteSchema).flatMap(([k, v]): Array<[string, SQLiteTable]> => (v instanceof SQLiteTable ? [[k, v]] : []));
const pgTables = new Map(Object.entries(pgSchema).flatMap(([k, v]): Array<[string, PgTable]> => (v instanceof PgTable ? [[k, v]] : [])));

/**
 * Indexes one engine's own queries need and the other's do not (each named where it is made):
 * PostgreSQL's replicas claim lane heads in due order (db/schema.pg.ts outbox_due_order).
 */
const ENGINE_ONLY_INDEXES = new Set(['outbox_due_order']);

function shape(c: ReturnType<typeof sqliteConfig> | ReturnType<typeof pgConfig>) {
  return {
    name: c.name,
    columns: c.columns
      .map((col) => ({ name: col.name, notNull: col.notNull, primary: col.primary, unique: col.isUnique }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    primaryKeys: c.primaryKeys.map((k) => k.columns.map((col) => col.name)),
    indexes: c.indexes
      .filter((i) => !ENGINE_ONLY_INDEXES.has(i.config.name ?? ''))
      .map((i) => ({ name: i.config.name, unique: i.config.unique, columns: i.config.columns.map((col) => ('name' in col ? col.name : '?')) })),
    checks: c.checks.map((k) => k.name),
    foreignKeys: c.foreignKeys.map((f) => f.reference().columns.map((col) => col.name)).sort(),
  };
}

describe('the PostgreSQL schema', () => {
  it('has every SQLite table, and only data_version besides', () => {
    expect(sqliteTables.length).toBe(21);
    expect([...pgTables.keys()].sort()).toEqual([...sqliteTables.map(([k]) => k), 'dataVersion'].sort());
  });

  it.each(sqliteTables)('mirrors %s column for column, index for index', (name, table) => {
    const mirror = pgTables.get(name)!;
    expect(shape(pgConfig(mirror))).toEqual(shape(sqliteConfig(table)));
    // Property names, and which columns have defaults (an insert may leave them out).
    expect(Object.keys(getTableColumns(mirror)).sort()).toEqual(Object.keys(getTableColumns(table)).sort());
    // (An integer primary key has a default on SQLite, the rowid; PostgreSQL's ids are identities.)
    const defaults = (cols: Array<{ name: string; hasDefault: boolean; primary: boolean }>) =>
      cols
        .filter((c) => c.hasDefault && !c.primary)
        .map((c) => c.name)
        .sort();
    expect(defaults(pgConfig(mirror).columns)).toEqual(defaults(sqliteConfig(table).columns));
  });

  it('has the same row types (checked by tsc)', () => {
    expectTypeOf<typeof pgSchema.incidents.$inferSelect>().toEqualTypeOf<typeof sqliteSchema.incidents.$inferSelect>();
    expectTypeOf<typeof pgSchema.components.$inferSelect>().toEqualTypeOf<typeof sqliteSchema.components.$inferSelect>();
    expectTypeOf<typeof pgSchema.incidentComponents.$inferSelect>().toEqualTypeOf<typeof sqliteSchema.incidentComponents.$inferSelect>();
    expectTypeOf<typeof pgSchema.componentStatusHistory.$inferSelect>().toEqualTypeOf<typeof sqliteSchema.componentStatusHistory.$inferSelect>();
    expectTypeOf<typeof pgSchema.timelineEvents.$inferSelect>().toEqualTypeOf<typeof sqliteSchema.timelineEvents.$inferSelect>();
    expectTypeOf<typeof pgSchema.customerUpdates.$inferSelect>().toEqualTypeOf<typeof sqliteSchema.customerUpdates.$inferSelect>();
    expectTypeOf<typeof pgSchema.maintenances.$inferSelect>().toEqualTypeOf<typeof sqliteSchema.maintenances.$inferSelect>();
    expectTypeOf<typeof pgSchema.maintenanceComponents.$inferSelect>().toEqualTypeOf<typeof sqliteSchema.maintenanceComponents.$inferSelect>();
    expectTypeOf<typeof pgSchema.maintenanceEvents.$inferSelect>().toEqualTypeOf<typeof sqliteSchema.maintenanceEvents.$inferSelect>();
    expectTypeOf<typeof pgSchema.maintenanceThreads.$inferSelect>().toEqualTypeOf<typeof sqliteSchema.maintenanceThreads.$inferSelect>();
    expectTypeOf<typeof pgSchema.reminders.$inferSelect>().toEqualTypeOf<typeof sqliteSchema.reminders.$inferSelect>();
    expectTypeOf<typeof pgSchema.subscriptions.$inferSelect>().toEqualTypeOf<typeof sqliteSchema.subscriptions.$inferSelect>();
    expectTypeOf<typeof pgSchema.approvers.$inferSelect>().toEqualTypeOf<typeof sqliteSchema.approvers.$inferSelect>();
    expectTypeOf<typeof pgSchema.followups.$inferSelect>().toEqualTypeOf<typeof sqliteSchema.followups.$inferSelect>();
    expectTypeOf<typeof pgSchema.templates.$inferSelect>().toEqualTypeOf<typeof sqliteSchema.templates.$inferSelect>();
    expectTypeOf<typeof pgSchema.settings.$inferSelect>().toEqualTypeOf<typeof sqliteSchema.settings.$inferSelect>();
    expectTypeOf<typeof pgSchema.incidentThreads.$inferSelect>().toEqualTypeOf<typeof sqliteSchema.incidentThreads.$inferSelect>();
    expectTypeOf<typeof pgSchema.outbox.$inferSelect>().toEqualTypeOf<typeof sqliteSchema.outbox.$inferSelect>();
    expectTypeOf<typeof pgSchema.processedEvents.$inferSelect>().toEqualTypeOf<typeof sqliteSchema.processedEvents.$inferSelect>();
    expectTypeOf<typeof pgSchema.postmortems.$inferSelect>().toEqualTypeOf<typeof sqliteSchema.postmortems.$inferSelect>();
    expectTypeOf<typeof pgSchema.inbox.$inferSelect>().toEqualTypeOf<typeof sqliteSchema.inbox.$inferSelect>();
    expectTypeOf<typeof pgSchema.outbox.$inferInsert>().toEqualTypeOf<typeof sqliteSchema.outbox.$inferInsert>();
    expectTypeOf<typeof pgSchema.incidents.$inferInsert>().toEqualTypeOf<typeof sqliteSchema.incidents.$inferInsert>();
  });
});
