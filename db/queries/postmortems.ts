import { and, asc, desc, eq } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../client.js';
import { first, tablesOf } from '../engine.js';
import type { ComponentStatus } from '../../src/domain/enums.js';
import { toDraftRow, type DraftRow } from './drafts.js';

/** The internal status history of each component during an incident, in catalogue order. */
export async function internalComponentHistory(db: DbOrTx, incidentId: number): Promise<Array<{ name: string; status: ComponentStatus }>> {
  const { componentStatusHistory, components } = tablesOf(db);
  return db
    .select({ name: components.name, status: componentStatusHistory.status })
    .from(componentStatusHistory)
    .innerJoin(components, eq(components.id, componentStatusHistory.componentId))
    .where(and(eq(componentStatusHistory.incidentId, incidentId), eq(componentStatusHistory.isPublic, false)))
    .orderBy(asc(components.position), asc(componentStatusHistory.id));
}

/** The incident's published customer updates (postmortems excluded), by when they are shown. */
export async function publishedCustomerUpdates(db: DbOrTx, incidentId: number): Promise<DraftRow[]> {
  const { customerUpdates } = tablesOf(db);
  return (
    await db
      .select()
      .from(customerUpdates)
      .where(and(eq(customerUpdates.incidentId, incidentId), eq(customerUpdates.state, 'published'), eq(customerUpdates.isPostmortem, false)))
      .orderBy(asc(customerUpdates.displayAt))
  ).map(toDraftRow);
}

/** The incident's latest published public postmortem (its D-n), if any. */
export async function publishedPostmortem(db: DbOrTx, incidentId: number): Promise<DraftRow | undefined> {
  const { customerUpdates } = tablesOf(db);
  const row = await first(
    db
      .select()
      .from(customerUpdates)
      .where(and(eq(customerUpdates.incidentId, incidentId), eq(customerUpdates.state, 'published'), eq(customerUpdates.isPostmortem, true)))
      .orderBy(desc(customerUpdates.displayAt), desc(customerUpdates.id))
      .limit(1),
  );
  return row ? toDraftRow(row) : undefined;
}

/** Keeps the latest internal markdown draft of an incident's postmortem. */
export async function savePostmortemMarkdown(tx: Tx, incidentId: number, markdown: string, at: number): Promise<void> {
  const { postmortems } = tablesOf(tx);
  await tx
    .insert(postmortems)
    .values({ incidentId, markdown, updatedAt: at })
    .onConflictDoUpdate({ target: postmortems.incidentId, set: { markdown, updatedAt: at } });
}

/** Stores the approved public postmortem, shown above the updates on the incident's page. */
export async function savePublicPostmortem(tx: Tx, incidentId: number, body: string, publishedAt: number, at: number): Promise<void> {
  const { postmortems } = tablesOf(tx);
  await tx
    .insert(postmortems)
    .values({ incidentId, markdown: '', publicBody: body, publishedAt, updatedAt: at })
    .onConflictDoUpdate({ target: postmortems.incidentId, set: { publicBody: body, publishedAt, updatedAt: at } });
}
