import { xmlText } from './escape.js';
import type { PublicState } from './model.js';

// Atom (RFC 4287) feed of published customer-facing updates, newest first. Readers poll it, so
// it is served from the same snapshot as the page, with the same ETag handling.

export { xmlText } from './escape.js';

export const FEED_LIMIT = 50;

const iso = (ms: number) => new Date(ms).toISOString();

export function renderAtom(s: PublicState): string {
  const entries: Array<{ id: string; title: string; link: string; at: number; body: string }> = [];
  for (const i of s.incidents) {
    const link = `${s.publicUrl}/incidents/${i.ref}`;
    for (const u of i.updates) {
      entries.push({ id: `${link}#${u.ref}`, title: `${i.title}: ${u.label}`, link, at: u.displayAt, body: u.body });
    }
    if (i.postmortem) {
      entries.push({ id: `${link}#postmortem`, title: `${i.title}: Postmortem`, link, at: i.postmortem.publishedAt, body: i.postmortem.body });
    }
  }
  entries.sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1));
  const shown = entries.slice(0, FEED_LIMIT);
  const updated = shown[0]?.at ?? s.updatedAt;
  const xml = shown
    .map(
      (e) => `<entry>
<id>${xmlText(e.id)}</id>
<title type="text">${xmlText(e.title)}</title>
<link rel="alternate" type="text/html" href="${xmlText(e.link)}"/>
<updated>${iso(e.at)}</updated>
<published>${iso(e.at)}</published>
<content type="text">${xmlText(e.body)}</content>
</entry>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<id>${xmlText(s.publicUrl)}/history.atom</id>
<title type="text">${xmlText(s.orgName)} status updates</title>
<link rel="self" type="application/atom+xml" href="${xmlText(s.publicUrl)}/history.atom"/>
<link rel="alternate" type="text/html" href="${xmlText(s.publicUrl)}/"/>
<updated>${iso(updated)}</updated>
<author><name>${xmlText(s.orgName)}</name></author>
${xml}
</feed>
`;
}
