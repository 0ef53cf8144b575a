import type { ReadConn } from '../../db/store.js';
import { deleteTemplate, findTemplate, insertTemplate, listTemplates } from '../../db/queries/templates.js';
import type { IncidentStatus } from '../domain/enums.js';
import { SitrepError } from '../domain/errors.js';
import type { CommandContext, Reply } from './context.js';
import type { Command } from './grammar.js';
import { MAX_CUSTOMER_TEXT } from './grammar.js';
import { nearest } from './tokenize.js';
import { requireAdmin } from './store.js';
import { incidentComponentRows, type IncidentRow } from '../../db/queries/incidents.js';

/** Starting texts in the voice status pages use; a team's own template of the same name wins. */
export const BUILT_IN_TEMPLATES: Readonly<Record<IncidentStatus, string>> = {
  investigating: 'We are currently investigating reports of problems with {{components}}. We will post an update as soon as we know more.',
  identified: 'The issue affecting {{components}} has been identified and a fix is being implemented.',
  monitoring: 'A fix has been implemented for the issue affecting {{components}}, and we are monitoring the results.',
  resolved: 'This incident has been resolved and {{components}} are operating normally. We apologise for the disruption. — {{org}}',
};

const isBuiltIn = (name: string): name is IncidentStatus => Object.hasOwn(BUILT_IN_TEMPLATES, name);

/** "Web App", "Web App and SMS Routing", "Web App, Mobile Apps, and SMS Routing" (catalogue order). */
export function joinNames(names: string[]): string {
  if (names.length <= 1) return names[0] ?? '';
  if (names.length === 2) return `${names[0]} and ${names[1]}`;
  return `${names.slice(0, -1).join(', ')}, and ${names.at(-1)}`;
}

async function lookup(tx: ReadConn, name: string): Promise<{ body: string; status: IncidentStatus | null }> {
  const own = await findTemplate(tx, name);
  if (own) return { body: own.body, status: own.status };
  if (isBuiltIn(name)) return { body: BUILT_IN_TEMPLATES[name], status: name };
  const names = [...Object.keys(BUILT_IN_TEMPLATES), ...(await listTemplates(tx)).map((t) => t.name)];
  const guess = nearest(name, names);
  throw new SitrepError('NOT_FOUND', `there is no template "${name}"${guess ? `; did you mean template:${guess}?` : ''} (\`template list\`)`);
}

/** The status a template implies, so `draft template:identified` needs no status: of its own. */
export async function templateStatus(tx: ReadConn, name: string): Promise<IncidentStatus | null> {
  return (await lookup(tx, name)).status;
}

/** Fills {{title}}, {{components}} and {{org}}; text typed after the template is added as a paragraph. */
export async function renderTemplate(
  tx: ReadConn,
  ctx: CommandContext,
  name: string,
  inc: IncidentRow,
  _status: IncidentStatus,
  extra: string,
): Promise<string> {
  const { body } = await lookup(tx, name);
  const affected = (await incidentComponentRows(tx, inc.id)).filter((c) => c.status !== 'operational');
  const components = affected.length ? joinNames(affected.map((c) => c.name)) : 'our services';
  const filled = body.replace(/\{\{\s*(title|components|org)\s*\}\}/g, (_m, key: string) =>
    key === 'title' ? inc.title : key === 'components' ? components : ctx.policy.orgName,
  );
  const text = extra.trim() ? `${filled}\n\n${extra.trim()}` : filled;
  if (text.length > MAX_CUSTOMER_TEXT) throw new SitrepError('INVALID', `the text is ${text.length} characters; the limit is ${MAX_CUSTOMER_TEXT}`);
  return text;
}

export async function template(ctx: CommandContext, cmd: Extract<Command, { verb: 'template' }>): Promise<Reply> {
  switch (cmd.action) {
    case 'list': {
      const own = await ctx.store.read((db) => listTemplates(db));
      const ownNames = new Set(own.map((t) => t.name));
      const list = [
        ...Object.entries(BUILT_IN_TEMPLATES)
          .filter(([n]) => !ownNames.has(n))
          .map(([name, body]) => ({ name, status: name, body, built_in: true })),
        ...own.map((t) => ({ name: t.name, status: t.status, body: t.body, built_in: false })),
      ];
      return {
        text: list.map((t) => `${t.name}${t.built_in ? ' (built-in)' : ''}${t.status ? ` [${t.status}]` : ''}: ${t.body}`).join('\n'),
        data: { templates: list },
      };
    }
    case 'add': {
      requireAdmin(ctx, 'manage templates');
      const unknown = [...cmd.text.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)].map((m) => m[1]).filter((k) => !['title', 'components', 'org'].includes(k!));
      if (unknown.length) throw new SitrepError('INVALID', `unknown placeholder {{${unknown[0]}}}; use {{title}}, {{components}} or {{org}}`);
      return ctx.store.transaction(async (tx) => {
        if (await findTemplate(tx, cmd.name)) {
          throw new SitrepError('CONFLICT', `template ${cmd.name} already exists; \`template remove ${cmd.name}\` first`);
        }
        await insertTemplate(tx, { name: cmd.name, status: cmd.status ?? null, body: cmd.text, createdBy: ctx.actor, createdAt: ctx.now() });
        return {
          text: `Template ${cmd.name} added${isBuiltIn(cmd.name) ? ' (it replaces the built-in one)' : ''}; use it with \`draft template:${cmd.name}\`.`,
          data: { name: cmd.name, status: cmd.status ?? null, body: cmd.text },
        };
      });
    }
    case 'remove': {
      requireAdmin(ctx, 'manage templates');
      return ctx.store.transaction(async (tx) => {
        if (!(await findTemplate(tx, cmd.name))) {
          throw new SitrepError(
            isBuiltIn(cmd.name) ? 'CONFLICT' : 'NOT_FOUND',
            isBuiltIn(cmd.name)
              ? `${cmd.name} is a built-in template and cannot be removed`
              : `there is no template "${cmd.name}" of your own (\`template list\`)`,
          );
        }
        await deleteTemplate(tx, cmd.name);
        return { text: `Template ${cmd.name} removed.`, data: { name: cmd.name, removed: true } };
      });
    }
  }
}
