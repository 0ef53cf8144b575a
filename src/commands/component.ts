import { asc, eq, sql } from 'drizzle-orm';
import { components } from '../../db/schema.js';
import { slugify } from '../domain/components.js';
import { SitrepError } from '../domain/errors.js';
import { statusLabel } from '../render/incident.js';
import type { CommandContext, Reply } from './context.js';
import type { Command } from './grammar.js';
import { componentsBySlug, requireAdmin } from './store.js';

export function component(ctx: CommandContext, cmd: Extract<Command, { verb: 'component' }>): Reply {
  switch (cmd.action) {
    case 'list': {
      const rows = ctx.db.select().from(components).orderBy(asc(components.position)).all();
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
      return ctx.db.transaction((tx) => {
        const existing = tx.select().from(components).where(eq(components.slug, slug)).get();
        if (existing) throw new SitrepError('CONFLICT', `component ${slug} already exists ("${existing.name}")`);
        const pos =
          tx
            .select({ m: sql<number>`coalesce(max(${components.position}), 0)` })
            .from(components)
            .get()?.m ?? 0;
        const now = ctx.now();
        tx.insert(components)
          .values({ slug, name: cmd.name, groupName: cmd.group ?? null, position: pos + 1, createdAt: now, updatedAt: now })
          .run();
        return { text: `Component ${cmd.name} added as ${slug}.`, data: { slug, name: cmd.name, group: cmd.group ?? null, status: 'operational' } };
      });
    }
    case 'map': {
      requireAdmin(ctx, 'manage components');
      return ctx.db.transaction((tx) => {
        const comp = componentsBySlug(tx, [cmd.slug]).get(cmd.slug)!;
        tx.update(components).set({ statuspageId: cmd.statuspageId, updatedAt: ctx.now() }).where(eq(components.id, comp.id)).run();
        return { text: `${comp.name} maps to Statuspage component ${cmd.statuspageId}.`, data: { slug: comp.slug, statuspage_id: cmd.statuspageId } };
      });
    }
  }
}
