import { and, eq, ne, sql } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../client.js';
import { affected, first, tablesOf } from '../engine.js';
import type { ReminderKind } from '../../src/domain/reminders.js';

/** Open incidents with what a reminder looks at: roles, times and the last published update's time. */
export async function reminderSubjects(db: DbOrTx) {
  const { customerUpdates, incidents } = tablesOf(db);
  const last = sql<number | null>`(select max(${customerUpdates.displayAt}) from ${customerUpdates}
    where ${customerUpdates.incidentId} = ${incidents.id} and ${customerUpdates.state} = 'published' and ${customerUpdates.isPostmortem} = false)`.mapWith(
    Number,
  );
  return db
    .select({
      id: incidents.id,
      status: incidents.status,
      severity: incidents.severity,
      visibility: incidents.visibility,
      declaredAt: incidents.declaredAt,
      monitoringAt: incidents.monitoringAt,
      lead: incidents.lead,
      comms: incidents.comms,
      lastPublishedAt: last,
    })
    .from(incidents)
    .where(ne(incidents.status, 'resolved'));
}

/** Records that this gap's reminder fired; false when it already had (another tick, server or run). */
export async function claimReminder(tx: Tx, r: { incidentId: number; kind: ReminderKind; since: number; at: number }): Promise<boolean> {
  const { reminders } = tablesOf(tx);
  return affected(await tx.insert(reminders).values({ incidentId: r.incidentId, kind: r.kind, since: r.since, firedAt: r.at }).onConflictDoNothing()) === 1;
}

/** Whether this gap's reminder fired already (a read before taking the writer). */
export async function reminderFired(db: DbOrTx, r: { incidentId: number; kind: ReminderKind; since: number }): Promise<boolean> {
  const { reminders } = tablesOf(db);
  return (
    (await first(
      db
        .select({ n: sql<number>`1` })
        .from(reminders)
        .where(and(eq(reminders.incidentId, r.incidentId), eq(reminders.kind, r.kind), eq(reminders.since, r.since)))
        .limit(1),
    )) !== undefined
  );
}
