import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderApi } from '../../src/statuspage/api-v2.js';
import {
  maintenanceDocument,
  maintenanceJson,
  summaryScheduledMaintenances,
  type MaintenanceApiPath,
  type PublicMaintenance,
  type PublicMaintenanceUpdate,
} from '../../src/statuspage/maintenance-json.js';
import type { PublicComponent, PublicState } from '../../src/statuspage/model.js';
import type { MaintenanceStatus } from '../../src/domain/enums.js';
import { FIXTURES, compareShape } from './support.js';

// The maintenance documents of /api/v2 against real Statuspage responses (test/fixtures/statuspage/v2,
// see test/fixtures/README.md): the same keys and JSON types at every level, Statuspage's timestamps
// and enums. The reference's maintenance has no components and null affected_components, and its
// upcoming and active lists are empty, so those parts are held against the nearest reference that
// has them: a component of components.json, an affected component of incidents.json, and the
// maintenance of scheduled-maintenances.json for every item of every list.

const ref = (file: string) => JSON.parse(readFileSync(`${FIXTURES}statuspage/v2/${file}`, 'utf8'));
const REF = {
  maintenances: ref('discord_scheduled-maintenances.json'),
  upcoming: ref('discord_scheduled-maintenances_upcoming.json'),
  active: ref('discord_scheduled-maintenances_active.json'),
  summary: ref('discord_summary.json'),
  components: ref('discord_components.json'),
  incidents: ref('discord_incidents.json'),
};
const REF_MAINTENANCE = REF.maintenances.scheduled_maintenances[0];
const REF_COMPONENT = REF.components.components[0];
const REF_AFFECTED = REF.incidents.incidents[0].incident_updates[0].affected_components[0];

const ZONE = 'America/Los_Angeles';
const H = 3_600_000;
const T = Date.parse('2021-12-07T18:00:00Z'); // 10:00 PST

function component(id: number, name: string, position: number): PublicComponent {
  return {
    id,
    code: name.toLowerCase().replace(/ /g, '-'),
    name,
    group: null,
    position,
    description: null,
    status: 'operational',
    createdAt: T - 100 * H,
    updatedAt: T - 10 * H,
    uptime: { days: [], percent: 100 },
  };
}

const state: PublicState = {
  builtAt: T,
  fingerprint: 'f',
  validUntil: T + 24 * H,
  orgName: 'Spruce Health',
  zone: ZONE,
  publicUrl: 'https://status.spruce.example',
  pageId: 'spruce-health',
  updatedAt: T,
  components: [component(1, 'Web App', 1), component(2, 'API', 2), component(3, 'SMS Routing', 3)],
  incidents: [],
  archivedIncidentIds: new Set(),
  maintenances: [],
  archivedMaintenanceIds: new Set(),
  indicator: 'none',
  description: 'All Systems Operational',
  historyDays: [],
};

let nextUpdate = 1;
function update(status: MaintenanceStatus, at: number, body = `${status} text`): PublicMaintenanceUpdate {
  const id = nextUpdate++;
  return { id, ref: `D-${id}`, status, body, displayAt: at, publishedAt: at + 1000 };
}

/** A maintenance whose updates are given oldest first (stored newest first, as the model has them). */
function maintenance(
  id: number,
  status: MaintenanceStatus,
  scheduledFor: number,
  updates: PublicMaintenanceUpdate[],
  componentIds = [2, 1],
): PublicMaintenance {
  return {
    id,
    ref: `M-${id}`,
    title: `Maintenance ${id}`,
    status,
    scheduledFor,
    scheduledUntil: scheduledFor + 2 * H,
    componentIds,
    updates: [...updates].reverse(),
  };
}

const done = maintenance(1, 'completed', T - 48 * H, [
  update('scheduled', T - 72 * H, 'We will upgrade the database.'),
  update('in_progress', T - 48 * H),
  update('verifying', T - 47 * H),
  update('completed', T - 46 * H),
]);
const running = maintenance(2, 'in_progress', T - H, [update('scheduled', T - 24 * H), update('in_progress', T - H)], [3]);
const upcoming = maintenance(3, 'scheduled', T + 24 * H, [update('scheduled', T - 2 * H)]);
const cancelled = maintenance(4, 'cancelled', T + 48 * H, [
  update('scheduled', T - 3 * H),
  update('cancelled', T - H, 'The scheduled maintenance has been cancelled.'),
]);
const unannounced = maintenance(5, 'scheduled', T + 12 * H, []);
const soonerUpcoming = maintenance(6, 'scheduled', T + 6 * H, [update('scheduled', T - 30 * 60_000)], []);
const ALL = [done, running, upcoming, cancelled, unannounced, soonerUpcoming];

const listed = (path: MaintenanceApiPath) => maintenanceDocument(state, ALL, path).scheduled_maintenances.map((m) => m.id);

/** Every maintenance, component and affected component in `doc` held against its reference. */
function shapeProblems(doc: { scheduled_maintenances: Array<ReturnType<typeof maintenanceJson>> }, path: string): string[] {
  const problems: string[] = [];
  doc.scheduled_maintenances.forEach((m, i) => {
    const at = `${path}.scheduled_maintenances[${i}]`;
    compareShape(m, REF_MAINTENANCE, at, problems);
    m.components.forEach((c, j) => {
      compareShape(c, REF_COMPONENT, `${at}.components[${j}]`, problems);
    });
    m.incident_updates.forEach((u, j) => {
      u.affected_components.forEach((a, k) => {
        compareShape(a, REF_AFFECTED, `${at}.incident_updates[${j}].affected_components[${k}]`, problems);
      });
    });
  });
  return problems;
}

describe('scheduled maintenance on /api/v2', () => {
  const cases: Array<[MaintenanceApiPath, unknown, string[]]> = [
    ['scheduled-maintenances.json', REF.maintenances, ['M-4', 'M-3', 'M-6', 'M-2', 'M-1']],
    ['scheduled-maintenances/upcoming.json', REF.upcoming, ['M-6', 'M-3']],
    ['scheduled-maintenances/active.json', REF.active, ['M-2']],
  ];

  it.each(cases)('%s has the reference shape and lists %j', (path, reference, ids) => {
    const doc = maintenanceDocument(state, ALL, path);
    expect(compareShape(doc, reference)).toEqual([]);
    expect(shapeProblems(doc, '$')).toEqual([]);
    expect(listed(path)).toEqual(ids);
    // Statuspage's values only: a cancelled maintenance is listed as completed.
    expect(JSON.stringify(doc)).not.toContain('"cancelled"');
  });

  it('puts upcoming and in-progress maintenance in summary.json, in the reference shape', () => {
    const summary = JSON.parse(renderApi({ ...state, maintenances: ALL }, 'summary.json'));
    expect(summary.scheduled_maintenances).toEqual(summaryScheduledMaintenances(state, ALL));
    expect(compareShape(summary, REF.summary)).toEqual([]);
    expect(shapeProblems(summary, '$')).toEqual([]);
    expect(summary.scheduled_maintenances.map((m: { id: string }) => m.id)).toEqual(['M-2', 'M-6', 'M-3']);
  });

  it('is what /api/v2 serves from the public state', () => {
    for (const path of ['scheduled-maintenances.json', 'scheduled-maintenances/upcoming.json', 'scheduled-maintenances/active.json'] as const) {
      expect(JSON.parse(renderApi({ ...state, maintenances: ALL }, path))).toEqual(maintenanceDocument(state, ALL, path));
    }
  });

  it('is empty without maintenance', () => {
    for (const path of ['scheduled-maintenances.json', 'scheduled-maintenances/upcoming.json', 'scheduled-maintenances/active.json'] as const) {
      expect(maintenanceDocument(state, [], path)).toEqual(JSON.parse(renderApi(state, path)));
    }
    expect(summaryScheduledMaintenances(state, [unannounced])).toEqual([]);
  });

  it('renders a maintenance as a Statuspage scheduled incident', () => {
    const m = maintenanceJson(state, done);
    expect(m).toMatchObject({
      id: 'M-1',
      name: 'Maintenance 1',
      status: 'completed',
      impact: 'maintenance',
      shortlink: 'https://status.spruce.example/maintenances/M-1',
      page_id: 'spruce-health',
      // Its window, in the page's zone as Statuspage writes times.
      scheduled_for: '2021-12-05T10:00:00.000-08:00',
      scheduled_until: '2021-12-05T12:00:00.000-08:00',
      created_at: '2021-12-04T10:00:00.000-08:00',
      started_at: '2021-12-04T10:00:00.000-08:00',
      updated_at: '2021-12-05T12:00:00.000-08:00',
      monitoring_at: '2021-12-05T11:00:00.000-08:00',
      resolved_at: '2021-12-05T12:00:00.000-08:00',
    });
    // Newest first, each with its own status and the maintenance's id.
    expect(m.incident_updates.map((u) => [u.status, u.incident_id])).toEqual([
      ['completed', 'M-1'],
      ['verifying', 'M-1'],
      ['in_progress', 'M-1'],
      ['scheduled', 'M-1'],
    ]);
    expect(m.incident_updates.at(-1)).toMatchObject({
      id: 'D-1',
      body: 'We will upgrade the database.',
      display_at: '2021-12-04T10:00:00.000-08:00',
      created_at: '2021-12-04T10:00:01.000-08:00',
    });
    // Its components in catalogue order, as components.json shows them.
    expect(m.components.map((c) => c.id)).toEqual(['web-app', 'api']);
  });

  it('says what each update did to the components: under maintenance while it runs', () => {
    const m = maintenanceJson(state, done);
    const moves = m.incident_updates.map((u) => [u.status, u.affected_components.map((a) => `${a.code}:${a.old_status}→${a.new_status}`)]);
    expect(moves).toEqual([
      ['completed', ['web-app:under_maintenance→operational', 'api:under_maintenance→operational']],
      ['verifying', ['web-app:under_maintenance→under_maintenance', 'api:under_maintenance→under_maintenance']],
      ['in_progress', ['web-app:operational→under_maintenance', 'api:operational→under_maintenance']],
      ['scheduled', ['web-app:operational→operational', 'api:operational→operational']],
    ]);
  });

  it('has no end yet while in progress, and ends a cancelled one with its cancellation notice', () => {
    expect(maintenanceJson(state, running)).toMatchObject({ status: 'in_progress', monitoring_at: null, resolved_at: null });
    expect(maintenanceJson(state, upcoming)).toMatchObject({ status: 'scheduled', monitoring_at: null, resolved_at: null });
    const c = maintenanceJson(state, cancelled);
    expect(c).toMatchObject({ status: 'completed', resolved_at: '2021-12-07T09:00:00.000-08:00' });
    expect(c.incident_updates[0]).toMatchObject({ status: 'completed', body: 'The scheduled maintenance has been cancelled.' });
    expect(c.incident_updates[0]!.affected_components.map((a) => a.new_status)).toEqual(['operational', 'operational']);
  });

  it('lists the 50 most recent in scheduled-maintenances.json', () => {
    const many = Array.from({ length: 60 }, (_, i) => maintenance(100 + i, 'completed', T - (60 - i) * 24 * H, [update('scheduled', T - 70 * 24 * H)]));
    const ids = maintenanceDocument(state, many, 'scheduled-maintenances.json').scheduled_maintenances.map((m) => m.id);
    expect(ids).toHaveLength(50);
    expect(ids[0]).toBe('M-159');
    expect(ids.at(-1)).toBe('M-110');
  });

  it('carries titles and bodies raw', () => {
    const raw = { ...upcoming, title: '<b>DB</b> & "cache"', updates: [update('scheduled', T - H, 'Downtime <5 min> & more')] };
    const m = maintenanceJson(state, raw);
    expect(m.name).toBe('<b>DB</b> & "cache"');
    expect(m.incident_updates[0]!.body).toBe('Downtime <5 min> & more');
  });
});
