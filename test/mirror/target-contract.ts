import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeliveryResult, OutboxMessage, Target } from '../../src/mirror/target.js';

// The contract every Target implementation runs (webhooks here; Slack, Teams and Statuspage
// targets can import it too). A Target tries once and answers with one of three results; it never
// throws, and it gives up promptly when the worker aborts the attempt.

export interface ContractUpstream {
  /** The next attempt succeeds. */
  ok(): void;
  /** The next attempt meets a server error (5xx or the platform's equivalent). */
  fail(): void;
  /** The next attempt is rate limited with Retry-After: `seconds`. */
  rateLimit(seconds: number): void;
  /** The next attempt never gets an answer. */
  hang(): void;
}

export interface ContractHarness {
  target: Target;
  /** An outbox `target` value this implementation delivers, and one it must not claim. */
  handled: string;
  unhandled: string;
  message(over?: Partial<OutboxMessage>): OutboxMessage;
  upstream: ContractUpstream;
  close(): Promise<void>;
}

const never = () => new AbortController().signal;

export function describeTargetContract(name: string, setup: () => Promise<ContractHarness>): void {
  describe(`Target contract: ${name}`, () => {
    let h: ContractHarness;
    beforeEach(async () => {
      h = await setup();
    });
    afterEach(async () => {
      await h.close();
    });

    it('claims its own target values only', async () => {
      expect(h.target.handles(h.handled)).toBe(true);
      expect(h.target.handles(h.unhandled)).toBe(false);
      expect(h.target.folds === undefined || typeof h.target.folds === 'boolean').toBe(true);
      if (h.target.breakerKey) expect(h.target.breakerKey(h.handled)).toMatch(/\S/);
    });

    it('answers delivered when the upstream accepts', async () => {
      h.upstream.ok();
      const r = await h.target.deliver(h.message(), never());
      expect(r.kind).toBe('delivered');
    });

    it('answers retry (with a reason) on a server error, without throwing', async () => {
      h.upstream.fail();
      const r = await h.target.deliver(h.message(), never());
      expect(r).toMatchObject({ kind: 'retry', error: expect.stringMatching(/\S/) });
    });

    it('passes Retry-After on to the worker', async () => {
      h.upstream.rateLimit(7);
      const r = (await h.target.deliver(h.message(), never())) as Extract<DeliveryResult, { kind: 'retry' }>;
      expect(r.kind).toBe('retry');
      expect(r.retryAfterMs).toBeGreaterThanOrEqual(6_000);
      expect(r.retryAfterMs).toBeLessThanOrEqual(7_000);
    });

    it('settles promptly, not delivered, when the attempt is aborted', async () => {
      h.upstream.hang();
      const ac = new AbortController();
      const p = h.target.deliver(h.message(), ac.signal);
      setTimeout(() => ac.abort(new Error('timeout')), 100);
      const r = await Promise.race([p, new Promise<'stuck'>((res) => setTimeout(() => res('stuck'), 3_000))]);
      expect(r).not.toBe('stuck');
      expect((r as DeliveryResult).kind).not.toBe('delivered');
    });

    it("delivers a folded, late message too (the notices are the target's to show)", async () => {
      h.upstream.ok();
      const r = await h.target.deliver(
        h.message({ folded: 2, foldNotice: 'This message folds in 2 earlier updates.', delayNotice: 'Delayed: originally posted 08:54 PST' }),
        never(),
      );
      expect(r.kind).toBe('delivered');
    });
  });
}
