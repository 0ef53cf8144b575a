import { z } from 'zod';

// Every outbox message the PagerDuty outlet writes and its target sends (Events API v2). The
// routing key is not in them: it is a secret, added by the target when it sends.

export const PAGERDUTY_TARGET = 'pagerduty';

/** PagerDuty's severities; an incident's sev1…sev4 map onto them in order. */
export const PD_SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;

const trigger = z.object({
  /** INC-n: the dedup key, so a repeat (a retry, a second `page`) updates the same alert. */
  incident: z.string(),
  summary: z.string(),
  severity: z.enum(PD_SEVERITIES),
  /** Extra words from `page INC-n <text>` (null for the automatic page at declare). */
  text: z.string().nullable(),
  /** The incident's page for responders (null for a private incident). */
  link: z.string().nullable(),
});

export const pagerDutyMessage = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('pagerduty.trigger'), payload: trigger }),
  z.object({ kind: z.literal('pagerduty.resolve'), payload: z.object({ incident: z.string() }) }),
]);
export type PagerDutyMessage = z.infer<typeof pagerDutyMessage>;
