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

export function findTemplate(db: DbOrTx, name: string): TemplateRow | undefined {
  return db.select(columns).from(templates).where(eq(templates.name, name)).get();
}

/** Every template of the organisation's own, by name. */
export function listTemplates(db: DbOrTx): TemplateRow[] {
  return db.select(columns).from(templates).orderBy(asc(templates.name)).all();
}

export function insertTemplate(tx: Tx, t: TemplateRow & { createdBy: string; createdAt: number }): void {
  tx.insert(templates).values({ name: t.name, status: t.status, body: t.body, createdBy: t.createdBy, createdAt: t.createdAt }).run();
}

export function deleteTemplate(tx: Tx, name: string): void {
  tx.delete(templates).where(eq(templates.name, name)).run();
}
