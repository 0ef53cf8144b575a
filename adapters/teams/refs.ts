import type { Db } from '../../db/client.js';
import { getSetting, getSettings, readSetting } from '../../db/queries/settings.js';
import type { Store } from '../../db/store.js';
import { parseConversationRef, refKey } from './outlet.js';

// Where the Teams targets read the settings they need (conversation references, the bound
// incidents channel). On SQLite: synchronously, on the connection at hand, as always. On
// PostgreSQL, whose queries are asynchronous: the worker's synchronous hooks (breakerKey) answer
// from what lookup() loaded for the claimed batch, and a delivery reads through the store, reusing
// what was loaded within the last second (the batch it was claimed in).

/** The settings a Teams target reads, whichever engine holds them. */
export interface TeamsSettings {
  /** Whether peek() answers from the database itself (SQLite) rather than from what load() kept. */
  readonly synchronous: boolean;
  /** A setting as far as known now: SQLite reads it; PostgreSQL answers what load() last read. */
  peek(key: string): string | undefined;
  /** A setting, read now (PostgreSQL: through the store, unless load() read it within the last second). */
  value(key: string): Promise<string | undefined>;
  /** PostgreSQL: reads those of `keys` not read within the last second, in one query. SQLite: nothing. */
  load(keys: readonly string[]): Promise<void>;
}

const FRESH_MS = 1_000;
const MAX_KEPT = 10_000;

export function teamsSettings(db: Db, store: Pick<Store, 'read'> | undefined): TeamsSettings {
  if (!store) {
    return {
      synchronous: true,
      peek: (key) => readSetting(db, key),
      value: async (key) => readSetting(db, key),
      load: async () => undefined,
    };
  }
  const loaded = new Map<string, { value: string | undefined; at: number }>();
  const keep = (key: string, value: string | undefined, at: number) => {
    if (loaded.size > MAX_KEPT) loaded.clear();
    loaded.set(key, { value, at });
  };
  const fresh = (key: string, at: number) => {
    const seen = loaded.get(key);
    return seen !== undefined && at - seen.at < FRESH_MS ? seen : undefined;
  };
  return {
    synchronous: false,
    peek: (key) => loaded.get(key)?.value,
    async value(key) {
      const at = performance.now();
      const seen = fresh(key, at);
      if (seen) return seen.value;
      const value = await store.read((h) => getSetting(h, key));
      keep(key, value, at);
      return value;
    },
    async load(keys) {
      const at = performance.now();
      const wanted = [...new Set(keys)].filter((k) => !fresh(k, at));
      if (!wanted.length) return;
      const found = await store.read((h) => getSettings(h, wanted));
      for (const k of wanted) keep(k, found.get(k), at);
    },
  };
}

/** A conversation's stored reference, as far as known now (see TeamsSettings.peek). */
export const peekConversationRef = (s: TeamsSettings, conversationId: string) => parseConversationRef(s.peek(refKey(conversationId)));

/** A conversation's stored reference, read now. */
export const readConversationRef = async (s: TeamsSettings, conversationId: string) => parseConversationRef(await s.value(refKey(conversationId)));
