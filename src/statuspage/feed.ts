import { publicMaintenanceNotices, type PublicState } from './model.js';

// One feed model, rendered as Atom (/history.atom) and RSS 2.0 (/history.rss), so both feeds
// always list the same entries with the same ids. Readers poll them, so they are served from the
// same snapshot as the page, with the same ETag handling.

export const FEED_LIMIT = 50;

export interface FeedEntry {
  /** Readers dedupe on it and keep it forever: changing how it is built re-announces every entry. */
  id: string;
  title: string;
  /** The public page the entry is about. */
  link: string;
  published: number;
  updated: number;
  /** Plain text, never markup: each renderer escapes it for its format. */
  content: string;
}

export interface Feed {
  title: string;
  author: string;
  homeUrl: string;
  atomUrl: string;
  rssUrl: string;
  /** The newest entry's time (or the state's), never the render time: the ETag must not change on its own. */
  updated: number;
  /** Newest first, at most FEED_LIMIT. */
  entries: FeedEntry[];
}

/** How a maintenance text's status reads in an entry's title ("Scheduled", "In progress"). */
function maintenanceLabel(status: string): string {
  const s = status === 'cancelled' ? 'cancelled' : status.replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * Every public, customer-facing text that belongs in the feeds: each published update, each
 * published postmortem, and each published text of a scheduled maintenance (its announcement,
 * notices and approved updates), the window named in the announcement's title.
 */
export function feedEntries(s: PublicState): FeedEntry[] {
  const entries: FeedEntry[] = [];
  for (const i of s.incidents) {
    const link = `${s.publicUrl}/incidents/${i.ref}`;
    for (const u of i.updates) {
      entries.push({ id: `${link}#${u.ref}`, title: `${i.title}: ${u.label}`, link, published: u.displayAt, updated: u.displayAt, content: u.body });
    }
    if (i.postmortem) {
      const at = i.postmortem.publishedAt;
      entries.push({ id: `${link}#postmortem`, title: `${i.title}: Postmortem`, link, published: at, updated: at, content: i.postmortem.body });
    }
  }
  for (const n of publicMaintenanceNotices(s)) {
    const u = n.update;
    entries.push({
      id: `${n.link}#${u.ref}`,
      title: `Scheduled maintenance: ${n.maintenance.title}: ${maintenanceLabel(u.status)}`,
      link: n.link,
      published: u.displayAt,
      updated: u.displayAt,
      content: u.body,
    });
  }
  return entries;
}

export function buildFeed(s: PublicState): Feed {
  const entries = feedEntries(s)
    .sort((a, b) => b.updated - a.updated || (a.id < b.id ? 1 : -1))
    .slice(0, FEED_LIMIT);
  return {
    title: `${s.orgName} status updates`,
    author: s.orgName,
    homeUrl: `${s.publicUrl}/`,
    atomUrl: `${s.publicUrl}/history.atom`,
    rssUrl: `${s.publicUrl}/history.rss`,
    updated: entries[0]?.updated ?? s.updatedAt,
    entries,
  };
}

/** Text for element content or a double-quoted attribute: XML-legal characters only, escaped (shared with the chart). */
export { xmlText } from './escape.js';
