import { findComponentBySlug, insertComponent, lastComponentPosition, listComponents, setComponentStatuspageId } from '../../db/queries/components.js';
import { slugify } from '../domain/components.js';
import { SitrepError } from '../domain/errors.js';
import { statusLabel } from '../render/incident.js';
import type { CommandContext, Reply } from './context.js';
import type { Command } from './grammar.js';
import { requireAdmin } from './store.js';
import { componentsBySlug } from '../../db/queries/incidents.js';

export async function component(ctx: CommandContext, cmd: Extract<Command, { verb: 'component' }>): Promise<Reply> {
  switch (cmd.action) {
    case 'list': {
      const rows = await ctx.store.read((db) => listComponents(db));
      const list = rows.map((r) => ({ slug: r.slug, name: r.name, group: r.groupName, status: r.status, public_status: r.publicStatus }));
      const text = rows.length
        ? rows.map((r) => `${r.slug.padEnd(24)} ${r.name}${r.groupName ? ` [${r.groupName}]` : ''}: ${statusLabel(r.status)}`).join('\n')
        : 'The catalogue is empty; add one with `component add <name>`.';
      return { text, data: { components: list } };
    }
    case 'add': {
      requireAdmin(ctx, 'manage components');
      const slug = slugify(cmd.name);
      if (!slug) throw new SitrepError('INVALID', `"${cmd.name}" has no letters or digits to make a slug from`);
      return ctx.store.transaction(async (tx) => {
        const existing = await findComponentBySlug(tx, slug);
        if (existing) throw new SitrepError('CONFLICT', `component ${slug} already exists ("${existing.name}")`);
        const pos = await lastComponentPosition(tx);
        const now = ctx.now();
        await insertComponent(tx, { slug, name: cmd.name, groupName: cmd.group ?? null, position: pos + 1, createdAt: now, updatedAt: now });
        return { text: `Component ${cmd.name} added as ${slug}.`, data: { slug, name: cmd.name, group: cmd.group ?? null, status: 'operational' } };
      });
    }
    case 'map': {
      requireAdmin(ctx, 'manage components');
      return ctx.store.transaction(async (tx) => {
        const comp = (await componentsBySlug(tx, [cmd.slug])).get(cmd.slug)!;
        await setComponentStatuspageId(tx, comp.id, cmd.statuspageId, ctx.now());
        return { text: `${comp.name} maps to Statuspage component ${cmd.statuspageId}.`, data: { slug: comp.slug, statuspage_id: cmd.statuspageId } };
      });
    }
  }
}
