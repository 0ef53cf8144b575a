import type { DbOrTx } from '../../db/client.js';
import { listComponents, publiclyAffectedComponentIds } from '../../db/queries/components.js';
import { maintenanceTexts, publishedUpdates } from '../../db/queries/drafts.js';
import { findIncident, openPublicSeverities } from '../../db/queries/incidents.js';
import { loadMaintenanceView } from '../../db/queries/maintenances.js';
import type { ComponentStatus, Severity } from '../../src/domain/enums.js';
import { impactForSeverity, indicatorDescription, overallIndicator } from '../../src/domain/components.js';
import { autoTransitions, componentStatusDuring, statuspageMaintenanceStatus } from '../../src/domain/maintenance.js';

// The webhook body, shaped like Statuspage's subscriber webhooks (shared/reference/statuspage-
// webhooks/zulip_incident_update.json) so tools that read those read ours. Built inside the
// publishing transaction from published data only: internal updates and notes never appear.

export interface BodyOptions {
  publicUrl: string;
  orgName: string;
  now: number;
}

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/** A stored severity (1 to 4 by the grammar) as the domain's type; 1 and 4 bound anything else. */
const severityOf = (n: number): Severity => (n <= 1 ? 1 : n === 2 ? 2 : n === 3 ? 3 : 4);

export const pageIdOf = (orgName: string) =>
  orgName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '') || 'sitrep';

type CatalogueComponent = Awaited<ReturnType<typeof listComponents>>[number];

/** A component as Statuspage's webhook lists it, in `status`. */
const componentJson = (pageId: string, c: CatalogueComponent, status: ComponentStatus) => ({
  status,
  name: c.name,
  created_at: iso(c.createdAt),
  updated_at: iso(c.updatedAt),
  position: c.position,
  description: c.description,
  showcase: true,
  id: c.slug,
  page_id: pageId,
  group_id: c.groupName,
});

/** `meta` and `page`: the same for every body (the target stamps `generated_at` again when it sends). */
async function envelope(db: DbOrTx, catalogue: readonly CatalogueComponent[], opts: BodyOptions) {
  const openPublic = await openPublicSeverities(db);
  const indicator = overallIndicator(
    catalogue.map((c) => c.publicStatus),
    openPublic.map((s) => impactForSeverity(severityOf(s))),
  );
  return {
    meta: {
      unsubscribe: null,
      documentation: `${opts.publicUrl}/`,
      generated_at: iso(opts.now),
    },
    page: {
      id: pageIdOf(opts.orgName),
      status_indicator: indicator,
      status_description: indicatorDescription(indicator),
    },
  };
}

export async function buildIncidentWebhookBody(db: DbOrTx, incidentId: number, opts: BodyOptions): Promise<Record<string, unknown>> {
  const inc = await findIncident(db, incidentId);
  if (!inc) throw new Error(`no incident ${incidentId}`);
  const pageId = pageIdOf(opts.orgName);
  const incRef = `INC-${inc.id}`;

  const catalogue = await listComponents(db);
  const bySlug = new Map(catalogue.map((c) => [c.slug, c]));
  const toComponent = (c: CatalogueComponent, status: ComponentStatus) => componentJson(pageId, c, status);

  // Oldest first to know each update's old_status, then reversed: Statuspage lists newest first.
  const published = await publishedUpdates(db, incidentId);
  const seen = new Map<string, string>();
  const updates = published.map((u) => {
    const affected = u.componentChanges.map((ch) => {
      const old = seen.get(ch.slug) ?? 'operational';
      const next = u.status === 'resolved' ? 'operational' : ch.status;
      seen.set(ch.slug, next);
      return { code: ch.slug, name: bySlug.get(ch.slug)?.name ?? ch.slug, old_status: old, new_status: next };
    });
    return {
      status: u.status,
      body: u.body,
      created_at: iso(u.publishedAt ?? u.createdAt),
      wants_twitter_update: false,
      twitter_updated_at: null,
      updated_at: iso(u.publishedAt ?? u.createdAt),
      display_at: iso(u.displayAt),
      affected_components: affected,
      custom_tweet: null,
      deliver_notifications: true,
      id: `D-${u.id}`,
      incident_id: incRef,
    };
  });
  updates.reverse();

  const affectedIds = new Set(await publiclyAffectedComponentIds(db, incidentId));
  const incidentComponentsOut = catalogue.filter((c) => affectedIds.has(c.id)).map((c) => toComponent(c, c.publicStatus));

  const last = published.at(-1);
  const publicStatus = inc.publicStatus ?? last?.status ?? inc.status;
  const resolvedAt = publicStatus === 'resolved' ? (published.filter((u) => u.status === 'resolved').at(-1)?.displayAt ?? inc.resolvedAt) : null;
  const monitoringAt = published.find((u) => u.status === 'monitoring')?.displayAt ?? null;

  return {
    ...(await envelope(db, catalogue, opts)),
    incident: {
      name: inc.title,
      status: publicStatus,
      created_at: iso(inc.publishedAt ?? inc.declaredAt),
      updated_at: iso(last?.publishedAt ?? inc.updatedAt),
      monitoring_at: iso(monitoringAt),
      resolved_at: iso(resolvedAt),
      impact: impactForSeverity(severityOf(inc.severity)),
      shortlink: `${opts.publicUrl}/incidents/${incRef}`,
      postmortem_ignored: false,
      postmortem_body: null,
      postmortem_body_last_updated_at: null,
      postmortem_published_at: null,
      postmortem_notified_subscribers: false,
      postmortem_notified_twitter: false,
      backfilled: false,
      scheduled_for: null,
      scheduled_until: null,
      scheduled_remind_prior: false,
      scheduled_reminded_at: null,
      impact_override: null,
      scheduled_auto_in_progress: false,
      scheduled_auto_completed: false,
      id: incRef,
      page_id: pageId,
      incident_updates: updates,
      components: incidentComponentsOut,
    },
  };
}

/**
 * A scheduled maintenance's body: Statuspage sends a maintenance as an incident with
 * `impact: "maintenance"`, its window in `scheduled_for`/`scheduled_until`, its automatic
 * transitions in `scheduled_auto_in_progress`/`scheduled_auto_completed`, and its statuses
 * (scheduled, in_progress, verifying, completed; Statuspage has no cancelled, so a cancelled one is
 * completed, its cancellation notice the newest update). Published texts only, newest first, each
 * saying what it did to the maintenance's components; the components in their public status now.
 */
export async function buildMaintenanceWebhookBody(db: DbOrTx, maintenanceId: number, opts: BodyOptions): Promise<Record<string, unknown>> {
  const m = await loadMaintenanceView(db, maintenanceId);
  const pageId = pageIdOf(opts.orgName);
  const catalogue = await listComponents(db);
  const held = new Set(m.components.map((c) => c.id));
  const mine = catalogue.filter((c) => held.has(c.id));

  // Oldest first (as the page and the API order them) to know each text's old status, then newest first.
  const texts = (await maintenanceTexts(db, maintenanceId, 'published')).sort((a, b) => a.displayAt - b.displayAt || a.id - b.id);
  let before: ComponentStatus = 'operational';
  const updates = texts.map((t) => {
    const after = componentStatusDuring(t.maintenanceStatus);
    const affected = mine.map((c) => ({ code: c.slug, name: c.name, old_status: before, new_status: after }));
    before = after;
    const at = t.publishedAt ?? t.createdAt;
    return {
      status: statuspageMaintenanceStatus(t.maintenanceStatus),
      body: t.body,
      created_at: iso(at),
      wants_twitter_update: false,
      twitter_updated_at: null,
      updated_at: iso(at),
      display_at: iso(t.displayAt),
      affected_components: affected,
      custom_tweet: null,
      deliver_notifications: true,
      id: `D-${t.id}`,
      incident_id: m.ref,
    };
  });
  updates.reverse();

  const first = texts[0];
  const last = texts.at(-1);
  const status = m.publicStatus ?? last?.maintenanceStatus ?? 'scheduled';
  const ended = status === 'completed' || status === 'cancelled' ? last : undefined;
  const verifying = texts.find((t) => t.maintenanceStatus === 'verifying');
  const auto = autoTransitions(m);
  return {
    ...(await envelope(db, catalogue, opts)),
    incident: {
      name: m.title,
      status: statuspageMaintenanceStatus(status),
      created_at: iso(first?.publishedAt ?? m.recordedAt),
      updated_at: iso(last?.publishedAt ?? m.updatedAt),
      monitoring_at: iso(verifying?.displayAt),
      resolved_at: iso(ended?.displayAt),
      impact: 'maintenance',
      shortlink: `${opts.publicUrl}/maintenances/${m.ref}`,
      postmortem_ignored: false,
      postmortem_body: null,
      postmortem_body_last_updated_at: null,
      postmortem_published_at: null,
      postmortem_notified_subscribers: false,
      postmortem_notified_twitter: false,
      backfilled: false,
      scheduled_for: iso(m.startsAt),
      scheduled_until: iso(m.endsAt),
      // Sitrep sends no reminders of its own before the window.
      scheduled_remind_prior: false,
      scheduled_reminded_at: null,
      impact_override: null,
      // Whether it will still move by itself (src/domain/maintenance.ts).
      scheduled_auto_in_progress: auto.autoInProgress,
      scheduled_auto_completed: auto.autoCompleted,
      id: m.ref,
      page_id: pageId,
      incident_updates: updates,
      components: mine.map((c) => componentJson(pageId, c, c.publicStatus)),
    },
  };
}
