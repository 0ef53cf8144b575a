import { and, asc, eq, isNotNull } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { components, incidentComponents } from '../schema.js';
import type { ComponentRow } from './incidents.js';

/** The whole component catalogue, in its display order. */
export function listComponents(db: DbOrTx): ComponentRow[] {
  return db.select().from(components).orderBy(asc(components.position)).all();
}

/** The ids of the components an incident affects publicly (those given a public status). */
export function publiclyAffectedComponentIds(db: DbOrTx, incidentId: number): number[] {
  const ic = incidentComponents;
  return db
    .select({ componentId: ic.componentId })
    .from(ic)
    .where(and(eq(ic.incidentId, incidentId), isNotNull(ic.publicStatus)))
    .all()
    .map((r) => r.componentId);
}
