// The queries live in db/queries/views.ts and db/queries/timeline.ts; these names stay for callers
// outside src/commands that still import them from here.
export { draftDecisionOf, loadIncidentView, type DraftDecision } from '../../db/queries/views.js';
export { loadTimeline } from '../../db/queries/timeline.js';
