import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../db/client.js';
import { SqliteStore } from '../../db/store.js';
import { policyOf } from '../../src/app.js';
import type { Command } from '../../src/commands/grammar.js';
import { pin } from '../../src/commands/pin.js';
import { createRunner, forwardRunner } from '../../src/commands/runner.js';
import { executeCommand } from '../../src/commands/execute.js';
import { testConfig } from '../helpers.js';

// The runner every surface uses (src/commands/runner.ts): one parse, one mapping of failures.

async function setup(execute = executeCommand) {
  const config = testConfig({ SITREP_ADMINS: '' });
  const db = openDatabase(':memory:');
  const store = SqliteStore.over(db, ':memory:');
  const logged: Array<Record<string, unknown>> = [];
  let changes = 0;
  const runner = createRunner({
    store,
    now: () => Date.parse('2021-12-07T16:00:00Z'),
    log: { error: (obj) => void logged.push(obj) },
    policy: policyOf(config),
    outlets: [],
    execute,
    onChange: () => void changes++,
  });
  return { runner, db, logged, changes: () => changes };
}

describe('the command runner', () => {
  it('runs a parse it handed out, and notifies once per successful command', async () => {
    const { runner, changes } = await setup();
    const line = runner.parse('declare "DB down" sev:2', 'slack');
    expect(line.ok).toBe(true);
    expect(await runner.run({ parsed: line }, 'slack:U1', { platform: 'slack' })).toMatchObject({ ok: true, reply: { data: { id: 'INC-1' } } });
    expect(changes()).toBe(1);
    expect(await runner.run('bogus', 'slack:U1', { platform: 'slack' })).toMatchObject({ ok: false, error: { code: 'INVALID' } });
    expect(changes()).toBe(1);
  });

  it('answers an unexpected failure with one line carrying the reference id the log line has', async () => {
    const { runner, logged } = await setup(() => {
      throw new Error('disk on fire');
    });
    const result = await runner.run('list', 'cli:a', { platform: 'cli' });
    if (result.ok) throw new Error('expected a failure');
    expect(result.error.code).toBe('INTERNAL');
    expect(result.error.message).not.toContain('\n');
    expect(result.error.message).not.toContain('disk on fire');
    expect(result.error.ref).toMatch(/^ERR-[0-9a-f]{8}$/);
    expect(result.error.message).toContain(result.error.ref);
    expect(logged).toMatchObject([{ errorRef: result.error.ref, platform: 'cli' }]);
    const outside = runner.failure(new Error('commit failed'), { platform: 'slack' });
    expect(outside.error.message).toContain(outside.error.ref);
    expect(logged[1]).toMatchObject({ errorRef: outside.error.ref, platform: 'slack' });
  });

  it('applies a platform request once; a refused one rolls its key back unless kept', async () => {
    const { runner } = await setup();
    const key = { platform: 'slack' as const, id: 'event:1' };
    const declare: Command = { verb: 'declare', title: 'DB down', severity: 2 };
    expect(await runner.once(key, (tx) => runner.run({ command: declare }, 'slack:U1', { platform: 'slack' }, {}, tx))).toMatchObject({ ok: true });
    expect(await runner.once(key, (tx) => runner.run({ command: declare }, 'slack:U1', { platform: 'slack' }, {}, tx))).toBe('duplicate');
    const refused = { platform: 'slack' as const, id: 'view:1' };
    expect(await runner.once(refused, (tx) => runner.run('reopen INC-9', 'slack:U1', { platform: 'slack' }, {}, tx))).toMatchObject({ ok: false });
    expect(await runner.once(refused, (tx) => runner.run('note retried', 'slack:U1', { platform: 'slack' }, {}, tx))).toMatchObject({ ok: true });
    const kept = { platform: 'teams' as const, id: 'a|message|1' };
    expect(await runner.once(kept, (tx) => runner.run('reopen INC-9', 'teams:29:a', { platform: 'teams' }, {}, tx), { keepRefused: true })).toMatchObject({
      ok: false,
    });
    expect(await runner.once(kept, (tx) => runner.run('note retried', 'teams:29:a', { platform: 'teams' }, {}, tx), { keepRefused: true })).toBe('duplicate');
  });

  it('runs the pin verb: the message on the timeline, by its author, at its time', async () => {
    const { runner, changes } = await setup();
    await runner.run('declare "DB down"', 'slack:U1', { platform: 'slack' });
    const posted = Date.parse('2021-12-07T15:00:00Z');
    const out = await runner.invoke(
      (ctx) => pin(ctx, { incidentId: 1, author: 'slack:U2', postedAt: posted, text: 'failover done', source: { source: 'slack', channel: 'C1', ts: '1.2' } }),
      'slack:U3',
      { platform: 'slack', incidentId: 1 },
    );
    expect(out.ok).toBe(true);
    expect(changes()).toBe(2);
    const events = await runner.run('timeline INC-1', 'slack:U1', { platform: 'slack' });
    expect(events.ok && events.reply.data.events).toContainEqual(
      expect.objectContaining({ kind: 'pinned', actor: 'slack:U2', text: 'failover done', occurred_at: expect.any(String) }),
    );
  });

  it('a forward runner refuses use before it is bound, and is bound once', async () => {
    const late = forwardRunner();
    expect(() => late.runner.parse('list', 'cli')).toThrow(/before the composition root made it/);
    const { runner } = await setup();
    late.bind(runner);
    expect(late.runner.parse('list', 'cli').ok).toBe(true);
    expect(() => late.bind(runner)).toThrow(/bound once/);
  });
});
