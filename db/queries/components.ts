import { and, asc, eq, inArray, isNotNull, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { components, incidentComponents } from '../schema.js';
import type { ComponentRow } from './incidents.js';

/** The whole component catalogue, in its display order. */
export async function listComponents(db: DbOrTx): Promise<ComponentRow[]> {
  return db.select().from(components).orderBy(asc(components.position)).all();
}

/** The ids of the components an incident affects publicly (those given a public status). */
export async function publiclyAffectedComponentIds(db: DbOrTx, incidentId: number): Promise<number[]> {
  const ic = incidentComponents;
  return db
    .select({ componentId: ic.componentId })
    .from(ic)
    .where(and(eq(ic.incidentId, incidentId), isNotNull(ic.publicStatus)))
    .all()
    .map((r) => r.componentId);
}

/** The Statuspage component ids `component map` gave these components (those given one). */
export async function statuspageIdsBySlug(db: DbOrTx, slugs: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!slugs.length) return out;
  for (const m of db.select({ slug: components.slug, id: components.statuspageId }).from(components).where(inArray(components.slug, slugs)).all())
    if (m.id) out.set(m.slug, m.id);
  return out;
}

/** The catalogue's slugs and names, in display order. */
export async function componentNames(db: DbOrTx): Promise<{ slug: string; name: string }[]> {
  return db.select({ slug: components.slug, name: components.name }).from(components).orderBy(asc(components.position)).all();
}

export async function findComponentBySlug(db: DbOrTx, slug: string): Promise<ComponentRow | undefined> {
  return db.select().from(components).where(eq(components.slug, slug)).get();
}

/** The highest position in the catalogue (0 when it is empty). */
export async function lastComponentPosition(db: DbOrTx): Promise<number> {
  return (
    db
      .select({ m: sql<number>`coalesce(max(${components.position}), 0)` })
      .from(components)
      .get()?.m ?? 0
  );
}

export async function insertComponent(
  db: DbOrTx,
  c: { slug: string; name: string; groupName: string | null; position: number; createdAt: number; updatedAt: number },
): Promise<void> {
  db.insert(components).values(c).run();
}

export async function setComponentStatuspageId(db: DbOrTx, id: number, statuspageId: string, updatedAt: number): Promise<void> {
  db.update(components).set({ statuspageId, updatedAt }).where(eq(components.id, id)).run();
}
