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
