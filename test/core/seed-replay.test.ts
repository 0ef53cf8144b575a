import { describe, expect, it } from 'vitest';
import { cli, tempDbFile } from '../helpers.js';

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
