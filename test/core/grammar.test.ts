import { describe, expect, it } from 'vitest';
import { parseCommand, type Command } from '../../src/commands/grammar.js';
import { helpText } from '../../src/commands/help.js';

const NOW = Date.parse('2021-12-07T22:30:00Z'); // 14:30 PST
const ctx = { timezone: 'America/Los_Angeles', now: NOW, platform: 'cli' as const };
const parse = (s: string) => parseCommand(s, ctx);

describe('the command language', () => {
  it('parses declare with options anywhere and a quoted title', async () => {
    expect(parse('declare sev:2 "Checkout errors" components:web-app=partial,sms-routing=major lead:@alice')).toEqual({
      verb: 'declare',
      title: 'Checkout errors',
      severity: 2,
      components: [
        { slug: 'web-app', status: 'partial_outage' },
        { slug: 'sms-routing', status: 'major_outage' },
      ],
      lead: 'cli:alice',
    } satisfies Command);
  });

  it('treats unknown key:value words, URLs and clock times as text', async () => {
    const c = parse('note INC-3 see https://status.aws.amazon.com/ at 7:32am Cause: unknown');
    expect(c).toEqual({ verb: 'note', incident: 3, text: 'see https://status.aws.amazon.com/ at 7:32am Cause: unknown' });
  });

  it('keeps line breaks in multi-line text', async () => {
    const c = parse('update INC-1 status:monitoring Quick update:\n- App notifications are delayed.\n- Fax remains functional');
    expect(c).toMatchObject({
      verb: 'update',
      incident: 1,
      status: 'monitoring',
      text: 'Quick update:\n- App notifications are delayed.\n- Fax remains functional',
    });
  });

  it('reads times in SITREP_TIMEZONE', async () => {
    const c = parse('declare DB down started:7:32am at:2021-12-07T08:02') as Extract<Command, { verb: 'declare' }>;
    expect(new Date(c.startedAt!).toISOString()).toBe('2021-12-07T15:32:00.000Z');
    expect(new Date(c.at!).toISOString()).toBe('2021-12-07T16:02:00.000Z');
    const iso = parse('note x at:2021-12-07T16:02:00Z') as Extract<Command, { verb: 'note' }>;
    expect(new Date(iso.at!).toISOString()).toBe('2021-12-07T16:02:00.000Z');
    const clock = parse('note x at:14:28') as Extract<Command, { verb: 'note' }>;
    expect(new Date(clock.at!).toISOString()).toBe('2021-12-07T22:28:00.000Z');
  });

  it('understands status aliases and optional incident ids', async () => {
    expect(parse('components sms-routing=ok,web-app=degraded')).toEqual({
      verb: 'components',
      changes: [
        { slug: 'sms-routing', status: 'operational' },
        { slug: 'web-app', status: 'degraded_performance' },
      ],
    });
    expect(parse('update status:monitor all good')).toMatchObject({ status: 'monitoring', text: 'all good' });
    expect(parse('resolve')).toEqual({ verb: 'resolve' });
    expect(parse('resolve INC-9 All fixed.')).toEqual({ verb: 'resolve', incident: 9, text: 'All fixed.' });
    expect(parse('assign INC-2 comms slack:U123')).toMatchObject({ role: 'comms', user: 'slack:U123' });
    expect(parse('assign comms <@U0ABC|bob>')).toMatchObject({ role: 'comms', user: 'slack:U0ABC' });
    expect(parse('approve D-7 New wording here')).toEqual({ verb: 'approve', draft: 7, text: 'New wording here' });
    expect(parse('incident list all')).toEqual({ verb: 'list', filter: 'all' });
  });

  it('parses the commands whose effect comes later', async () => {
    expect(parse('subscribe webhook:https://example.com/h components:web-app')).toEqual({
      verb: 'subscribe',
      target: 'webhook:https://example.com/h',
      components: ['web-app'],
    });
    expect(parse('postmortem publish INC-3')).toEqual({ verb: 'postmortem', action: 'publish', incident: 3 });
    expect(parse('followup add INC-3 Alert on lag owner:@bob')).toMatchObject({ action: 'add', incident: 3, text: 'Alert on lag', owner: 'cli:bob' });
    expect(parse('deliveries retry 12')).toEqual({ verb: 'deliveries', action: 'retry', id: 12 });
    expect(parse('template add calm status:identified We found it.')).toEqual({
      verb: 'template',
      action: 'add',
      name: 'calm',
      status: 'identified',
      text: 'We found it.',
    });
    expect(parse('stats since:2021-12-01')).toMatchObject({ verb: 'stats' });
  });

  const bad: Array<[string, RegExp]> = [
    ['', /no command given/],
    ['   ', /no command given/],
    ['declair DB down', /did you mean `declare`/],
    ['declare', /the title is missing/],
    ['declare x sev:9', /not a severity/],
    ['declare x sev:2 sev:3', /given twice/],
    ['declare x components:web-app', /needs a status/],
    ['declare x components:web-app=broken', /not a component status/],
    ['declare x lead:alice', /not a user/],
    ['declare x started:', /needs a value/],
    ['declare x started:25:99', /not a time/],
    ['declare x started:2099-01-01T00:00', /in the future/],
    ['declare ' + 'x'.repeat(10_240), /limit is 200/],
    ['declare bad\u0007title', /control characters/],
    ['update status:sleeping hi', /not an incident status/],
    ['note', /the note is missing/],
    ['approve 7', /needs a D-n id/],
    ['reject D-1', /say why/],
    ['severity INC-1', /give a severity/],
    ['assign INC-1 boss @bob', /not a role/],
    ['list some', /open, resolved or all/],
    ['show INC-1 extra', /unexpected "extra"/],
    ['note hello status:identified', /note does not take status:/],
    ['help frobnicate', /no command "frobnicate"/],
    // Words that name properties every object has are not statuses, commands or anything else.
    ['update status:constructor hi', /"constructor" is not an incident status/],
    ['components web-app=__proto__', /"__proto__" is not a component status/],
    ['help constructor', /no command "constructor"/],
    // Noncharacters and lone surrogates are refused like control characters, naming the culprit.
    ['note bad\uFFFF text', /that command contains U\+FFFF at character 9; control characters and invalid Unicode are not allowed/],
    ['note bad\uFFFE text', /contains U\+FFFE/],
    ['note bad\uFDD0 text', /contains U\+FDD0/],
    ['note bad\uFDEF text', /contains U\+FDEF/],
    ['note plane one \u{1FFFE}', /contains U\+1FFFE/],
    ['note last plane \u{10FFFF}', /contains U\+10FFFF/],
    ['note lone high \uD83D here', /contains U\+D83D/],
    ['note lone low \uDE00 here', /contains U\+DE00/],
    ['note escape \u001b[31m red', /contains U\+001B/],
    ['note C1 \u009b31m red', /contains U\+009B/],
    ['declare x lead:slack:' + 'U'.repeat(300), /is not a user/],
    ['draft template:"calm words" hi', /not a template name/],
    ['subscribe webhook:https://example.com/' + 'a'.repeat(3000), /the target is 3028 characters; the limit is 2048/],
    ['declare x started:' + '1'.repeat(500), /is not a time/],
    // A value the person quoted across lines is still reported on one line.
    ['declare x started:"7:32\nam"', /started: must be one line/],
    ['severity "1\n2"', /"1 2" is not a severity/],
    ['assign lead "@al\nice"', /"@al ice" is not a user/],
  ];
  it.each(bad)('refuses %j with one clear line', (input, msg) => {
    let err: unknown;
    try {
      parse(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(msg);
    expect((err as Error).message).not.toContain('\n');
    expect((err as { code: string }).code).toBe('INVALID');
  });

  it('quotes titles with straight, English and German/Polish quotes, and leaves an unclosed quote as text', async () => {
    expect(parse('declare "Checkout errors" sev:2')).toMatchObject({ title: 'Checkout errors', severity: 2 });
    expect(parse('declare “Checkout errors” sev:2')).toMatchObject({ title: 'Checkout errors' });
    expect(parse('declare „Zahlungen schlagen fehl“ sev:2')).toMatchObject({ title: 'Zahlungen schlagen fehl' });
    expect(parse('declare „Płatności nie działają” sev:2')).toMatchObject({ title: 'Płatności nie działają' });
    expect(parse('declare “Typed on a phone" sev:2')).toMatchObject({ title: 'Typed on a phone' });
    expect(parse('declare "a “quoted” word" sev:2')).toMatchObject({ title: 'a “quoted” word' });
    // A quoted word is never an option: "sev:1" inside quotes is part of the title.
    expect(parse('declare "sev:1 is back" sev:2')).toMatchObject({ title: 'sev:1 is back', severity: 2 });
    // An option's value may be quoted, so it can hold a space.
    const quotedTime = parse('declare DB down started:"2021-12-07 07:32"') as Extract<Command, { verb: 'declare' }>;
    expect(quotedTime.title).toBe('DB down');
    expect(new Date(quotedTime.startedAt!).toISOString()).toBe('2021-12-07T15:32:00.000Z');
    expect(parse('note „unclosed opener stays text')).toEqual({ verb: 'note', text: '„unclosed opener stays text' });
    expect(parse('note “also “unclosed')).toEqual({ verb: 'note', text: '“also “unclosed' });
    expect(parse('note he said "hi')).toEqual({ verb: 'note', text: 'he said "hi' });
  });

  it('keeps a line break that sat where an option was taken out', async () => {
    expect(parse('update first line\nstatus:monitoring\nsecond line')).toMatchObject({ status: 'monitoring', text: 'first line\nsecond line' });
    expect(parse('update first status:monitoring second')).toMatchObject({ text: 'first second' });
  });

  it('accepts emoji, other scripts and the characters next to the refused ranges', async () => {
    const body = 'Zahlungen 😀 失敗 \uFDCF\uFDF0\uFFFD \u{1FFFD} tab\there';
    expect(parse(`note ${body}`)).toEqual({ verb: 'note', text: body });
  });

  it('keeps errors about huge words short', async () => {
    let message = '';
    try {
      parse('declair' + 'x'.repeat(20_000));
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^unknown command "declairx+…"/);
    expect(message.length).toBeLessThan(200);
  });

  it('has help for every command, with an example', async () => {
    expect(helpText()).toContain('declare <title>');
    expect(helpText('declare')).toMatch(/example: declare /);
  });
});
