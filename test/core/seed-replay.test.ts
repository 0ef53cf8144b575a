import { describe, expect, it } from 'vitest';
import { startServer } from '../../src/main.js';
import { cli, tempDbFile, testApp } from '../helpers.js';
import { postedToMillis, replaySeed, SEED_ENV, seedNow } from '../statuspage/support.js';
import { all, parseSvg, titleOf } from '../statuspage/svg.js';

// Replays the seed incident (test/fixtures/seed/spruce-health-2021-12-07.txt) through the CLI, with the times it really had.
const env = { SITREP_TIMEZONE: 'America/Los_Angeles', SITREP_ORG_NAME: 'Spruce Health' };

describe('seed replay: Spruce Health, Dec 07 2021', () => {
  it('keeps order, statuses, roll-up and local times', async () => {
    const run = cli(tempDbFile(), env);
    const ok = async (...args: string[]) => {
      const r = await run(...args);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      return r;
    };
    const comp = async () => Object.fromEntries((await ok('component', 'list', '--json')).json().components.map((c: any) => [c.slug, c.status]));

    for (const name of ['Web App', 'Mobile Apps', 'Phone Call Routing', 'SMS Routing']) await ok('component', 'add', name);

    const d = await ok(
      'declare',
      'Spruce system availability issues',
      'sev:1',
      'started:2021-12-07T07:32',
      'at:2021-12-07T07:32',
      'components:web-app=degraded,phone-call-routing=major,sms-routing=major',
      '--json',
    );
    expect(d.json().id).toBe('INC-1');
    expect(await comp()).toEqual({
      'web-app': 'degraded_performance',
      'mobile-apps': 'operational',
      'phone-call-routing': 'major_outage',
      'sms-routing': 'major_outage',
    });

    await ok(
      'update',
      'at:2021-12-07T08:02',
      'We are currently investigating error rates for inbound calls and SMS, and the Spruce inbox potentially being slow to load.',
    );
    await ok(
      'update',
      'at:2021-12-07T08:06',
      'It appears to be an issue with our underlying cloud service provider, AWS, that is experiencing an outage. See https://downdetector.com/status/aws-amazon-web-services/',
    );
    await ok(
      'update',
      'status:identified',
      'components:mobile-apps=degraded',
      'at:2021-12-07T08:43',
      'Given the underlying AWS issue, the system is impacted:\n- Spruce inbox may be slow to load\n- Inbound calls are not being directed',
    );
    expect((await comp())['mobile-apps']).toBe('degraded_performance');
    await ok('update', 'components:sms-routing=partial', 'at:2021-12-07T08:54', 'Inbound SMS is being accepted by our system now.');
    await ok(
      'update',
      'components:phone-call-routing=partial',
      'at:2021-12-07T09:07',
      'In our testing, inbound calls are routing to the appropriate agents at this time.',
    );
    expect(await comp()).toEqual({
      'web-app': 'degraded_performance',
      'mobile-apps': 'degraded_performance',
      'phone-call-routing': 'partial_outage',
      'sms-routing': 'partial_outage',
    });
    await ok('update', 'status:monitoring', 'at:2021-12-07T09:39', 'Quick update on overall health of system thus far:\n- App notifications are delayed.');
    await ok('update', 'at:2021-12-07T11:07', 'Still monitoring. Only known system wide impact at this time is delayed notifications.');
    await ok('update', 'at:2021-12-07T13:21', 'Notifications continue to get delivered in a delayed fashion.');
    await ok('resolve', 'at:2021-12-07T14:28');
    expect(await comp()).toEqual({ 'web-app': 'operational', 'mobile-apps': 'operational', 'phone-call-routing': 'operational', 'sms-routing': 'operational' });

    const tl = (await ok('timeline', '--json')).json();
    const times = tl.events.map((e: any) => e.occurred_at);
    expect(times).toEqual([...times].sort());
    expect(times[0]).toBe('2021-12-07T07:32:00-08:00');
    expect(times.at(-1)).toBe('2021-12-07T14:28:00-08:00');
    expect(tl.events.map((e: any) => e.kind)).toEqual([
      'declared',
      'update',
      'update',
      'status_changed',
      'update',
      'update',
      'status_changed',
      'update',
      'update',
      'resolved',
    ]);
    // Recorded now, happened then: both are kept.
    expect(tl.events.every((e: any) => e.recorded_at > e.occurred_at)).toBe(true);

    const show = (await ok('show', 'INC-1', '--json')).json();
    expect(show).toMatchObject({ status: 'resolved', severity: 1, started_at: '2021-12-07T07:32:00-08:00', resolved_at: '2021-12-07T14:28:00-08:00' });
    expect(show.identified_at).toBe('2021-12-07T08:43:00-08:00');
    expect(show.monitoring_at).toBe('2021-12-07T09:39:00-08:00');

    const text = (await ok('show', 'INC-1')).stdout;
    expect(text).toContain('Started: Dec 07, 2021 - 07:32 PST');
    expect(text).toContain('Resolved: Dec 07, 2021 - 14:28 PST · Duration: 6h 56m');
    expect(text).toContain('Identified: 08:43 PST (1h 11m after start)');

    const timeline = (await ok('timeline', 'INC-1')).stdout.split('\n');
    expect(timeline[1]).toMatch(/^07:32 PST\s+declared/);
    expect(timeline.at(-2)).toMatch(/^14:28 PST\s+resolved/);
  });

  it('shows dates when an incident crosses midnight', async () => {
    const run = cli(tempDbFile(), env);
    await run('declare', 'Overnight batch failure', 'started:2021-12-07T23:10', 'at:2021-12-07T23:15');
    await run('update', 'status:identified', 'at:2021-12-08T00:40', 'Found the stuck job');
    await run('resolve', 'at:2021-12-08T01:05');
    const lines = (await run('timeline')).stdout.split('\n');
    expect(lines[1]).toMatch(/^Dec 07 23:15 PST\s+declared/);
    expect(lines[2]).toMatch(/^Dec 08 00:40 PST\s+status_changed/);
    expect((await run('show')).stdout).toContain('Duration: 1h 55m');
  });
});

describe('seed replay: the postmortem and its chart', () => {
  it('states the incident time, the four components with their impact, the updates in order and the longest gap; the chart has four lanes and ten ticks', async () => {
    const file = tempDbFile();
    const app = testApp({ ...SEED_ENV, SITREP_DB: file }, seedNow);
    const seed = await replaySeed(app);
    const server = await startServer(app, 0, '127.0.0.1');
    try {
      // The postmortem draft, through the CLI on the same database.
      const pm = await cli(file, SEED_ENV)('postmortem', 'INC-1', '--json');
      expect(pm.stderr).toBe('');
      expect(pm.code).toBe(0);
      const md: string = pm.json().markdown;
      const lines = md.split('\n');

      // 7:32am PT to ~2pm PT: the impact line, and the public postmortem as published.
      expect(lines).toContain('- **Impact:** Dec 07, 2021 - 07:32 PST – Dec 07, 2021 - 14:28 PST (6h 56m)');
      expect(lines).toContain('> Incident time: 7:32am PT - ~2pm PT');
      expect(lines).toContain('| Time to identify | 1h 11m | 08:43 PST |');
      expect(lines).toContain('| Time to mitigate (monitoring) | 2h 7m | 09:39 PST |');
      expect(lines).toContain('| Time to resolve | 6h 56m | 14:28 PST |');
      expect(lines).toContain('| Longest gap between customer updates | 2h 14m | 11:07 PST to 13:21 PST |');

      // The four components, in catalogue order, with what customers were shown.
      const impact = lines.slice(lines.indexOf('## Customer impact') + 2).filter((l) => l.startsWith('- '));
      expect(impact.slice(0, 4)).toEqual([
        '- Web App: degraded performance at worst, 08:02 PST to 14:28 PST (6h 26m)',
        '- Mobile Apps: degraded performance at worst, 08:02 PST to 14:28 PST (6h 26m)',
        '- Phone Call Routing: major outage at worst, 08:02 PST to 14:28 PST (6h 26m)',
        '- SMS Routing: major outage at worst, 08:02 PST to 14:28 PST (6h 26m)',
      ]);
      expect(lines).toContain('![Public status of each affected component over the incident](https://status.spruce.example/incidents/INC-1/chart.svg)');

      // The customer updates in order, with the seed's labels, times and words, and the longest gap.
      expect(lines).toContain('9 customer updates published; the longest gap between two was 2h 14m, 11:07 PST to 13:21 PST.');
      const listed = lines.flatMap((l) => {
        const m = /^(\d+)\. \*\*(\d\d:\d\d) PST\*\* (\w+) \(D-\d+\): (.*)$/.exec(l);
        return m ? [{ n: Number(m[1]), time: m[2], label: m[3], body: m[4] }] : [];
      });
      const oldestFirst = [...seed.updates].reverse();
      expect(listed.map((u) => u.n)).toEqual(oldestFirst.map((_, i) => i + 1));
      expect(listed.map((u) => u.label)).toEqual(oldestFirst.map((u) => u.label));
      expect(listed.map((u) => u.time)).toEqual(oldestFirst.map((u) => u.posted.replace(/^.* - (\d\d:\d\d) PST$/, '$1')));
      expect(listed.map((u) => u.body)).toEqual(oldestFirst.map((u) => u.body.replace(/\s*\n+\s*/g, ' ').trim()));
      expect(listed.find((u) => u.time === '11:07')!.n + 1).toBe(listed.find((u) => u.time === '13:21')!.n);

      // The chart, from the real server: strict SVG, four lanes, ten ticks (nine updates and the postmortem).
      const res = await fetch(`${server.url}/incidents/INC-1/chart.svg`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^image\/svg\+xml(;|$)/);
      const svg = parseSvg(await res.text());
      expect(svg.name).toBe('svg');
      expect(svg.attrs.role).toBe('img');
      expect(svg.attrs['aria-label']).toContain('Phone Call Routing major outage at worst from 08:02 PST until 14:28 PST');
      expect(titleOf(svg)).toBe('Spruce system availability issues (INC-1): public status over time');
      const lanes = all(svg, (e) => e.name === 'g' && e.attrs.class === 'lane');
      expect(lanes.map(titleOf)).toEqual([
        'Web App: degraded performance at worst, 08:02 PST – 14:28 PST (6h 26m impaired)',
        'Mobile Apps: degraded performance at worst, 08:02 PST – 14:28 PST (6h 26m impaired)',
        'Phone Call Routing: major outage at worst, 08:02 PST – 14:28 PST (6h 26m impaired)',
        'SMS Routing: major outage at worst, 08:02 PST – 14:28 PST (6h 26m impaired)',
      ]);
      const bands = lanes.map((l) => all(l, (e) => e.name === 'rect').map((r) => r.attrs.class));
      expect(bands).toEqual([['band st-degraded_performance'], ['band st-degraded_performance'], ['band st-major_outage'], ['band st-major_outage']]);
      const ticks = all(svg, (e) => e.name === 'g' && e.attrs.class === 'update-tick');
      expect(ticks).toHaveLength(10);
      expect(ticks.map(titleOf)).toEqual([...oldestFirst, seed.postmortem].map((u) => `${u.label} · posted ${u.posted}`));
      // Ticks left to right in time; the postmortem (the next day) past the incident's end.
      const xs = ticks.map((t) => Number(all(t, (e) => e.name === 'rect')[0]!.attrs.x));
      expect(xs).toEqual([...xs].sort((a, b) => a - b));
      expect(postedToMillis(seed.postmortem.posted)).toBeGreaterThan(postedToMillis(oldestFirst.at(-1)!.posted));
      // Static: no script, no event handler, no outside reference.
      expect(all(svg, (e) => e.name === 'script' || e.name === 'foreignObject')).toEqual([]);
      expect(all(svg, (e) => Object.keys(e.attrs).some((a) => /^on|href$/i.test(a)))).toEqual([]);
    } finally {
      await server.close();
      await app.close();
    }
  });
});
