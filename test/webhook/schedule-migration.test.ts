import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, openDatabase } from '../../db/client.js';
import { NO_DEADLINE } from '../../src/mirror/policy.js';
import { tempDb } from '../mirror/helpers.js';

// Upgrading a database whose webhook rows were enqueued with the chat deadline (before webhooks
// followed their own schedule): the migration takes the deadline off the rows still waiting, so
// they are not dead-lettered an hour after approval; chat rows and finished rows keep theirs.

describe('migration to the webhook schedule', () => {
  it('takes the chat deadline off waiting webhook rows only', async () => {
    const file = tempDb();
    // The migrations as they stood before it: the first three.
    const before = mkdtempSync(join(tmpdir(), 'sitrep-migrations-'));
    cpSync(MIGRATIONS_DIR, before, { recursive: true });
    const journalFile = join(before, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: Array<{ tag: string }> };
    const at = journal.entries.findIndex((e) => e.tag === '0003_subscription_disabled');
    expect(at).toBe(3);
    writeFileSync(journalFile, JSON.stringify({ ...journal, entries: journal.entries.slice(0, at) }));
    const old = new Database(file);
    migrate(drizzle(old), { migrationsFolder: before });
    const now = Date.now();
    const insert = old.prepare(
      `insert into outbox (delivery_id, incident_id, target, kind, payload, customer_facing, state, attempts, next_attempt_at, approved_at, deadline_at, created_at)
       values (?, null, ?, 'k', '{}', 1, ?, 1, ?, ?, ?, ?)`,
    );
    const rows = {
      hookPending: insert.run('msg_a', 'webhook:S-1', 'pending', now, now, now + 3_600_000, now).lastInsertRowid,
      hookInFlight: insert.run('msg_b', 'webhook:S-2', 'in_flight', now, now, now + 3_600_000, now).lastInsertRowid,
      hookDead: insert.run('msg_c', 'webhook:S-3', 'dead', now, now, now + 3_600_000, now).lastInsertRowid,
      chatPending: insert.run('msg_d', 'slack:C0CUSTOMERS', 'pending', now, now, now + 3_600_000, now).lastInsertRowid,
    };
    old.close();

    const db = openDatabase(file);
    const deadline = (id: number | bigint) => (db.$client.prepare('select deadline_at as d from outbox where id = ?').get(id) as { d: number }).d;
    expect(deadline(rows.hookPending)).toBe(NO_DEADLINE);
    expect(deadline(rows.hookInFlight)).toBe(NO_DEADLINE);
    expect(deadline(rows.hookDead)).toBe(now + 3_600_000);
    expect(deadline(rows.chatPending)).toBe(now + 3_600_000);
    // And the subscriptions table has its disabled columns, empty.
    const cols = (db.$client.prepare('pragma table_info(subscriptions)').all() as Array<{ name: string }>).map((c) => c.name);
    expect(cols).toEqual(expect.arrayContaining(['disabled_at', 'disabled_cause', 'disabled_reason']));
    db.$client.close();
  });
});
