import { describe, expect, it } from 'vitest';
import { renderMaintenanceList, toMaintenanceListJson, type MaintenanceListItem } from '../../src/render/maintenance.js';

const ZONE = 'America/Los_Angeles';
const items: MaintenanceListItem[] = [
  {
    id: 'M-3',
    title: 'Database upgrade',
    status: 'in_progress',
    startsAt: Date.parse('2021-12-08T06:00:00Z'),
    endsAt: Date.parse('2021-12-08T07:30:00Z'),
    components: ['web-app', 'api'],
  },
  {
    id: 'M-4',
    title: 'Router swap',
    status: 'scheduled',
    startsAt: Date.parse('2021-12-09T06:00:00Z'),
    endsAt: Date.parse('2021-12-09T06:30:00Z'),
    components: [],
  },
];

describe('maintenance list', () => {
  it('answers --json in the shape CONTRACT.md fixes, times ISO 8601 with offset', () => {
    const json = toMaintenanceListJson(items, ZONE);
    expect(json).toEqual({
      maintenances: [
        {
          id: 'M-3',
          title: 'Database upgrade',
          status: 'in_progress',
          starts_at: '2021-12-07T22:00:00-08:00',
          ends_at: '2021-12-07T23:30:00-08:00',
          components: ['web-app', 'api'],
        },
        { id: 'M-4', title: 'Router swap', status: 'scheduled', starts_at: '2021-12-08T22:00:00-08:00', ends_at: '2021-12-08T22:30:00-08:00', components: [] },
      ],
    });
    for (const m of json.maintenances) expect(Object.keys(m)).toEqual(['id', 'title', 'status', 'starts_at', 'ends_at', 'components']);
    expect(toMaintenanceListJson([], ZONE)).toEqual({ maintenances: [] });
  });

  it('reads one line per maintenance as text', () => {
    expect(renderMaintenanceList(items, ZONE).split('\n')).toEqual([
      'M-3   in progress Database upgrade (Dec 07, 2021 - 22:00 PST to Dec 07, 2021 - 23:30 PST) · web-app, api',
      'M-4   scheduled   Router swap (Dec 08, 2021 - 22:00 PST to Dec 08, 2021 - 22:30 PST)',
    ]);
    expect(renderMaintenanceList([], ZONE)).toBe('No scheduled maintenance.');
  });
});
