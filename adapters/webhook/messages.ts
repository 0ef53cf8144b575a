import { z } from 'zod';

// Every outbox message the webhook outlet writes and the webhook target delivers: one `kind`, one
// payload shape. The outlet builds these; the target parses the stored row back with the same
// schema. Rows written by older versions stay deliverable: a body or meta that does not read as an
// object is sent as an empty one, as it always was, and a missing update id is sent as null.

const object = z.record(z.string(), z.unknown());

/** A JSON object as stored; anything else reads as an empty one. */
export const storedObject = object.catch({});
/** `body`: the Statuspage-format body, a snapshot taken when the update was published. */
const payload = z.object({ body: storedObject, updateId: z.string().nullable().catch(null) });

export const webhookMessage = z.discriminatedUnion('kind', [
  /** A published customer-facing update (`updateId` D-n); the body lists every update so far. */
  z.object({ kind: z.literal('webhook.incident_update'), payload }),
  /** The postmortem's public part, published. */
  z.object({ kind: z.literal('webhook.postmortem'), payload }),
  /** A scheduled maintenance's published text (`updateId` D-n); the body lists every text so far. */
  z.object({ kind: z.literal('webhook.maintenance_update'), payload }),
]);
export type WebhookMessage = z.infer<typeof webhookMessage>;
