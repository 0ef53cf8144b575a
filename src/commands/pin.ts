import type { CommandContext, Reply } from './context.js';
import { recordEvent, touchIncident } from './store.js';

// 📌 on a chat message in an incident's thread: the message goes on the timeline with its author
// and its time. Nobody types it, so it is not in the command language; a surface finds the
// message and the incident, and runs this through the runner like any other verb.

export interface Pin {
  incidentId: number;
  /** Who wrote the pinned message (the event's actor); whoever pinned it is the context's actor. */
  author: string;
  /** When the message was posted: the event happened then (never later than now). */
  postedAt: number;
  text: string;
  /** Where the message lives, kept on the event (e.g. { source: 'slack', channel, ts }). */
  source: Record<string, unknown>;
}

export async function pin(ctx: CommandContext, p: Pin): Promise<Reply> {
  return ctx.store.transaction(async (tx) => {
    await recordEvent(tx, ctx, {
      incidentId: p.incidentId,
      kind: 'pinned',
      actor: p.author,
      occurredAt: Math.min(p.postedAt, ctx.now()),
      text: p.text,
      payload: { ...p.source, pinnedBy: ctx.actor },
    });
    await touchIncident(tx, ctx, p.incidentId);
    return { text: '', data: {} };
  });
}
