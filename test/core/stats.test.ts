import { describe, expect, it } from 'vitest';
import { runOk as run } from '../helpers.js';
import { engines } from '../support/engines.js';

// `stats`: per severity, count, median and worst time to identify and to resolve, and how many
// incidents kept or missed their update cadence, computed from backfilled (`at:`) history.

const _scope = { platform: 'cli' as const };

describe.each(engines)('stats on $name', (engine) => {
  if (engine.skip) it.skip(engine.skip, () => {});
  else {
    it('gives medians, worsts and cadence kept or missed per severity', async () => {
      const now = Date.parse('2026-12-07T20:00:00Z');
      const app = await engine.app({ SITREP_APPROVAL: 'off', SITREP_UPDATE_CADENCE: 'sev1=30' }, () => now);
      // INC-1 (sev1): updates every 25-30 minutes, kept.
      await run(app, 'declare "Kept" sev:1 at:12:00');
      await run(app, 'draft INC-1 at:12:25 Looking.');
      await run(app, 'update INC-1 status:identified at:12:10 Found it');
      await run(app, 'draft INC-1 at:12:55 Fixing.');
      await run(app, 'resolve INC-1 at:13:20');
      // INC-2 (sev1): silent for 45 minutes, missed.
      await run(app, 'declare "Missed" sev:1 at:14:00');
      await run(app, 'update INC-2 status:identified at:14:40 Found it');
      await run(app, 'resolve INC-2 at:14:45');
      // INC-3 (sev3): no cadence for its severity.
      await run(app, 'declare "Minor" sev:3 at:15:00');

      const s = (await run(app, 'stats')).data as any;
      const sev1 = s.by_severity.find((x: any) => x.severity === 1);
      expect(sev1).toMatchObject({
        incidents: 2,
        resolved: 2,
        median_time_to_identify_ms: 25 * 60_000,
        worst_time_to_identify_ms: 40 * 60_000,
        median_time_to_resolve_ms: 62.5 * 60_000,
        worst_time_to_resolve_ms: 80 * 60_000,
        cadence_minutes: 30,
        cadence_kept: 1,
        cadence_missed: 1,
      });
      expect(s.by_severity.find((x: any) => x.severity === 3)).toMatchObject({
        incidents: 1,
        resolved: 0,
        cadence_kept: null,
        cadence_missed: null,
        worst_time_to_resolve_ms: null,
      });
      const text = (await run(app, 'stats')).text;
      expect(text).toContain(
        'sev1: 2 incident(s), 2 resolved · time to identify median 25m, worst 40m · time to resolve median 1h 2m, worst 1h 20m · update cadence (every 30m) kept by 1, missed by 1',
      );
      expect((await run(app, 'stats since:2026-12-07T14:30')).data).toMatchObject({ total: 1 });
    });
  }
});
