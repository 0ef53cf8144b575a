import { esc } from './html.js';
import { type Feed, xmlText } from './feed.js';

// RSS 2.0, for readers and chat integrations that take no Atom. An item's description is
// entity-encoded HTML by the format's own rule, so the plain text is escaped twice: once as HTML
// (a body reading "<b>" shows as "<b>", never as markup) and once as XML. Line breaks become <br>,
// or a reader would run the paragraphs together.

const rfc822 = (ms: number) => new Date(ms).toUTCString();

const asHtml = (text: string) => esc(text).replace(/\r?\n/g, '<br>\n');

export function renderRss(f: Feed): string {
  const items = f.entries
    .map(
      (e) => `<item>
<title>${xmlText(e.title)}</title>
<link>${xmlText(e.link)}</link>
<guid isPermaLink="false">${xmlText(e.id)}</guid>
<pubDate>${rfc822(e.published)}</pubDate>
<description>${xmlText(asHtml(e.content))}</description>
</item>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
<title>${xmlText(f.title)}</title>
<link>${xmlText(f.homeUrl)}</link>
<description>${xmlText(`Customer-facing updates from the ${f.author} status page`)}</description>
<lastBuildDate>${rfc822(f.updated)}</lastBuildDate>
<atom:link href="${xmlText(f.rssUrl)}" rel="self" type="application/rss+xml"/>
${items}
</channel>
</rss>
`;
}
