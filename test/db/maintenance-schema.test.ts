import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { eq } from 'drizzle-orm';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, openDatabase } from '../../db/client.js';
import { findIncident } from '../../db/queries/incidents.js';
import { components, incidents, maintenanceComponents, maintenances } from '../../db/schema.js';
import { tempDb } from '../mirror/helpers.js';

// The tables scheduled maintenance and private incidents need (migration 0006): a database from
// before it upgrades with every incident public, and a fresh one holds a maintenance and its
// components with the defaults the domain expects.

const T = Date.parse('2026-12-07T20:00:00Z');

describe('migration 0006: maintenance and private incidents', () => {
  it('upgrades an existing database: its incidents are public, with no private channel', async () => {
    const file = tempDb();
    const before = mkdtempSync(join(tmpdir(), 'sitrep-migrations-'));
    cpSync(MIGRATIONS_DIR, before, { recursive: true });
    const journalFile = join(before, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: Array<{ tag: string }> };
    const at = journal.entries.findIndex((e) => e.tag === '0006_maintenance_and_private_incidents');
    expect(at).toBe(6);
    writeFileSync(journalFile, JSON.stringify({ ...journal, entries: journal.entries.slice(0, at) }));
    const old = new Database(file);
    migrate(drizzle(old), { migrationsFolder: before });
    old
      .prepare(
        `insert into incidents (id, title, status, severity, created_by, started_at, declared_at, recorded_at, updated_at)
         values (1, 'DB down', 'investigating', 2, 'cli:alice', ?, ?, ?, ?)`,
      )
      .run(T, T, T, T);
    old.close();

    const db = openDatabase(file);
    expect(await findIncident(db, 1)).toMatchObject({ id: 1, title: 'DB down', visibility: 'public', privateChannel: null });
    const tables = (db.$client.prepare(`select name from sqlite_master where type = 'table'`).all() as Array<{ name: string }>).map((t) => t.name);
    expect(tables).toEqual(expect.arrayContaining(['maintenances', 'maintenance_components']));
    db.$client.close();
  });

  it('keeps a private incident private and its channel', async () => {
    const db = openDatabase(':memory:');
    db.insert(incidents)
      .values({
        title: 'DB credentials leak',
        status: 'investigating',
        severity: 1,
        createdBy: 'slack:U1',
        startedAt: T,
        declaredAt: T,
        recordedAt: T,
        updatedAt: T,
        visibility: 'private',
        privateChannel: 'C0PRIVATE',
      })
      .run();
    expect(await findIncident(db, 1)).toMatchObject({ visibility: 'private', privateChannel: 'C0PRIVATE' });
    db.$client.close();
  });

  it('holds a maintenance with its components, automatic start and completion on by default', () => {
    const db = openDatabase(':memory:');
    const api = db.insert(components).values({ slug: 'api', name: 'API', position: 1, createdAt: T, updatedAt: T }).returning().get();
    const m = db
      .insert(maintenances)
      .values({
        title: 'Database upgrade',
        status: 'scheduled',
        startsAt: T + 3_600_000,
        endsAt: T + 7_200_000,
        createdBy: 'cli:alice',
        scheduledAt: T,
        recordedAt: T,
        updatedAt: T,
      })
      .returning()
      .get();
    expect(m).toMatchObject({
      id: 1,
      status: 'scheduled',
      autoStart: true,
      autoComplete: true,
      startedAt: null,
      completedAt: null,
      publicStatus: null,
      publishedAt: null,
    });
    db.insert(maintenanceComponents).values({ maintenanceId: m.id, componentId: api.id }).run();
    expect(db.select().from(maintenanceComponents).where(eq(maintenanceComponents.maintenanceId, m.id)).all()).toEqual([
      { maintenanceId: 1, componentId: api.id },
    ]);
    // A component that does not exist, or the same one twice, is refused by the database itself.
    expect(() => db.insert(maintenanceComponents).values({ maintenanceId: m.id, componentId: 99 }).run()).toThrow(/FOREIGN KEY/);
    expect(() => db.insert(maintenanceComponents).values({ maintenanceId: m.id, componentId: api.id }).run()).toThrow(/UNIQUE|PRIMARY KEY/);
    db.$client.close();
  });
});
