import { asc, eq } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../client.js';
import { first, tablesOf, type Tables } from '../engine.js';
import type { IncidentStatus } from '../../src/domain/enums.js';

// Customer-text templates of the organisation's own (the built-in ones live in src/commands).

export interface TemplateRow {
  name: string;
  status: IncidentStatus | null;
  body: string;
}

const columns = (templates: Tables['templates']) => ({ name: templates.name, status: templates.status, body: templates.body });

export async function findTemplate(db: DbOrTx, name: string): Promise<TemplateRow | undefined> {
  const { templates } = tablesOf(db);
  return first(db.select(columns(templates)).from(templates).where(eq(templates.name, name)));
}

/** Every template of the organisation's own, by name. */
export async function listTemplates(db: DbOrTx): Promise<TemplateRow[]> {
  const { templates } = tablesOf(db);
  return db.select(columns(templates)).from(templates).orderBy(asc(templates.name));
}

export async function insertTemplate(tx: Tx, t: TemplateRow & { createdBy: string; createdAt: number }): Promise<void> {
  await tx.insert(tablesOf(tx).templates).values({ name: t.name, status: t.status, body: t.body, createdBy: t.createdBy, createdAt: t.createdAt });
}

export async function deleteTemplate(tx: Tx, name: string): Promise<void> {
  const { templates } = tablesOf(tx);
  await tx.delete(templates).where(eq(templates.name, name));
}
