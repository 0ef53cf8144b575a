// Text crossing the Slack boundary, both ways. Inbound: Slack escapes &, < and > in text and wraps
// mentions/links in <…>. Outbound: anything we render as mrkdwn must be escaped so that user text
// can never ping (<!channel>, <!here>) or fake a link; only the mention and channel tokens we
// choose to keep survive.

/**
 * Slash-command / mention text as the command grammar wants it: `&amp; &lt; &gt;` decoded, links
 * unwrapped to their URL, user mentions (<@U123|name>) and channel links kept as written (the
 * grammar maps <@U123> to slack:U123).
 */
export function fromSlackText(text: string): string {
  return text.replace(/<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>|&amp;|&lt;|&gt;/g, (m, url: string | undefined) => {
    if (url !== undefined) {
      const plain = url.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
      return plain.startsWith('mailto:') ? plain.slice(7) : plain;
    }
    return m === '&amp;' ? '&' : m === '&lt;' ? '<' : '>';
  });
}

/** Escapes text for mrkdwn/plain fields: no entity, mention, link or special command survives. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Escapes user text for the internal incident thread, but lets the people it names be mentioned:
 * `<@U123>` / `<@U123|name>` / `<#C123|name>` tokens and `slack:U123` refs become real mentions.
 * `<!channel>`, `<!here>`, `<!subteam^…>` and everything else stay inert text.
 */
export function escapeKeepingMentions(text: string): string {
  const out: string[] = [];
  const re = /<@([UW][A-Z0-9]+)(?:\|[^>]*)?>|<#(C[A-Z0-9]+)(?:\|[^>]*)?>|\bslack:([UW][A-Z0-9]{2,})\b/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out.push(escapeMrkdwn(text.slice(last, m.index)));
    out.push(m[1] ? `<@${m[1]}>` : m[2] ? `<#${m[2]}>` : `<@${m[3]}>`);
    last = m.index + m[0].length;
  }
  out.push(escapeMrkdwn(text.slice(last)));
  return out.join('');
}

/** How a user ref is shown in mrkdwn: Slack users as mentions, others by name. */
export function userMrkdwn(ref: string | null | undefined): string {
  if (!ref) return '—';
  const slack = /^slack:([UW][A-Z0-9]+)$/.exec(ref);
  if (slack) return `<@${slack[1]}>`;
  if (ref.startsWith('cli:')) return escapeMrkdwn('@' + ref.slice(4));
  return escapeMrkdwn(ref);
}

/**
 * A Slack date token: each reader sees the time in their own zone. The fallback (shown by clients
 * that cannot render tokens, and in notifications) is in SITREP_TIMEZONE.
 */
export function dateToken(ms: number, zone: string, format = '{date_short_pretty} {time}'): string {
  return `<!date^${Math.floor(ms / 1000)}^${format}|${fallbackTime(ms, zone)}>`;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
/** The last minute formatted per zone: a burst of thread replies shares its minute. */
const lastMinute = new Map<string, { minute: number; text: string }>();

/**
 * "Nov 25, 2026, 14:28 UTC" in `zone`; a cached Intl formatter (this runs for every thread reply),
 * and the text of the last minute formatted kept: Intl's format is the costliest part of a reply.
 * Since 1970 every zone's offset is whole minutes, so one UTC minute is one shown minute.
 */
function fallbackTime(ms: number, zone: string): string {
  const minute = Math.floor(ms / 60_000);
  const seen = lastMinute.get(zone);
  if (seen?.minute === minute && ms >= 0) return seen.text;
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      year: 'numeric',
      month: 'short',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'short',
    });
    formatters.set(zone, f);
  }
  const text = f.format(ms).replace(/[|>]/g, ' ');
  if (ms >= 0) lastMinute.set(zone, { minute, text });
  return text;
}

/** Slack message ts ("1643038674.000200") → epoch milliseconds. */
export function tsToMs(ts: string): number {
  return Math.round(Number(ts) * 1000);
}

/** Plain-text fields (header, button labels, options) have hard length limits in Block Kit. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - 1) + '…';
}
