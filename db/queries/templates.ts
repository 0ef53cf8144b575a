import { asc, eq } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../client.js';
import { templates } from '../schema.js';
import type { IncidentStatus } from '../../src/domain/enums.js';

// Customer-text templates of the organisation's own (the built-in ones live in src/commands).

export interface TemplateRow {
  name: string;
  status: IncidentStatus | null;
  body: string;
}

const columns = { name: templates.name, status: templates.status, body: templates.body };

export async function findTemplate(db: DbOrTx, name: string): Promise<TemplateRow | undefined> {
  return db.select(columns).from(templates).where(eq(templates.name, name)).get();
}

/** Every template of the organisation's own, by name. */
export async function listTemplates(db: DbOrTx): Promise<TemplateRow[]> {
  return db.select(columns).from(templates).orderBy(asc(templates.name)).all();
}

export async function insertTemplate(tx: Tx, t: TemplateRow & { createdBy: string; createdAt: number }): Promise<void> {
  tx.insert(templates).values({ name: t.name, status: t.status, body: t.body, createdBy: t.createdBy, createdAt: t.createdAt }).run();
}

export async function deleteTemplate(tx: Tx, name: string): Promise<void> {
  tx.delete(templates).where(eq(templates.name, name)).run();
}
