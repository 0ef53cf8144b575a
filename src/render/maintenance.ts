import type { MaintenanceStatus } from '../domain/enums.js';
import { maintenanceStatusLabel } from '../domain/maintenance.js';
import { formatPosted, toIso } from './time.js';

// `maintenance list`: the plain text the CLI and chat show, and the --json shape CONTRACT.md fixes
// ({"maintenances": [{"id", "title", "status", "starts_at", "ends_at", "components"}]}).

export interface MaintenanceListItem {
  id: string; // M-n
  title: string;
  status: MaintenanceStatus;
  startsAt: number;
  endsAt: number;
  /** Slugs, in catalogue order. */
  components: string[];
}

export function toMaintenanceListJson(items: readonly MaintenanceListItem[], zone: string) {
  return {
    maintenances: items.map((m) => ({
      id: m.id,
      title: m.title,
      status: m.status,
      starts_at: toIso(m.startsAt, zone),
      ends_at: toIso(m.endsAt, zone),
      components: [...m.components],
    })),
  };
}

export function renderMaintenanceList(items: readonly MaintenanceListItem[], zone: string): string {
  if (!items.length) return 'No scheduled maintenance.';
  return items
    .map((m) => {
      const comps = m.components.length ? ` · ${m.components.join(', ')}` : '';
      return `${m.id.padEnd(5)} ${maintenanceStatusLabel(m.status).padEnd(11)} ${m.title} (${formatPosted(m.startsAt, zone)} to ${formatPosted(m.endsAt, zone)})${comps}`;
    })
    .join('\n');
}
