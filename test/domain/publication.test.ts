import { describe, expect, it } from 'vitest';
import { COMPONENT_STATUSES, INCIDENT_STATUSES, type ComponentStatus, type IncidentStatus } from '../../src/domain/enums.js';
import {
  announcedComponents,
  componentStatusUnder,
  componentsReleasedTo,
  planPublication,
  publicComponents,
  setsComponents,
} from '../../src/domain/publication.js';

const OPEN: readonly IncidentStatus[] = ['investigating', 'identified', 'monitoring'];

describe('the publication rule: component status under an incident status', () => {
  const cases = INCIDENT_STATUSES.flatMap((inc) =>
    COMPONENT_STATUSES.map((comp): [IncidentStatus, ComponentStatus, ComponentStatus] => [inc, comp, inc === 'resolved' ? 'operational' : comp]),
  );
  it.each(cases)('under %s, %s shows as %s', (inc, comp, shown) => {
    expect(componentStatusUnder(inc, comp)).toBe(shown);
    expect(announcedComponents(inc, [{ slug: 'web', status: comp }])).toEqual([{ slug: 'web', status: shown }]);
  });

  it.each(INCIDENT_STATUSES.map((s): [IncidentStatus, ComponentStatus | null, boolean] => [s, s === 'resolved' ? 'operational' : null, s !== 'resolved']))(
    'entering %s releases components to %s; sets its own: %s',
    (status, released, sets) => {
      expect(componentsReleasedTo(status)).toBe(released);
      expect(setsComponents(status)).toBe(sets);
    },
  );

  it('keeps the other fields of what it maps', async () => {
    expect(announcedComponents('resolved', [{ slug: 'sms', name: 'SMS', status: 'major_outage' as ComponentStatus }])).toEqual([
      { slug: 'sms', name: 'SMS', status: 'operational' },
    ]);
  });

  it.each(INCIDENT_STATUSES)('public components under %s: only those with a public status', (status) => {
    const rows = [
      { slug: 'web', publicStatus: 'partial_outage' as ComponentStatus | null },
      { slug: 'api', publicStatus: null },
    ];
    expect(publicComponents(status, rows)).toEqual([
      { slug: 'web', publicStatus: 'partial_outage', status: status === 'resolved' ? 'operational' : 'partial_outage' },
    ]);
  });
});

describe('planPublication: incident statuses × announced statuses × components', () => {
  const componentSets: Array<[string, Array<{ slug: string; status: ComponentStatus }>]> = [
    ['no components', []],
    ['one degraded', [{ slug: 'web', status: 'degraded_performance' }]],
    [
      'one major, one maintenance',
      [
        { slug: 'web', status: 'major_outage' },
        { slug: 'sms', status: 'under_maintenance' },
      ],
    ],
  ];
  const cases = INCIDENT_STATUSES.flatMap((from) =>
    INCIDENT_STATUSES.flatMap((announced) => componentSets.map(([label, comps]) => [from, announced, label, comps] as const)),
  );

  it.each(cases)('incident %s, update announces %s with %s', (from, announced, _label, comps) => {
    // The incident already affects `web` and `db`; `db` is not named by the update.
    const plan = planPublication({
      incident: { status: from, components: ['web', 'db'] },
      update: { status: announced, components: comps, postmortem: false },
    });
    const legalStep =
      from !== announced && (announced === 'resolved' ? from !== 'resolved' : OPEN.indexOf(announced) === OPEN.indexOf(from) + 1 && from !== 'resolved');
    expect(plan.moveTo).toBe(legalStep ? announced : null);
    const after = plan.moveTo ?? from;
    expect(plan.internal).toEqual(announced !== 'resolved' && after !== 'resolved' ? comps : []);
    expect(plan.publicStatus).toBe(announced);
    if (announced === 'resolved') {
      // Every component of the incident goes back to operational publicly, named or not.
      const slugs = new Set([...comps.map((c) => c.slug), 'web', 'db']);
      expect(new Set(plan.public.map((c) => c.slug))).toEqual(slugs);
      expect(plan.public.every((c) => c.status === 'operational')).toBe(true);
    } else {
      expect(plan.public).toEqual(comps);
    }
  });

  it.each(INCIDENT_STATUSES.flatMap((from) => INCIDENT_STATUSES.map((announced) => [from, announced] as const)))(
    'a postmortem on a %s incident (update status %s) changes no status',
    (from, announced) => {
      expect(
        planPublication({
          incident: { status: from, components: ['web'] },
          update: { status: announced, components: [{ slug: 'web', status: 'major_outage' }], postmortem: true },
        }),
      ).toEqual({ moveTo: null, internal: [], public: [], publicStatus: null });
    },
  );

  it('a resolve names each component once, announced ones first', async () => {
    const plan = planPublication({
      incident: { status: 'monitoring', components: ['db', 'web'] },
      update: { status: 'resolved', components: [{ slug: 'web', status: 'major_outage' }], postmortem: false },
    });
    expect(plan).toEqual({
      moveTo: 'resolved',
      internal: [],
      public: [
        { slug: 'web', status: 'operational' },
        { slug: 'db', status: 'operational' },
      ],
      publicStatus: 'resolved',
    });
  });
});
