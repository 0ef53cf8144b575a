import type { ChildProcess } from 'node:child_process';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../adapters/console/cli.js';
import { loadConfig } from '../../src/config.js';
import { createApp } from '../../src/main.js';
import { createLogger } from '../../src/logger.js';
import { startWebhookReceiver, type WebhookReceiver } from '../fakes/webhook-receiver.js';
import { tempDb } from '../mirror/helpers.js';
import { ensureBuilt, serveProcess } from '../slack/process.js';

// kill -9 with deliveries pending and in flight: a restarted server delivers every one of them.
// The real server runs as a child process (`node dist/src/bin.js serve`); commands go through the
// CLI entry on the same database file, as an operator's would.

beforeAll(() => {
  // `npm test` builds first (pretest); this keeps a lone `vitest run test/webhook` honest too.
  ensureBuilt();
}, 180_000);

const children: ChildProcess[] = [];
let rx: WebhookReceiver | undefined;
afterEach(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.length = 0;
  await rx?.close();
});

function cli(db: string) {
  return async (...argv: string[]) => {
    let out = '';
    let err = '';
    const config = loadConfig({ SITREP_DB: db, LOG_LEVEL: 'silent', USER: 'ops', SITREP_APPROVAL: 'off' });
    const code = await runCli([...argv, '--json'], {
      config,
      createApp: (c) => createApp(c, { log: createLogger('silent') }),
      out: (s) => (out += s),
      err: (s) => (err += s),
    });
    if (code !== 0) throw new Error(`sitrep ${argv.join(' ')} exited ${code}: ${out}${err}`);
    return JSON.parse(out);
  };
}

async function serve(db: string): Promise<ChildProcess> {
  const s = await serveProcess(0, { SITREP_DB: db, SITREP_APPROVAL: 'off', SITREP_DELIVERY_TIMEOUT_SECONDS: '1' });
  children.push(s.child);
  return s.child;
}

const kill9 = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });

describe('crash safety', () => {
  it('a server killed with deliveries in flight and pending loses nothing: the restarted one delivers all', async () => {
    const db = tempDb();
    const sitrep = cli(db);
    rx = await startWebhookReceiver('hang');
    await sitrep('component', 'add', 'Web App');
    const { secret } = await sitrep('subscribe', `webhook:${rx.url}`);
    expect(secret).toMatch(/^whsec_/);
    for (const n of [1, 2, 3]) {
      await sitrep('declare', `Outage ${n}`, 'components:web-app=major');
      await sitrep('draft', `INC-${n}`, `Update one for incident ${n}`);
    }

    const first = await serve(db);
    await rx.waitFor((r) => new Set(r.requests.map((q) => q.id)).size === 3, 15_000);
    const inFlightIds = new Map(rx.requests.map((q) => [q.json.incident.id as string, q.id]));
    await kill9(first);

    // While no server runs, the CLI keeps enqueueing.
    await sitrep('draft', 'INC-2', 'Update two for incident 2');
    const waiting = (await sitrep('deliveries')).deliveries as Array<{ state: string }>;
    expect(waiting).toHaveLength(4);
    expect(waiting.filter((d) => d.state === 'in_flight' || d.state === 'pending')).toHaveLength(4);

    rx.setDefault({ status: 200 });
    const second = await serve(db);
    await rx.waitFor((r) => new Set(r.accepted().map((q) => q.json.incident.id)).size === 3, 20_000);
    await new Promise((r) => setTimeout(r, 500));
    await kill9(second);

    const accepted = rx.accepted();
    // One accepted delivery per incident, none twice.
    expect(accepted.map((q) => q.json.incident.id).sort()).toEqual(['INC-1', 'INC-2', 'INC-3']);
    expect(new Set(accepted.map((q) => q.id)).size).toBe(3);
    // Re-sent after the crash under the same webhook-id the receiver saw before it.
    for (const inc of ['INC-1', 'INC-3']) expect(accepted.find((q) => q.json.incident.id === inc)!.id).toBe(inFlightIds.get(inc));
    // INC-2's newest message carries both of its updates, newest first.
    const inc2 = accepted.find((q) => q.json.incident.id === 'INC-2')!;
    expect(inc2.json.incident.incident_updates.map((u: { body: string }) => u.body)).toEqual(['Update two for incident 2', 'Update one for incident 2']);

    const after = (await sitrep('deliveries')).deliveries as Array<{ state: string; incident: string }>;
    expect(after.map((d) => d.state).sort()).toEqual(['delivered', 'delivered', 'delivered', 'folded']);
  }, 90_000);
});
