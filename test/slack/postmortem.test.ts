import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './harness.js';

// The postmortem reaches Slack with the incident's chart as a link: in the reply to whoever
// published it and in the thread reply, through the real receiver, outbox and the fake Web API.

const PUBLIC = 'https://status.example.test';
let h: Harness;
beforeEach(async () => {
  h = await startHarness({ SITREP_APPROVAL: 'off', SITREP_PUBLIC_URL: PUBLIC });
});
afterEach(async () => {
  await h.close();
});

const blocksText = (m: { blocks?: unknown[] } | undefined) => JSON.stringify(m?.blocks ?? []);

async function slash(text: string, responseId: string): Promise<string> {
  const res = await h.slash(text, { responseId });
  expect(res.status).toBe(200);
  await h.fake.waitFor((f) => f.responses.some((r) => r.id === responseId));
  return String(h.fake.responses.find((r) => r.id === responseId)!.body.text);
}

describe('postmortem publish in Slack', () => {
  it('posts the postmortem to the thread with a link to the chart, which the server serves', async () => {
    expect((await h.app.run('component add "Checkout"', 'cli:admin', { platform: 'cli' })).ok).toBe(true);
    expect(await slash('declare Checkout errors components:checkout=major', 'declare')).toContain('INC-1 declared');
    await slash('draft INC-1 We are looking into checkout errors.', 'draft');
    await slash('resolve INC-1 Checkout works again.', 'resolve');
    const reply = await slash('postmortem publish INC-1 A bad deploy broke checkout; we now canary deploys.', 'pm');
    const link = `${PUBLIC}/incidents/INC-1/chart.svg`;
    expect(reply).toContain('Postmortem for INC-1 published');
    expect(reply).toContain(link);
    await h.drain();

    const root = h.fake.messages.find((m) => !m.thread_ts)!;
    const pm = h.fake.messages.filter((m) => m.thread_ts === root.ts).find((m) => blocksText(m).includes('Postmortem'))!;
    expect(pm).toBeDefined();
    expect(blocksText(pm)).toContain('A bad deploy broke checkout');
    expect(blocksText(pm)).toContain(`Chart: ${link}`);

    // The link names a chart that exists: the same path on this server.
    const res = await fetch(`${h.url}${new URL(link).pathname}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    expect(await res.text()).toContain('Checkout');
  });
});
