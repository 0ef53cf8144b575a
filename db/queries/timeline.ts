import { and, asc, eq } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../client.js';
import { first, tablesOf } from '../engine.js';
import { parseTimelineEvent, type EventRecord, type TimelineEvent } from '../../src/domain/events.js';
import type { TimelineEntry } from '../../src/render/incident.js';
import { prepared } from './prepared.js';

export type NewEvent = TimelineEvent & { incidentId: number; actor: string; text: string; occurredAt: number; recordedAt: number };

/**
 * Appends one event. The record handed back is the stored one, read back through the same check
 * as any reader's (the payload as JSON stores it: undefined fields gone).
 */
export async function insertEvent(tx: Tx, e: NewEvent): Promise<EventRecord> {
  const json = JSON.stringify(e.payload);
  const id = await prepared(
    tx,
    'insert into timeline_events (incident_id, occurred_at, recorded_at, actor, kind, text, payload) values (?, ?, ?, ?, ?, ?, ?)',
  ).insert(e.incidentId, e.occurredAt, e.recordedAt, e.actor, e.kind, e.text, json);
  const stored: unknown = JSON.parse(json);
  const typed = parseTimelineEvent(e.kind, stored);
  if (!typed) throw new Error(`a ${e.kind} event's payload does not have its kind's shape`);
  return {
    id,
    incidentId: e.incidentId,
    occurredAt: e.occurredAt,
    recordedAt: e.recordedAt,
    actor: e.actor,
    text: e.text,
    ...typed,
  };
}

/** An incident's events with their payloads, by when they happened; unreadable payloads are skipped. */
export async function loadEvents(db: DbOrTx, incidentId: number): Promise<EventRecord[]> {
  const t = tablesOf(db).timelineEvents;
  const rows = await db.select().from(t).where(eq(t.incidentId, incidentId)).orderBy(asc(t.occurredAt), asc(t.id));
  return rows.flatMap((r) => {
    const typed = parseTimelineEvent(r.kind, r.payload);
    return typed ? [{ id: r.id, incidentId: r.incidentId, occurredAt: r.occurredAt, recordedAt: r.recordedAt, actor: r.actor, text: r.text, ...typed }] : [];
  });
}

export async function loadTimeline(db: DbOrTx, incidentId: number): Promise<TimelineEntry[]> {
  // Only the fields a timeline shows: a long incident has tens of thousands of events, and every
  // other column (the JSON payload above all) would be read and decoded for nothing.
  const e = tablesOf(db).timelineEvents;
  return db
    .select({ kind: e.kind, actor: e.actor, text: e.text, occurredAt: e.occurredAt, recordedAt: e.recordedAt })
    .from(e)
    .where(eq(e.incidentId, incidentId))
    .orderBy(asc(e.occurredAt), asc(e.id));
}

/**
 * Whether an incident's timeline already holds a delivery_failed event that disabled this
 * subscription at this time (a null time matches nothing). The payloads are compared here rather
 * than in SQL, so the query needs no engine's JSON functions; an incident has few such events.
 */
export async function hasDisablingNotice(db: DbOrTx, incidentId: number, subscriptionId: number, disabledAt: number | null): Promise<boolean> {
  if (disabledAt === null) return false;
  const t = tablesOf(db).timelineEvents;
  return (
    await db
      .select({ payload: t.payload })
      .from(t)
      .where(and(eq(t.incidentId, incidentId), eq(t.kind, 'delivery_failed')))
  ).some((r) => r.payload.disabledSubscription === subscriptionId && r.payload.disabledAt === disabledAt);
}

/** Whether the incident's timeline has an event of this kind (e.g. was it ever paged). */
export async function hasEventOfKind(db: DbOrTx, incidentId: number, kind: TimelineEvent['kind']): Promise<boolean> {
  const t = tablesOf(db).timelineEvents;
  return (
    (await first(
      db
        .select({ id: t.id })
        .from(t)
        .where(and(eq(t.incidentId, incidentId), eq(t.kind, kind)))
        .limit(1),
    )) !== undefined
  );
}
