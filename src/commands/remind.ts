import { claimReminder, reminderFired, reminderSubjects } from '../../db/queries/reminders.js';
import { incRef } from '../../db/queries/incidents.js';
import { displayUser } from '../domain/actor.js';
import { dueReminders, type DueReminder, type ReminderPolicy } from '../domain/reminders.js';
import { formatDuration } from '../render/time.js';
import type { CommandContext } from './context.js';
import { recordEvent } from './store.js';

// Sends the cadence and monitoring reminders that are due (src/domain/reminders.ts). Each is a
// `reminder` timeline event, so it reaches the incident's thread through the outlets and the
// outbox; the claim (a row per incident, kind and gap) is in the same transaction, so a reminder
// fires once per gap across ticks, restarts and servers.

function reminderText(ref: string, r: DueReminder, roles: { lead: string | null; comms: string | null }): string {
  const gap = formatDuration(r.minutes * 60_000);
  if (r.kind === 'monitoring') {
    return `${ref} has been monitoring for ${gap} (SITREP_MONITORING_NUDGE_HOURS: ${formatDuration(r.allowedMinutes * 60_000)})${roles.lead ? ` — ${displayUser(roles.lead)} (lead)` : ''}: \`resolve ${ref}\` if the fix holds`;
  }
  const who = [
    roles.lead ? `${displayUser(roles.lead)} (lead)` : null,
    roles.comms ? `${displayUser(roles.comms)} (comms)` : 'no comms role yet (`assign comms @user`)',
  ]
    .filter(Boolean)
    .join(', ');
  return `${ref} has had no customer update for ${gap} (its cadence: every ${formatDuration(r.allowedMinutes * 60_000)}) — ${who}: \`draft ${ref} <text>\``;
}

export async function sendReminders(ctx: CommandContext, policy: ReminderPolicy): Promise<number> {
  const now = ctx.now();
  const subjects = await ctx.store.read((db) => reminderSubjects(db));
  let sent = 0;
  for (const inc of subjects) {
    for (const r of dueReminders(inc, now, policy)) {
      const key = { incidentId: inc.id, kind: r.kind, since: r.since };
      if (await ctx.store.read((db) => reminderFired(db, key))) continue;
      await ctx.store.transaction(async (tx) => {
        if (!(await claimReminder(tx, { ...key, at: now }))) return;
        await recordEvent(tx, ctx, {
          incidentId: inc.id,
          kind: 'reminder',
          actor: 'system:sitrep',
          text: reminderText(incRef(inc.id), r, inc),
          payload: { reminder: r.kind, since: r.since, minutes: r.minutes },
        });
        sent++;
      });
    }
  }
  return sent;
}
