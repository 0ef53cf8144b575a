import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../adapters/slack/queue.js';

// The queue behind Slack's acks: work never runs in the caller's turn, runs in arrival order, is
// bounded, and a slice's wrapper (the database transaction) decides the fate of the whole slice.

describe('WorkQueue', () => {
  it('runs jobs later, one at a time, in the order they were queued', async () => {
    const q = new WorkQueue({ sliceMs: 0 });
    const order: number[] = [];
    const done = [1, 2, 3, 4, 5].map((n) =>
      q.run(() => {
        order.push(n);
        return n * 10;
      }),
    );
    expect(order).toEqual([]);
    expect(await Promise.all(done)).toEqual([10, 20, 30, 40, 50]);
    expect(order).toEqual([1, 2, 3, 4, 5]);
  });

  it('lets I/O in between slices: a callback queued behind the first slice runs before the last job', async () => {
    const q = new WorkQueue({ sliceMs: 0 });
    const order: string[] = [];
    const done = Array.from({ length: 3 }, (_, i) => q.run(() => order.push(`job${i}`)));
    setImmediate(() => order.push('ack'));
    await Promise.all(done);
    expect(order.indexOf('ack')).toBeGreaterThan(0);
    expect(order.indexOf('ack')).toBeLessThan(order.length - 1);
  });

  it('a slice runs only what was waiting when it began; work queued meanwhile waits for the next turn', async () => {
    const q = new WorkQueue({ sliceMs: 60_000 });
    const order: string[] = [];
    let inner: Promise<unknown> | undefined;
    const a = q.run(() => {
      order.push('a');
      inner = q.run(() => order.push('c'));
    });
    const b = q.run(() => order.push('b'));
    setImmediate(() => order.push('io'));
    await Promise.all([a, b]);
    await inner;
    expect(order).toEqual(['a', 'b', 'io', 'c']);
  });

  it('is bounded: room() waits while the queue is full and frees in arrival order', async () => {
    const q = new WorkQueue({ max: 2, sliceMs: 0 });
    const ran: string[] = [];
    const first = [q.run(() => ran.push('a')), q.run(() => ran.push('b'))];
    let roomFor = '';
    const waiting = q.room().then(() => {
      roomFor = 'c';
      return q.run(() => ran.push('c'));
    });
    expect(q.size).toBe(2);
    expect(roomFor).toBe('');
    await Promise.all([...first, waiting]);
    expect(ran).toEqual(['a', 'b', 'c']);
  });

  it('a failing job fails alone; a failing slice wrapper fails every job of the slice', async () => {
    let failWrap = false;
    const q = new WorkQueue({
      wrap: async (slice) => {
        await slice(undefined);
        if (failWrap) throw new Error('commit failed');
      },
    });
    const ok = q.run(() => 'fine');
    const bad = q.run(() => {
      throw new Error('refused');
    });
    await expect(ok).resolves.toBe('fine');
    await expect(bad).rejects.toThrow('refused');
    failWrap = true;
    const lost = [q.run(() => 1), q.run(() => 2)];
    await expect(Promise.all(lost)).rejects.toThrow('commit failed');
    await expect(lost[1]).rejects.toThrow('commit failed');
  });
});
