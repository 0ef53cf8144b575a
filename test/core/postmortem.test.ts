import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type App, type RunningServer } from '../../src/main.js';
import { engines } from '../support/engines.js';

let server: RunningServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

async function run(app: App, text: string, actor = 'cli:alice') {
  const r = await app.run(text, actor, { platform: 'cli' });
  if (!r.ok) throw new Error(`${text} → ${r.error.code}: ${r.error.message}`);
  return r.reply;
}

async function replay(app: App) {
  for (const c of ['Web App', 'SMS Routing']) await run(app, `component add "${c}"`);
  await run(app, 'approver add @lee');
  await run(app, 'declare "SMS delays" sev:2 components:sms-routing=major started:2021-12-07T07:32 at:2021-12-07T07:40');
  await run(app, 'draft at:2021-12-07T08:02 We are investigating delayed SMS.');
  await run(app, 'approve D-1', 'cli:lee');
  await run(app, 'update status:identified components:sms-routing=partial at:2021-12-07T08:43 Twilio upstream');
  await run(app, 'followup add Alert on SMS queue depth owner:@bob');
  await run(app, 'resolve at:2021-12-07T14:28');
}

describe.each(engines)('postmortem on $name', (engine) => {
  if (engine.skip) it.skip(engine.skip, () => {});
  else {
    it('drafts markdown from the timeline: metrics, impact, timeline, follow-ups', async () => {
      const app = await engine.app({ SITREP_TIMEZONE: 'America/Los_Angeles' });
      await replay(app);
      const md = (await run(app, 'postmortem INC-1')).data.markdown as string;
      expect(md).toContain('# Postmortem: SMS delays (INC-1)');
      expect(md).toContain('- **Impact:** Dec 07, 2021 - 07:32 PST – Dec 07, 2021 - 14:28 PST (6h 56m)');
      expect(md).toContain('| Time to detect (impact → declared) | 8m |');
      expect(md).toContain('| Time to identify | 1h 11m |');
      expect(md).toContain('| Time to first customer update | 30m |');
      expect(md).toContain('- SMS Routing: major outage at worst');
      expect(md).toMatch(/- \*\*08:43 PST\*\* status changed \(@alice\): \[investigating → identified\]/);
      expect(md).toContain('- [ ] F-1 Alert on SMS queue depth (owner @bob)');
    });

    it('gives the figures: clock times of the metrics, what customers were shown per component, the updates and their longest gap, follow-up owners and state', async () => {
      const app = await engine.app({ SITREP_TIMEZONE: 'America/Los_Angeles', SITREP_PUBLIC_URL: 'https://status.example.test' });
      for (const c of ['Web App', 'SMS Routing']) await run(app, `component add "${c}"`);
      await run(app, 'approver add @lee');
      await run(app, 'declare "SMS delays" sev:2 components:sms-routing=major started:2021-12-07T07:32 at:2021-12-07T07:40');
      await run(app, 'draft at:2021-12-07T08:02 We are investigating delayed SMS.');
      await run(app, 'approve D-1', 'cli:lee');
      await run(app, 'draft at:2021-12-07T09:30 Still looking into delayed SMS.');
      await run(app, 'approve D-2', 'cli:lee');
      await run(app, 'update status:identified components:sms-routing=partial at:2021-12-07T09:40 Twilio upstream');
      await run(app, 'draft at:2021-12-07T09:50 SMS is recovering.');
      await run(app, 'approve D-3', 'cli:lee');
      await run(app, 'followup add Alert on SMS queue depth owner:@bob');
      await run(app, 'followup add Write the SMS runbook');
      await run(app, 'followup done F-2');
      await run(app, 'resolve at:2021-12-07T14:28');
      const lines = ((await run(app, 'postmortem INC-1')).data.markdown as string).split('\n');
      expect(lines).toContain('| Time to identify | 2h 8m | 09:40 PST |');
      expect(lines).toContain('| Time to resolve | 6h 56m | 14:28 PST |');
      expect(lines).toContain('| Longest gap between customer updates | 1h 28m | 08:02 PST to 09:30 PST |');
      // The resolve carried no customer text, so customers still see the outage: the postmortem says so.
      expect(lines).toContain(
        '- SMS Routing: major outage at worst, from 08:02 PST; customers still see partial outage (no published update has shown it recovered)',
      );
      expect(lines).toContain('3 customer updates published; the longest gap between two was 1h 28m, 08:02 PST to 09:30 PST.');
      expect(lines.filter((l) => /^\d+\. /.test(l))).toEqual([
        '1. **08:02 PST** Investigating (D-1): We are investigating delayed SMS.',
        '2. **09:30 PST** Update (D-2): Still looking into delayed SMS.',
        '3. **09:50 PST** Identified (D-3): SMS is recovering.',
      ]);
      expect(lines).toContain('![Public status of each affected component over the incident](https://status.example.test/incidents/INC-1/chart.svg)');
      expect(lines).toContain('- [ ] F-1 Alert on SMS queue depth (owner @bob) · open');
      // Done today, not on the incident's day: the date is given.
      expect(lines.find((l) => l.startsWith('- [x] F-2'))).toMatch(
        /^- \[x\] F-2 Write the SMS runbook \(no owner\) · done \w{3} \d\d, \d{4} - \d\d:\d\d P[SD]T$/,
      );
      expect(lines.find((l) => l.includes('followup added') && l.includes('F-2'))).toMatch(/^- \*\*\w{3} \d\d \d\d:\d\d P[SD]T\*\* followup added/);
    });

    it('for an incident customers were never told about: the internal impact, no updates, and where the chart will be', async () => {
      const app = await engine.app({ SITREP_TIMEZONE: 'America/Los_Angeles', SITREP_PUBLIC_URL: 'https://status.example.test' });
      await run(app, 'component add "Web App"');
      await run(app, 'declare "Quiet one" components:web-app=partial started:2021-12-07T07:32 at:2021-12-07T07:40');
      const lines = ((await run(app, 'postmortem INC-1')).data.markdown as string).split('\n');
      expect(lines).toContain('- Web App: partial outage at worst (internal status: no published update named it)');
      expect(lines).toContain('- None published: customers have not been told.');
      expect(lines).toContain('| Longest gap between customer updates | — | — |');
      expect(lines).toContain('_The chart (https://status.example.test/incidents/INC-1/chart.svg) appears once a customer update is published._');
    });

    it('publishes its customer-facing part only after approval, above the updates on the page', async () => {
      const app = await engine.app({ SITREP_TIMEZONE: 'America/Los_Angeles' });
      await replay(app);
      const d = (await run(app, 'postmortem publish INC-1 A queue filled up when our SMS provider slowed down; we now alert on it.')).data;
      expect(d).toMatchObject({ id: 'D-2', state: 'draft' });
      server = await startServer(app, 0, '127.0.0.1');
      const before = await (await fetch(`${server.url}/incidents/INC-1`)).text();
      expect(before).not.toContain('A queue filled up');
      await run(app, 'approve D-2', 'cli:lee');
      const html = await (await fetch(`${server.url}/incidents/INC-1`)).text();
      expect(html.indexOf('A queue filled up')).toBeGreaterThan(-1);
      expect(html.indexOf('A queue filled up')).toBeLessThan(html.indexOf('We are investigating delayed SMS.'));
      expect((await run(app, 'show INC-1')).data).toMatchObject({ status: 'resolved', public_status: 'investigating' });
    });

    it('refuses to publish for an open or never-public incident, writing nothing', async () => {
      const app = await engine.app();
      await run(app, 'declare "Quiet one"');
      const before = await engine.rowCounts(app);
      const open = await app.run('postmortem publish', 'cli:alice', { platform: 'cli' });
      expect(open.ok || open.error.message).toMatch(/still investigating; resolve it/);
      expect(await engine.rowCounts(app)).toEqual(before);
      await run(app, 'resolve');
      const before2 = await engine.rowCounts(app);
      const never = await app.run('postmortem publish INC-1', 'cli:alice', { platform: 'cli' });
      expect(never.ok || never.error.message).toMatch(/never public/);
      expect(await engine.rowCounts(app)).toEqual(before2);
    });
  }
});
