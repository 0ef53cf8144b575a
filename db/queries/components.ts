import { and, asc, eq, inArray, isNotNull, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.js';
import { first, tablesOf } from '../engine.js';
import type { ComponentRow } from './incidents.js';

/** The whole component catalogue, in its display order. */
export async function listComponents(db: DbOrTx): Promise<ComponentRow[]> {
  const { components } = tablesOf(db);
  return db.select().from(components).orderBy(asc(components.position));
}

/** The ids of the components an incident affects publicly (those given a public status). */
export async function publiclyAffectedComponentIds(db: DbOrTx, incidentId: number): Promise<number[]> {
  const ic = tablesOf(db).incidentComponents;
  return (
    await db
      .select({ componentId: ic.componentId })
      .from(ic)
      .where(and(eq(ic.incidentId, incidentId), isNotNull(ic.publicStatus)))
  ).map((r) => r.componentId);
}

/** The Statuspage component ids `component map` gave these components (those given one). */
export async function statuspageIdsBySlug(db: DbOrTx, slugs: string[]): Promise<Map<string, string>> {
  const { components } = tablesOf(db);
  const out = new Map<string, string>();
  if (!slugs.length) return out;
  for (const m of await db.select({ slug: components.slug, id: components.statuspageId }).from(components).where(inArray(components.slug, slugs)))
    if (m.id) out.set(m.slug, m.id);
  return out;
}

/** The catalogue's slugs and names, in display order. */
export async function componentNames(db: DbOrTx): Promise<{ slug: string; name: string }[]> {
  const { components } = tablesOf(db);
  return db.select({ slug: components.slug, name: components.name }).from(components).orderBy(asc(components.position));
}

export async function findComponentBySlug(db: DbOrTx, slug: string): Promise<ComponentRow | undefined> {
  const { components } = tablesOf(db);
  return first(db.select().from(components).where(eq(components.slug, slug)));
}

/** The highest position in the catalogue (0 when it is empty). */
export async function lastComponentPosition(db: DbOrTx): Promise<number> {
  const { components } = tablesOf(db);
  return (await first(db.select({ m: sql<number>`coalesce(max(${components.position}), 0)`.mapWith(Number) }).from(components)))?.m ?? 0;
}

export async function insertComponent(
  db: DbOrTx,
  c: { slug: string; name: string; groupName: string | null; position: number; createdAt: number; updatedAt: number },
): Promise<void> {
  await db.insert(tablesOf(db).components).values(c);
}

export async function setComponentStatuspageId(db: DbOrTx, id: number, statuspageId: string, updatedAt: number): Promise<void> {
  const { components } = tablesOf(db);
  await db.update(components).set({ statuspageId, updatedAt }).where(eq(components.id, id));
}
