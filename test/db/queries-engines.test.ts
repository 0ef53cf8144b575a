import { describe, expect, it } from 'vitest';
import {
  anyRowOnItsWay,
  insertOutboxRow,
  isOwnPost,
  lastOutboxId,
  lastRootRow,
  markDead,
  outboxRowState,
  recentOutboxRows,
  requeueDeadRow,
  statesAfter,
} from '../../db/queries/outbox.js';
import { deleteSubscription, deadSubscriptionRowIds, insertSubscription } from '../../db/queries/subscriptions.js';
import { applyComponentChanges, findIncident, insertIncident } from '../../db/queries/incidents.js';
import { insertComponent, lastComponentPosition, listComponents } from '../../db/queries/components.js';
import { insertEvent, loadEvents } from '../../db/queries/timeline.js';
import { recordProcessedEvent } from '../../db/queries/inbox.js';
import { engines } from '../support/engines.js';

// The queries whose SQL differs between the engines (db/queries/prepared.ts's per-engine texts,
// PostgreSQL's collation, booleans, JSON arrays of ids, ids handed back by inserts), run through
// each engine's store: the same calls give the same answers.

describe.each(engines)('engine-neutral queries on $name', (engine) => {
  if (engine.skip) it.skip(engine.skip, () => {});
  else {
    it('numbers inserts, keeps JSON payloads and booleans, and reads times back as numbers', async () => {
      const { store } = await engine.app();
      const at = 1_796_160_000_123;
      const ids = await store.transaction(async (tx) => [
        await insertOutboxRow(tx, at, {
          incidentId: null,
          target: 'webhook:S-1',
          kind: 'webhook',
          payload: { a: [1, 'two'], b: { c: null } },
          customerFacing: true,
        }),
        await insertOutboxRow(tx, at + 1, { incidentId: null, target: 'webhook:S-1', kind: 'webhook', payload: {} }),
      ]);
      expect(ids).toEqual([1, 2]);
      const rows = await store.read((db) => recentOutboxRows(db, undefined, 10));
      expect(rows.map((r) => [r.id, r.customerFacing, r.createdAt, r.payload])).toEqual([
        [1, true, at, { a: [1, 'two'], b: { c: null } }],
        [2, false, at + 1, {}],
      ]);
      expect(await store.read((db) => outboxRowState(db, 2))).toEqual({ state: 'pending', target: 'webhook:S-1' });
      expect(await store.read((db) => outboxRowState(db, 3))).toBeUndefined();
      expect(await store.transaction((tx) => markDead(tx, 1, 'pending', 'gone'))).toMatchObject({ id: 1, state: 'dead', lastError: 'gone' });
      expect(await store.transaction((tx) => markDead(tx, 1, 'pending', 'again'))).toBeUndefined();
      expect(await store.transaction((tx) => requeueDeadRow(tx, 1, { now: at, deadlineAt: null, note: 'retried' }))).toBe(true);
      expect(await store.transaction((tx) => requeueDeadRow(tx, 1, { now: at, deadlineAt: null, note: 'retried' }))).toBe(false);
      expect(await store.transaction((tx) => recordProcessedEvent(tx, 'slack', 'Ev1', at))).toBe(true);
      expect(await store.transaction((tx) => recordProcessedEvent(tx, 'slack', 'Ev1', at))).toBe(false);
    });

    it('counts the rows written after a mark by state, and says whether any is still on its way', async () => {
      const { store } = await engine.app();
      expect(await store.read((db) => lastOutboxId(db))).toBe(0);
      expect(await store.read((db) => anyRowOnItsWay(db))).toBe(false);
      const row = (n: number) => ({ incidentId: null, target: `webhook:S-${n}`, kind: 'webhook', payload: {} });
      await store.transaction(async (tx) => insertOutboxRow(tx, 1, row(1)));
      const mark = await store.read((db) => lastOutboxId(db));
      expect(mark).toBe(1);
      const ids = await store.transaction(async (tx) => [
        await insertOutboxRow(tx, 2, row(2)),
        await insertOutboxRow(tx, 2, row(3)),
        await insertOutboxRow(tx, 2, row(4)),
      ]);
      await store.transaction((tx) => markDead(tx, ids[0]!, 'pending', 'gone'));
      expect(await store.read((db) => statesAfter(db, mark))).toEqual(
        new Map([
          ['pending', 2],
          ['dead', 1],
        ]),
      );
      expect(await store.read((db) => statesAfter(db, ids[2]!))).toEqual(new Map());
      expect(await store.read((db) => anyRowOnItsWay(db))).toBe(true);
      for (const id of [1, ids[1]!, ids[2]!]) await store.transaction((tx) => markDead(tx, id, 'pending', 'gone'));
      expect(await store.read((db) => anyRowOnItsWay(db))).toBe(false);
      expect(await store.read((db) => statesAfter(db, 0))).toEqual(new Map([['dead', 4]]));
    });

    it("finds a maintenance lane's root row (no incident) and an incident lane's, each by its own lane", async () => {
      const { store } = await engine.app();
      await store.transaction(async (tx) => {
        const inc = await insertIncident(tx, {
          title: 'x',
          severity: 2,
          lead: null,
          createdBy: 'cli:a',
          startedAt: 1,
          declaredAt: 1,
          recordedAt: 1,
          visibility: 'public',
        });
        await insertOutboxRow(tx, 1, { incidentId: null, target: 'slack:thread:C1|M-1', kind: 'root_post', payload: {} });
        await insertOutboxRow(tx, 1, { incidentId: inc.id, target: 'slack:thread:C1', kind: 'root_post', payload: {} });
        await insertOutboxRow(tx, 1, { incidentId: inc.id, target: 'slack:thread:C1', kind: 'thread_reply', payload: {} });
      });
      expect(await store.read((db) => lastRootRow(db, 'slack:thread:C1|M-1', null))).toEqual({ id: 1, state: 'pending' });
      expect(await store.read((db) => lastRootRow(db, 'slack:thread:C1', 1))).toEqual({ id: 2, state: 'pending' });
      expect(await store.read((db) => lastRootRow(db, 'slack:thread:C1', null))).toBeUndefined();
      expect(await store.read((db) => isOwnPost(db, 'nope', 'slack:'))).toBe(false);
    });

    it("dead-letters a removed subscription's own and maintenance lanes in byte order, not another subscription's", async () => {
      const { store } = await engine.app();
      const removed = await store.transaction(async (tx) => {
        const sub = await insertSubscription(tx, {
          target: 'webhook:https://a.example/hook',
          kind: 'webhook',
          components: [],
          secret: 's',
          createdBy: 'cli:a',
          createdAt: 1,
        });
        for (const target of ['webhook:S-1', 'webhook:S-1|M-2', 'webhook:S-1|M-10', 'webhook:S-10', 'webhook:S-1-x', 'webhook:S-1.']) {
          await insertOutboxRow(tx, 1, { incidentId: null, target, kind: 'webhook', payload: {} });
        }
        return deleteSubscription(tx, sub, 'removed');
      });
      expect(removed).toBe(3);
      expect(await store.read((db) => deadSubscriptionRowIds(db, { id: 1, kind: 'webhook', target: 'webhook:https://a.example/hook' }))).toEqual([1, 2, 3]);
    });

    it('rolls components up from a JSON array of ids, and numbers the catalogue', async () => {
      const { store } = await engine.app();
      await store.transaction(async (tx) => {
        for (const [i, slug] of ['api', 'web'].entries()) {
          await insertComponent(tx, {
            slug,
            name: slug.toUpperCase(),
            groupName: null,
            position: (await lastComponentPosition(tx)) + 1 + i,
            createdAt: 1,
            updatedAt: 1,
          });
        }
        const inc = await insertIncident(tx, {
          title: 'x',
          severity: 1,
          lead: null,
          createdBy: 'cli:a',
          startedAt: 1,
          declaredAt: 1,
          recordedAt: 1,
          visibility: 'public',
        });
        await applyComponentChanges(
          tx,
          inc.id,
          [
            { slug: 'web', status: 'major_outage' },
            { slug: 'api', status: 'degraded_performance' },
          ],
          2,
        );
        await insertEvent(tx, { incidentId: inc.id, actor: 'cli:a', kind: 'note', text: 'n', occurredAt: 3, recordedAt: 3, payload: {} } as never);
      });
      expect((await store.read(listComponents)).map((c) => [c.slug, c.position, c.status])).toEqual([
        ['api', 1, 'degraded_performance'],
        ['web', 3, 'major_outage'],
      ]);
      expect(await store.read((db) => findIncident(db, 1))).toMatchObject({ id: 1, severity: 1, startedAt: 1, publishedAt: null, visibility: 'public' });
      expect((await store.read((db) => loadEvents(db, 1))).map((e) => [e.id, e.kind, e.occurredAt])).toEqual([[1, 'note', 3]]);
    });
  }
});
