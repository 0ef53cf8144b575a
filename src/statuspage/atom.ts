import type { Feed } from './feed.js';
import { xmlText } from './escape.js';

// Atom (RFC 4287). Titles and content are type="text": readers show them as written, so text that
// looks like markup stays text.

const iso = (ms: number) => new Date(ms).toISOString();

export function renderAtom(f: Feed): string {
  const xml = f.entries
    .map(
      (e) => `<entry>
<id>${xmlText(e.id)}</id>
<title type="text">${xmlText(e.title)}</title>
<link rel="alternate" type="text/html" href="${xmlText(e.link)}"/>
<updated>${iso(e.updated)}</updated>
<published>${iso(e.published)}</published>
<content type="text">${xmlText(e.content)}</content>
</entry>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<id>${xmlText(f.atomUrl)}</id>
<title type="text">${xmlText(f.title)}</title>
<link rel="self" type="application/atom+xml" href="${xmlText(f.atomUrl)}"/>
<link rel="alternate" type="text/html" href="${xmlText(f.homeUrl)}"/>
<updated>${iso(f.updated)}</updated>
<author><name>${xmlText(f.author)}</name></author>
${xml}
</feed>
`;
}
