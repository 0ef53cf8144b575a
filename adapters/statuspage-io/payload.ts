import { z } from 'zod';
import { COMPONENT_STATUSES, INCIDENT_STATUSES } from '../../src/domain/enums.js';

export const STATUSPAGE_TARGET = 'statuspage';

/**
 * What the outlet writes and the target sends. It carries the whole public state of the incident
 * after the update (every affected component), so each PATCH is complete on its own and a
 * dead-lettered row is caught up by the next one.
 */
export const statuspagePayload = z.object({
  incident: z.string().regex(/^INC-\d+$/),
  name: z.string(),
  status: z.enum(INCIDENT_STATUSES),
  body: z.string(),
  postmortem: z.boolean(),
  components: z.array(z.object({ slug: z.string(), name: z.string(), status: z.enum(COMPONENT_STATUSES) })),
});
export type StatuspagePayload = z.infer<typeof statuspagePayload>;

/** Statuspage's statuses of a scheduled incident (it has no cancelled: that is sent as completed). */
export const STATUSPAGE_MAINTENANCE_STATUSES = ['scheduled', 'in_progress', 'verifying', 'completed'] as const;

/**
 * A scheduled maintenance's published text, mirrored as a Statuspage scheduled incident: the
 * announcement creates it, every later text PATCHes it. Like an incident's row it carries the
 * whole public state after the text (status, window, whether it still moves by itself, its
 * components' public statuses), so each request is complete on its own.
 */
export const statuspageMaintenancePayload = z.object({
  maintenance: z.string().regex(/^M-\d+$/),
  updateId: z.string(),
  name: z.string(),
  status: z.enum(STATUSPAGE_MAINTENANCE_STATUSES),
  body: z.string(),
  /** ISO 8601, UTC. */
  scheduledFor: z.string(),
  scheduledUntil: z.string(),
  autoInProgress: z.boolean(),
  autoCompleted: z.boolean(),
  components: z.array(z.object({ slug: z.string(), name: z.string(), status: z.enum(COMPONENT_STATUSES) })),
});
export type StatuspageMaintenancePayload = z.infer<typeof statuspageMaintenancePayload>;
