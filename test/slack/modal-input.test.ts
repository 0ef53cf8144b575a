import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_CUSTOMER_TEXT, MAX_TEXT, MAX_TITLE, checkInputText } from '../../src/commands/grammar.js';
import { rowCounts } from '../helpers.js';
import { startHarness, viewSubmission, type Harness } from './harness.js';

// Modal fields get the checks typed commands get: control characters, Unicode noncharacters
// (U+FFFE, U+FFFF, U+FDD0–U+FDEF), lone surrogates and over-long text are refused with one line
// shown on the field in the still-open modal, and nothing is written. Through signed
// view_submission requests to the real receiver, the way Slack sends them.

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
  expect((await h.slash('declare Modal checks sev:3')).status).toBe(200);
  expect((await h.slash('draft INC-1 We are looking into it')).status).toBe(200);
  await h.fake.waitFor((f) => f.responses.length === 2);
  await h.drain();
});
afterEach(async () => {
  await h.close();
});

/** Each modal's free-text field: the block it sits in, what the typed command calls it, and its limit there. */
const MODALS = [
  {
    callbackId: 'sitrep_declare',
    block: 'title',
    what: 'the title',
    max: MAX_TITLE,
    meta: { channel: 'C0GENERAL' },
    extra: { severity: { type: 'static_select', selected_option: { value: '3' } } },
  },
  { callbackId: 'sitrep_update', block: 'text', what: 'the update text', max: MAX_TEXT, meta: { incidentId: 1 } },
  { callbackId: 'sitrep_draft', block: 'text', what: 'the customer-facing text', max: MAX_CUSTOMER_TEXT, meta: { incidentId: 1 } },
  { callbackId: 'sitrep_resolve', block: 'text', what: 'the customer-facing text', max: MAX_CUSTOMER_TEXT, meta: { incidentId: 1 } },
  { callbackId: 'sitrep_approve_edit', block: 'text', what: 'the replacement text', max: MAX_CUSTOMER_TEXT, meta: { incidentId: 1, draftId: 1 } },
  { callbackId: 'sitrep_reject', block: 'reason', what: 'the reason', max: MAX_TEXT, meta: { incidentId: 1, draftId: 1 } },
] as const;

/** What the typed command's check says about this text, as a sentence (undefined: it passes). */
function typedCheckSays(what: string, text: string, max: number): string | undefined {
  try {
    checkInputText(what, text, max);
    return undefined;
  } catch (e) {
    const msg = (e as Error).message;
    return msg.charAt(0).toUpperCase() + msg.slice(1);
  }
}

const HOSTILE = {
  'a control character': 'DB down \u0007 again',
  'U+FFFE': 'DB down \ufffe',
  'U+FFFF': 'DB down \uffff',
  'U+FDD0': 'DB \ufdd0 down',
  'U+FDEF': 'DB \ufdef down',
  'a lone high surrogate': 'DB down \ud800',
  'a lone low surrogate': 'DB \udc00 down',
  'U+1FFFE (a noncharacter outside the BMP)': 'DB down \ud83f\udffe',
};

describe('modal fields go through the typed commands’ text checks', () => {
  for (const m of MODALS) {
    it(`${m.callbackId}: hostile or over-long ${m.block} is refused on the field, in one line, with nothing written`, async () => {
      const cases: Array<[string, string]> = [...Object.entries(HOSTILE), ['text over the limit', 'x'.repeat(m.max + 1)]];
      for (const [what, value] of cases) {
        const before = rowCounts(h.app.db);
        const calls = h.fake.calls.length;
        const res = await h.interaction(
          viewSubmission({
            callbackId: m.callbackId,
            meta: m.meta,
            values: { [m.block]: { type: 'plain_text_input', value }, ...('extra' in m ? m.extra : {}) },
          }),
        );
        expect(res.status, what).toBe(200);
        const body = res.json();
        expect(body.response_action, what).toBe('errors');
        const error = String(body.errors[m.block]);
        expect(error.split('\n'), what).toHaveLength(1);
        const says = typedCheckSays(m.what, value, m.max);
        expect(says, what).toBeDefined();
        expect(error, what).toBe(says);
        if (what === 'text over the limit') expect(error).toContain(String(m.max));
        expect(rowCounts(h.app.db), what).toEqual(before);
        expect(h.fake.calls.length, what).toBe(calls);
      }
    });
  }

  it('ordinary text with tabs and line breaks still goes through', async () => {
    const res = await h.interaction(
      viewSubmission({
        callbackId: 'sitrep_update',
        meta: { incidentId: 1 },
        values: { text: { type: 'plain_text_input', value: 'Step 1:\tfailover\nStep 2:\tverify — done ✅' } },
      }),
    );
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    await h.drain();
    expect(h.fake.messages.some((msg) => msg.text.includes('Step 2:') || JSON.stringify(msg.blocks ?? []).includes('Step 2:'))).toBe(true);
  });
});
