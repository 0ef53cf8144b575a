import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../src/main.js';
import { loadPublicState, type PublicState } from '../../src/statuspage/model.js';
import { runOk, testApp } from '../helpers.js';

// A rebuild of the public state keeps what did not change since the previous one (assembled
// incidents, the window's component history). Whatever happens in between, the state it builds
// must be exactly the one a rebuild from nothing builds: otherwise the page would show stale text,
// statuses or bars until the next midnight.

const HOUR = 3_600_000;
const opts = (app: App) => ({ now: app.now(), zone: 'America/Los_Angeles', orgName: 'Acme', publicUrl: 'https://status.acme.example' });

/** Everything a renderer reads: the reuse bookkeeping is not part of what the page shows. */
function shown(s: PublicState): unknown {
  const { reuse: _reuse, ...rest } = s;
  return JSON.parse(JSON.stringify({ ...rest, archivedIncidentIds: [...rest.archivedIncidentIds], archivedMaintenanceIds: [...rest.archivedMaintenanceIds] }));
}

describe('status page snapshot reuse', () => {
  let app: App | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('builds after every kind of change exactly what a rebuild from nothing builds', async () => {
    let t = Date.UTC(2026, 10, 20, 17, 0);
    app = testApp({ SITREP_APPROVAL: 'required', SITREP_ADMINS: 'cli:admin' }, () => t);
    const a = app;
    let previous: PublicState | undefined;
    let reusedOnce = false;
    /** Rebuilds on top of the previous state and compares with a rebuild from nothing. */
    const check = (what: string) => {
      const incremental = loadPublicState(a.db, opts(a), previous);
      const fromNothing = loadPublicState(a.db, opts(a));
      expect(shown(incremental), what).toEqual(shown(fromNothing));
      if (previous) {
        const kept = incremental.incidents.filter((i) => previous?.incidents.includes(i));
        if (kept.length) reusedOnce = true;
      }
      previous = incremental;
    };
    await runOk(a, 'component add "Web App" group:Apps', 'cli:admin');
    await runOk(a, 'component add "API"', 'cli:admin');
    await runOk(a, 'approver add @bob', 'cli:admin');
    check('empty page');
    for (let i = 1; i <= 3; i++) {
      t += HOUR;
      await runOk(a, `declare "Incident ${i}" sev:2 components:web-app=major`);
      await runOk(a, `draft INC-${i} status:investigating Looking into errors ${i}.`);
      await runOk(a, `approve D-${2 * i - 1}`, 'cli:bob');
      check(`incident ${i} published`);
      await runOk(a, `draft INC-${i} status:identified components:api=degraded Found it ${i}.`);
      check(`a draft of incident ${i} (nothing public)`);
    }
    t += HOUR;
    // Drafts written earlier, approved later: their ids are older than what was published since.
    await runOk(a, 'approve D-2', 'cli:bob');
    check('an old draft approved');
    const same = await runOk(a, 'draft INC-2 status:investigating Still looking; no new status.');
    await runOk(a, `approve ${String(same.data.id)}`, 'cli:bob');
    check('an update that keeps the public status');
    await runOk(a, 'note INC-2 internal only');
    await runOk(a, 'severity INC-2 sev1');
    check('internal note and severity');
    t += HOUR;
    await runOk(a, 'resolve INC-1 Fixed for everyone.', 'cli:bob');
    check('resolved');
    await runOk(a, 'components INC-3 web-app=operational');
    check('an internal component change');
    await runOk(a, 'approve D-6', 'cli:bob');
    check('another publication with component changes');
    t += HOUR;
    await runOk(a, 'postmortem publish INC-1 What happened, and what we changed.', 'cli:bob');
    check('postmortem published');
    await runOk(a, 'component add "Billing"', 'cli:admin');
    check('a component added');
    // Past midnight in the page's zone: day labels and the uptime window move.
    t += 20 * HOUR;
    check('the next day');
    await runOk(a, 'declare "Backfilled" sev:3 components:api=major started:2026-08-01T10:00Z');
    const late = await runOk(a, 'draft INC-4 status:investigating An old problem, recorded late.');
    await runOk(a, `approve ${String(late.data.id)}`, 'cli:bob');
    check('history recorded as happening before the window');
    expect(reusedOnce).toBe(true);
  });
});
