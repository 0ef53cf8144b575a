import { describe, expect, it } from 'vitest';
import { dateToken, escapeKeepingMentions, escapeMrkdwn, fromSlackText, userMrkdwn } from '../../adapters/slack/mrkdwn.js';
import { channelName } from '../../adapters/slack/outlet.js';
import { splitSections } from '../../adapters/slack/customer.js';

describe('fromSlackText (what Slack sends → what the grammar reads)', () => {
  const cases: Array<[string, string]> = [
    ['note a &amp; b &lt;3 &gt;', 'note a & b <3 >'],
    ['assign lead <@U123ABC|alice>', 'assign lead <@U123ABC|alice>'],
    ['note see <https://status.example.com/x?a=1&amp;b=2|the page>', 'note see https://status.example.com/x?a=1&b=2'],
    ['note see <https://example.com>', 'note see https://example.com'],
    ['note mail <mailto:ops@example.com|ops@example.com>', 'note mail ops@example.com'],
    ['note &amp;lt; stays literal', 'note &lt; stays literal'],
    ['note <!here> and <#C0123|ops>', 'note <!here> and <#C0123|ops>'],
  ];
  for (const [input, out] of cases) it(JSON.stringify(input), () => expect(fromSlackText(input)).toBe(out));
});

describe('escaping for mrkdwn', () => {
  it('escapeMrkdwn neutralises every control sequence', async () => {
    expect(escapeMrkdwn('<!channel> & <@U1> <https://x|y>')).toBe('&lt;!channel&gt; &amp; &lt;@U1&gt; &lt;https://x|y&gt;');
  });
  it('escapeKeepingMentions keeps people and channels, nothing else', async () => {
    expect(escapeKeepingMentions('ask <@U0BOB|bob> in <#C0OPS|ops>, not <!here> or <!subteam^S1>; slack:U0CAROL & cli:dave')).toBe(
      'ask <@U0BOB> in <#C0OPS>, not &lt;!here&gt; or &lt;!subteam^S1&gt;; <@U0CAROL> &amp; cli:dave',
    );
  });
  it('userMrkdwn', async () => {
    expect(userMrkdwn('slack:U0BOB')).toBe('<@U0BOB>');
    expect(userMrkdwn('cli:<alice>')).toBe('@&lt;alice&gt;');
    expect(userMrkdwn(null)).toBe('—');
  });
  it('dateToken carries the instant and a fallback without | or >', async () => {
    const t = dateToken(Date.UTC(2021, 11, 7, 22, 28), 'America/Los_Angeles');
    expect(t).toBe('<!date^1638916080^{date_short_pretty} {time}|Dec 07, 2021, 14:28 PST>');
  });

  it('each reply in a burst shows its own minute and zone, across a minute and a daylight-saving change', () => {
    const zone = 'Europe/Berlin';
    const fallback = (ms: number) => /\|(.*)>$/.exec(dateToken(ms, zone))![1];
    // 2026-03-29 01:59:59 UTC is 02:59:59 CET; a second later clocks show 04:00 CEST.
    const switchAt = Date.UTC(2026, 2, 29, 1, 0);
    expect(fallback(switchAt - 60_001)).toBe('Mar 29, 2026, 01:58 GMT+1');
    expect(fallback(switchAt - 1)).toBe('Mar 29, 2026, 01:59 GMT+1');
    expect(fallback(switchAt - 30_000)).toBe('Mar 29, 2026, 01:59 GMT+1');
    expect(fallback(switchAt)).toBe('Mar 29, 2026, 03:00 GMT+2');
    expect(fallback(switchAt + 59_999)).toBe('Mar 29, 2026, 03:00 GMT+2');
    expect(fallback(switchAt - 1)).toBe('Mar 29, 2026, 01:59 GMT+1');
    // Another zone at the same instant keeps its own text.
    expect(dateToken(switchAt, 'UTC')).toMatch(/\|Mar 29, 2026, 01:00 UTC>$/);
  });
});

describe('channelName', () => {
  const cases: Array<[number, string, string]> = [
    [7, 'Checkout errors (EU)', 'inc-7-checkout-errors-eu'],
    [12, 'Café — DB "down"!', 'inc-12-cafe-db-down'],
    [3, '🔥🔥', 'inc-3'],
    [9, 'x'.repeat(100), `inc-9-${'x'.repeat(60)}`],
  ];
  for (const [n, title, out] of cases) it(`${n} ${title.slice(0, 20)}`, () => expect(channelName(n, title)).toBe(out));
});

describe('long customer updates split into sections', () => {
  it('never cuts an escaped entity or a surrogate pair in half, even in text without spaces', async () => {
    for (let pad = 0; pad < 12; pad++) {
      const body = 'x'.repeat(2995 + pad) + '&&&&' + '😀'.repeat(10) + 'y'.repeat(4000);
      const sections = splitSections(escapeMrkdwn(body));
      expect(sections.join('')).toBe(escapeMrkdwn(body));
      for (const s of sections) {
        expect(s.length).toBeLessThanOrEqual(3000);
        expect(s).not.toMatch(/&(?!amp;|lt;|gt;)/);
        expect(s).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
      }
    }
  });
});
