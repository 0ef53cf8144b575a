import { describe, expect, it } from 'vitest';
import { parseCommand, type Command } from '../../src/commands/grammar.js';
import { helpText } from '../../src/commands/help.js';
import { onlyReads } from '../../src/commands/verbs.js';

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

  it('binds the incidents channel or, for private incidents, the private-incidents channel; nothing else', async () => {
    expect(parse('channel incidents')).toEqual({ verb: 'channel', action: 'incidents' });
    expect(parse('channel private-incidents')).toEqual({ verb: 'channel', action: 'private-incidents' });
    expect(() => parse('channel secret')).toThrow(/channel incidents · channel private-incidents/);
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
    expect(helpText()).toContain('[visibility:private]');
    expect(helpText()).toContain('`npx sitrep --version` prints the version');
    expect(helpText('maintenance')).toMatch(
      /^maintenance schedule <title> starts:<time> ends:<time> \[components:slug,…\] <customer text> · list · update M-n \[status:S\] <text> · start\|complete\|cancel M-n$/m,
    );
    expect(helpText('maintenance')).toMatch(/example: maintenance schedule /);
  });

  it('parses the example help gives for maintenance', () => {
    const example = helpText('maintenance').split('example: ')[1]!;
    expect(parse(example)).toMatchObject({ verb: 'maintenance', action: 'schedule', title: 'DB upgrade', components: ['api'] });
  });
});

describe('visibility:private on declare', () => {
  it.each([
    ['declare "DB credentials leak" sev:1 visibility:private', 'private'],
    ['declare visibility:PRIVATE DB credentials leak', 'private'],
    ['declare DB down visibility:public', 'public'],
  ])('%s', (input, visibility) => {
    expect(parse(input)).toMatchObject({ verb: 'declare', visibility });
  });

  it('leaves it out when not given (public)', () => {
    expect(parse('declare DB down')).toEqual({ verb: 'declare', title: 'DB down' });
  });
});

describe('the maintenance command', () => {
  // NOW is 2021-12-07 14:30 PST.
  const iso = (ms: number) => new Date(ms).toISOString();

  it('schedules with the title before the options and the customer text after them', () => {
    const c = parse(
      'maintenance schedule Database upgrade starts:2021-12-08T22:00 ends:2021-12-08T23:30 components:api,web-app We are upgrading the database.',
    );
    expect(c).toEqual({
      verb: 'maintenance',
      action: 'schedule',
      title: 'Database upgrade',
      startsAt: Date.parse('2021-12-09T06:00:00Z'),
      endsAt: Date.parse('2021-12-09T07:30:00Z'),
      components: ['api', 'web-app'],
      text: 'We are upgrading the database.',
    } satisfies Command);
  });

  it('takes a quoted title anywhere before the text, and options anywhere', () => {
    const c = parse('maintenance schedule "Database upgrade" We are upgrading\nthe database. starts:2021-12-08T22:00 ends:2021-12-08T23:30');
    expect(c).toMatchObject({ title: 'Database upgrade', text: 'We are upgrading\nthe database.', components: [] });
    const d = parse('incident maintenance schedule starts:2021-12-08T22:00 ends:2021-12-08T23:30 "DB upgrade" Downtime of 90 minutes.');
    expect(d).toMatchObject({ title: 'DB upgrade', text: 'Downtime of 90 minutes.' });
  });

  it('reads bare clock times as still to come: starts: from now, ends: from the start', () => {
    const later = parse('maintenance schedule Upgrade starts:23:00 ends:01:00 Going down.') as Extract<Command, { verb: 'maintenance'; action: 'schedule' }>;
    expect([iso(later.startsAt), iso(later.endsAt)]).toEqual(['2021-12-08T07:00:00.000Z', '2021-12-08T09:00:00.000Z']);
    // 14:00 today has passed (it is 14:30): the next 14:00 is tomorrow's.
    const tomorrow = parse('maintenance schedule Upgrade starts:14:00 ends:15:00 Going down.') as Extract<Command, { verb: 'maintenance'; action: 'schedule' }>;
    expect([iso(tomorrow.startsAt), iso(tomorrow.endsAt)]).toEqual(['2021-12-08T22:00:00.000Z', '2021-12-08T23:00:00.000Z']);
    const zoned = parse('maintenance schedule Upgrade starts:2021-12-08T06:00:00Z ends:2021-12-08T07:00:00Z Going down.');
    expect(zoned).toMatchObject({ startsAt: Date.parse('2021-12-08T06:00:00Z'), endsAt: Date.parse('2021-12-08T07:00:00Z') });
  });

  it('parses the other forms', () => {
    expect(parse('maintenance list')).toEqual({ verb: 'maintenance', action: 'list' });
    expect(parse('maintenance start M-3')).toEqual({ verb: 'maintenance', action: 'start', maintenance: 3 });
    expect(parse('maintenance complete m-3')).toEqual({ verb: 'maintenance', action: 'complete', maintenance: 3 });
    expect(parse('MAINTENANCE CANCEL M-12')).toEqual({ verb: 'maintenance', action: 'cancel', maintenance: 12 });
    expect(parse('maintenance update M-3 Halfway there.')).toEqual({ verb: 'maintenance', action: 'update', maintenance: 3, text: 'Halfway there.' });
    expect(parse('maintenance update M-3 status:verifying Checking everything works.')).toEqual({
      verb: 'maintenance',
      action: 'update',
      maintenance: 3,
      status: 'verifying',
      text: 'Checking everything works.',
    });
    expect(parse('maintenance update M-3 status:canceled Postponed to next week.')).toMatchObject({ status: 'cancelled' });
    expect(parse('maintenance update M-3 status:in-progress Started.')).toMatchObject({ status: 'in_progress' });
  });

  it('counts maintenance list as a read and every other form as a write', () => {
    expect(onlyReads(parse('maintenance list'))).toBe(true);
    for (const c of ['maintenance start M-1', 'maintenance complete M-1', 'maintenance cancel M-1', 'maintenance update M-1 hi'])
      expect(onlyReads(parse(c))).toBe(false);
    expect(onlyReads(parse('maintenance schedule Upgrade starts:23:00 ends:23:30 Going down.'))).toBe(false);
  });

  it('accepts at: to backfill on every form that records something', () => {
    const at = Date.parse('2021-12-07T22:02:00Z');
    expect(parse('maintenance start M-3 at:14:02')).toEqual({ verb: 'maintenance', action: 'start', maintenance: 3, at });
    expect(parse('maintenance update M-3 at:14:02 Started late.')).toMatchObject({ at, text: 'Started late.' });
    expect(parse('maintenance schedule Upgrade starts:23:00 ends:23:30 at:14:02 Going down.')).toMatchObject({ at, title: 'Upgrade' });
  });

  const bad: Array<[string, RegExp]> = [
    ['maintenance', /^maintenance needs schedule, list, update, start, complete or cancel; usage: maintenance schedule/],
    ['maintenance reschedule M-3', /^maintenance needs schedule, list, update, start, complete or cancel \(got "reschedule"\)/],
    ['maintenance schedule Upgrade ends:2021-12-08T23:00 Going down.', /^maintenance schedule needs starts:<time>, when the work begins/],
    ['maintenance schedule Upgrade starts:2021-12-08T22:00 Going down.', /^maintenance schedule needs ends:<time>, when the work ends/],
    ['maintenance schedule Upgrade Going down.', /^maintenance schedule needs starts:<time> and ends:<time>/],
    [
      'maintenance schedule Upgrade starts:2021-12-08T23:00 ends:2021-12-08T22:00 Going down.',
      /^ends: is before starts:; a maintenance must end after it begins/,
    ],
    ['maintenance schedule Upgrade starts:2021-12-08T22:00 ends:2021-12-08T22:00 Going down.', /^ends: is the same time as starts:/],
    [
      'maintenance schedule Upgrade starts:2021-12-07T10:00 ends:2021-12-08T22:00 Going down.',
      /^starts: is in the past; schedule maintenance for a time still to come/,
    ],
    ['maintenance schedule Upgrade starts:soon ends:23:00 Going down.', /"soon" is not a time/],
    [
      'maintenance schedule Upgrade starts:23:00 ends:23:30',
      /^the customer-facing text is missing: write it after the options, with the title in quotes or before starts:; usage: maintenance schedule/,
    ],
    ['maintenance schedule Upgrade We will go down starts:23:00 ends:23:30', /the customer-facing text is missing/],
    ['maintenance schedule starts:23:00 ends:23:30 Upgrade We will go down.', /^the title is missing: write it before starts:, or in quotes/],
    ['maintenance schedule "Up\ngrade" starts:23:00 ends:23:30 Going down.', /^the title must be one line$/],
    ['maintenance schedule ' + 'x'.repeat(201) + ' starts:23:00 ends:23:30 Going down.', /^the title is 201 characters; the limit is 200$/],
    [
      'maintenance schedule Upgrade starts:23:00 ends:23:30 components:api=major Going down.',
      /^"api=major": a maintenance's components take no status .*; write components:api$/,
    ],
    ['maintenance schedule Upgrade starts:23:00 ends:23:30 components:api,API Going down.', /^component api is listed twice$/],
    ['maintenance schedule Upgrade starts:23:00 ends:23:30 components:"no such" Going down.', /^"no such" is not a component slug/],
    [
      'maintenance schedule Upgrade starts:23:00 ends:23:30 status:verifying Going down.',
      /^maintenance schedule does not take status: \(it takes starts: ends: components: at:\); usage: maintenance schedule/,
    ],
    [
      'maintenance schedule Upgrade starts:23:00 ends:23:30 sev:2 Going down.',
      /^maintenance does not take sev: \(it takes starts: ends: components: status: at:\)/,
    ],
    ['maintenance list all', /^unexpected "all"; usage: maintenance list/],
    ['maintenance list starts:23:00', /^maintenance list does not take starts:; usage: maintenance list/],
    ['maintenance start', /^maintenance start needs an M-n id; usage: maintenance start M-n/],
    ['maintenance start INC-3', /^maintenance start needs an M-n id \(got "INC-3"\)/],
    ['maintenance complete M-3 now', /^unexpected "now"; usage: maintenance complete M-n/],
    ['maintenance cancel M-3 ends:23:00', /^maintenance cancel does not take ends: \(it takes at:\)/],
    ['maintenance start M-3 at:2099-01-01T00:00', /in the future/],
    ['maintenance update M-3', /^the customer-facing text is missing; usage: maintenance update M-n/],
    ['maintenance update M-3 status:done All done.', /^"done" is not a maintenance status; use in_progress, verifying, completed or cancelled$/],
    ['maintenance update M-3 status:constructor hi', /"constructor" is not a maintenance status/],
    ['maintenance update M-3 starts:23:00 Moved.', /^maintenance update does not take starts: \(it takes status: at:\)/],
    ['maintenance update 3 hi', /^maintenance update needs an M-n id \(got "3"\)/],
    ['declare x visibility:secret', /^"secret" is not a visibility; write visibility:private/],
    ['update INC-1 visibility:private now', /^update does not take visibility:/],
    ['note INC-1 starts:tomorrow', /^note does not take starts:/],
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
});
