import { describe, expect, it } from 'vitest';
import { parseCommand, type Command } from '../../src/commands/grammar.js';
import { helpText } from '../../src/commands/help.js';

const NOW = Date.parse('2021-12-07T22:30:00Z'); // 14:30 PST
const ctx = { timezone: 'America/Los_Angeles', now: NOW, platform: 'cli' as const };
const parse = (s: string) => parseCommand(s, ctx);

describe('the command language', () => {
  it('parses declare with options anywhere and a quoted title', () => {
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

  it('treats unknown key:value words, URLs and clock times as text', () => {
    const c = parse('note INC-3 see https://status.aws.amazon.com/ at 7:32am Cause: unknown');
    expect(c).toEqual({ verb: 'note', incident: 3, text: 'see https://status.aws.amazon.com/ at 7:32am Cause: unknown' });
  });

  it('keeps line breaks in multi-line text', () => {
    const c = parse('update INC-1 status:monitoring Quick update:\n- App notifications are delayed.\n- Fax remains functional');
    expect(c).toMatchObject({ verb: 'update', incident: 1, status: 'monitoring', text: 'Quick update:\n- App notifications are delayed.\n- Fax remains functional' });
  });

  it('reads times in SITREP_TIMEZONE', () => {
    const c = parse('declare DB down started:7:32am at:2021-12-07T08:02') as Extract<Command, { verb: 'declare' }>;
    expect(new Date(c.startedAt!).toISOString()).toBe('2021-12-07T15:32:00.000Z');
    expect(new Date(c.at!).toISOString()).toBe('2021-12-07T16:02:00.000Z');
    const iso = parse('note x at:2021-12-07T16:02:00Z') as Extract<Command, { verb: 'note' }>;
    expect(new Date(iso.at!).toISOString()).toBe('2021-12-07T16:02:00.000Z');
    const clock = parse('note x at:14:28') as Extract<Command, { verb: 'note' }>;
    expect(new Date(clock.at!).toISOString()).toBe('2021-12-07T22:28:00.000Z');
  });

  it('understands status aliases and optional incident ids', () => {
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

  it('parses the commands whose effect comes later', () => {
    expect(parse('subscribe webhook:https://example.com/h components:web-app')).toEqual({ verb: 'subscribe', target: 'webhook:https://example.com/h', components: ['web-app'] });
    expect(parse('postmortem publish INC-3')).toEqual({ verb: 'postmortem', action: 'publish', incident: 3 });
    expect(parse('followup add INC-3 Alert on lag owner:@bob')).toMatchObject({ action: 'add', incident: 3, text: 'Alert on lag', owner: 'cli:bob' });
    expect(parse('deliveries retry 12')).toEqual({ verb: 'deliveries', action: 'retry', id: 12 });
    expect(parse('template add calm status:identified We found it.')).toEqual({ verb: 'template', action: 'add', name: 'calm', status: 'identified', text: 'We found it.' });
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

  it('has help for every command, with an example', () => {
    expect(helpText()).toContain('declare <title>');
    expect(helpText('declare')).toMatch(/example: declare /);
  });
});
