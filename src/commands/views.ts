import type { DbOrTx } from '../../db/client.js';
import { draftDecisionOf as decisionOf, type DraftDecision } from '../../db/queries/views.js';
import { parseTimelineEvent } from '../domain/events.js';

// The queries live in db/queries/views.ts and db/queries/timeline.ts; these names stay for callers
// outside src/commands that still import them from here.
export { loadIncidentView, type DraftDecision } from '../../db/queries/views.js';
export { loadTimeline } from '../../db/queries/timeline.js';

/** For a `published` or `draft_rejected` event: the draft and who decided (any event shape is checked first). */
export function draftDecisionOf(db: DbOrTx, e: { kind: string; payload: Record<string, unknown> }): DraftDecision | null {
  const typed = parseTimelineEvent(e.kind, e.payload);
  return typed ? decisionOf(db, typed) : null;
}
