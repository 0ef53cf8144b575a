// Escaping for everything the status page renders: HTML (the pages) and XML (the feed, the chart).

/** Escapes text for HTML element content and double-quoted attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
}

// XML 1.0 allows only tab, line feed, carriage return and U+0020–U+D7FF, U+E000–U+FFFD,
// U+10000–U+10FFFF; one other character anywhere makes the whole document unreadable to every
// feed reader. New text is refused on input, but rows written before that rule (or by hand) may
// still hold such characters, so the feed drops them as it renders. With the u flag a lone
// surrogate is its own code point in U+D800–U+DFFF and is dropped too; a valid pair is kept.
const NOT_XML = /[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu;

/** Text for element content or a double-quoted attribute: XML-legal characters only, escaped. */
export function xmlText(s: string): string {
  return esc(s.replace(NOT_XML, ''));
}
