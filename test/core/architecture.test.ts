import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// The layering of docs/ARCHITECTURE.md, checked by reading every import:
//   src/bin.ts → src/main.ts (composition root) → adapters/* → src/commands → src/domain, db/
// A rule names who may not import what; the checker is a function over a file tree so that the
// test below can prove it catches a planted violation, not only that today's tree is clean.
const ROOT = new URL('../..', import.meta.url).pathname;

/** Repository-relative POSIX path → source text. */
type Tree = ReadonlyMap<string, string>;

const SKIP = new Set(['node_modules', 'dist', 'data', 'test-artifacts', '.git']);

function loadTree(root: string, skip: (path: string) => boolean = () => false): Tree {
  const tree = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(join(root, dir))) {
      const p = dir ? `${dir}/${name}` : name;
      if (SKIP.has(name) || skip(p)) continue;
      if (statSync(join(root, p)).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) tree.set(p, readFileSync(join(root, p), 'utf8'));
    }
  };
  walk('');
  return tree;
}

/** Every module a file names: static, type-only, re-exports, side-effect and dynamic imports. Strings and comments are not imports. */
function importsOf(src: string): string[] {
  return ts.preProcessFile(src, true, true).importedFiles.map((f) => f.fileName);
}

/** A relative specifier becomes the tree path it names (`../main.js` → `src/main.ts`); a package or node: name stays as written. */
function resolve(tree: Tree, file: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  const p = posix.normalize(posix.join(posix.dirname(file), spec));
  if (p.endsWith('.js')) return `${p.slice(0, -3)}.ts`;
  if (tree.has(`${p}.ts`)) return `${p}.ts`;
  if (tree.has(`${p}/index.ts`)) return `${p}/index.ts`;
  return p;
}

const under = (path: string, dir: string) => path.startsWith(`${dir}/`);
const adapterOf = (path: string) => (under(path, 'adapters') ? path.split('/')[1] : undefined);
const isSchema = (target: string) => target === 'db/schema.ts' || under(target, 'db/schema');
const isDrizzle = (target: string) => target === 'drizzle-orm' || under(target, 'drizzle-orm');

// src/entry.ts is the process entry and wires the CLI's app (one verb and, for a write, the
// outlets), so it may import adapters like src/main.ts does; src/bin.ts hands it src/main.ts.
const COMPOSITION_ROOTS = ['src/main.ts', 'src/entry.ts'];

const RULES = {
  'only src/bin.ts imports src/main.ts': (file: string, target: string) =>
    target === 'src/main.ts' && file !== 'src/bin.ts' && !under(file, 'test') && !under(file, 'bench'),
  'adapters never import each other': (file: string, target: string) =>
    adapterOf(file) !== undefined && adapterOf(target) !== undefined && adapterOf(file) !== adapterOf(target),
  'adapters never import db/schema': (file: string, target: string) => under(file, 'adapters') && isSchema(target),
  'src/domain imports nothing outside itself (no SDK, no db, no node:*)': (file: string, target: string) =>
    under(file, 'src/domain') && !under(target, 'src/domain'),
  'src/commands never imports adapters': (file: string, target: string) => under(file, 'src/commands') && under(target, 'adapters'),
  'src/commands never imports a chat SDK or node:http': (file: string, target: string) =>
    under(file, 'src/commands') && /@slack|@microsoft|botbuilder|node:http/.test(target),
  // src/commands is covered by its own rule above, so one import is reported once.
  'only the composition roots import adapters': (file: string, target: string) =>
    (under(file, 'src') || under(file, 'db')) && !under(file, 'src/commands') && !COMPOSITION_ROOTS.includes(file) && under(target, 'adapters'),
  // Nothing above db/ knows the SQL dialect: the tables and the query builder stay behind
  // db/queries. bench/ and test/ may reach under it. src/domain and an adapter's db/schema import
  // are covered by their own rules above, so one import is reported once.
  'only db/ imports drizzle-orm or db/schema': (file: string, target: string) =>
    ((under(file, 'src') && !under(file, 'src/domain')) || under(file, 'adapters')) && (isDrizzle(target) || (isSchema(target) && !under(file, 'adapters'))),
} as const;

type RuleName = keyof typeof RULES;
type Violation = { rule: RuleName; file: string; target: string };

function checkLayering(tree: Tree): Violation[] {
  const out: Violation[] = [];
  for (const [file, src] of [...tree].sort(([a], [b]) => a.localeCompare(b))) {
    for (const target of new Set(importsOf(src).map((spec) => resolve(tree, file, spec)))) {
      for (const [rule, breaks] of Object.entries(RULES) as [RuleName, (f: string, t: string) => boolean][]) {
        if (breaks(file, target)) out.push({ rule, file, target });
      }
    }
  }
  return out;
}

// The violations that stand today, each one by name, while issue 11 moves the code that causes
// them. The list may only shrink: a violation not listed fails, and so does a listed one that is
// gone (delete its line). Do not add to it.
const ALLOWED_TODAY: Record<RuleName, readonly string[]> = {
  'only src/bin.ts imports src/main.ts': [],
  'adapters never import each other': [],
  'adapters never import db/schema': [],
  'src/domain imports nothing outside itself (no SDK, no db, no node:*)': [],
  'src/commands never imports adapters': [],
  'src/commands never imports a chat SDK or node:http': [],
  'only the composition roots import adapters': [],
  // The outbox worker's claim path and housekeeping still build their SQL in place; they are
  // moving into db/queries.
  'only db/ imports drizzle-orm or db/schema': [],
};

const show = (v: Violation) => `${v.file} → ${v.target}`;

describe('dependency direction', () => {
  const tree = loadTree(ROOT, (p) => p === 'test/fixtures');
  const found = checkLayering(tree);

  it.each(Object.keys(RULES) as RuleName[])('%s', (rule) => {
    const allowed = new Set(ALLOWED_TODAY[rule]);
    expect(found.filter((v) => v.rule === rule && !allowed.has(show(v))).map(show)).toEqual([]);
  });

  it('the allow-list names only violations that still exist (delete the line of one that is gone)', async () => {
    const standing = new Set(found.map((v) => `${v.rule}: ${show(v)}`));
    const gone = Object.entries(ALLOWED_TODAY).flatMap(([rule, list]) => list.map((e) => `${rule}: ${e}`).filter((e) => !standing.has(e)));
    expect(gone).toEqual([]);
  });

  it('reads the imports of every source folder', async () => {
    for (const dir of ['src', 'adapters', 'db', 'bench', 'test']) expect([...tree.keys()].some((f) => under(f, dir))).toBe(true);
    expect(tree.has('src/main.ts') && tree.has('src/bin.ts')).toBe(true);
  });

  it('only src/config.ts reads the environment', async () => {
    const bad = [...tree.keys()].filter(
      (f) => ['src', 'adapters', 'db'].some((d) => under(f, d)) && f !== 'src/config.ts' && /process\.env/.test(tree.get(f)!),
    );
    expect(bad).toEqual([]);
  });
});

describe('the layering checker', () => {
  it('reports exactly the planted violation in a fixture tree: an adapter importing db/schema', async () => {
    const fixture = join(ROOT, 'test/fixtures/architecture/adapter-imports-schema');
    expect(checkLayering(loadTree(fixture))).toEqual([{ rule: 'adapters never import db/schema', file: 'adapters/slack/outlet.ts', target: 'db/schema.ts' }]);
  });

  it('reports exactly the planted violation in a fixture tree: src/ building SQL with drizzle-orm', async () => {
    const fixture = join(ROOT, 'test/fixtures/architecture/src-imports-drizzle');
    expect(checkLayering(loadTree(fixture))).toEqual([
      { rule: 'only db/ imports drizzle-orm or db/schema', file: 'src/statuspage/model.ts', target: 'drizzle-orm' },
    ]);
  });

  // One small tree per rule: the importing file, what it imports, and the rule that must fire.
  const cases: [RuleName, string, string][] = [
    ['only src/bin.ts imports src/main.ts', 'adapters/slack/index.ts', "import type { App } from '../../src/main.js';"],
    ['only src/bin.ts imports src/main.ts', 'src/mirror/index.ts', "const m = await import('../main.js');"],
    ['adapters never import each other', 'adapters/teams/outlet.ts', "export { render } from '../slack/blocks.js';"],
    ['adapters never import db/schema', 'adapters/webhook/target.ts', "import { outbox } from '../../db/schema.js';"],
    ['src/domain imports nothing outside itself (no SDK, no db, no node:*)', 'src/domain/lifecycle.ts', "import { createHash } from 'node:crypto';"],
    ['src/domain imports nothing outside itself (no SDK, no db, no node:*)', 'src/domain/views.ts', "import type { Store } from '../../db/store.js';"],
    ['src/commands never imports adapters', 'src/commands/pin.ts', "import '../../adapters/slack/index.js';"],
    ['src/commands never imports a chat SDK or node:http', 'src/commands/declare.ts', "import type { KnownBlock } from '@slack/types';"],
    ['only the composition roots import adapters', 'db/queries/threads.ts', "import { render } from '../../adapters/slack/blocks.js';"],
    ['only db/ imports drizzle-orm or db/schema', 'src/main.ts', "import { incidents } from '../db/schema.js';"],
    ['only db/ imports drizzle-orm or db/schema', 'src/mirror/retention.ts', "import type { SQL } from 'drizzle-orm';"],
    ['only db/ imports drizzle-orm or db/schema', 'adapters/slack/queue.ts', "import { sqliteTable } from 'drizzle-orm/sqlite-core';"],
  ];

  it.each(cases)('%s: fires on %s', (rule, file, src) => {
    const tree = new Map([[file, src]]);
    expect(checkLayering(tree).map((v) => v.rule)).toEqual([rule]);
  });

  it('lets through what the layering allows', async () => {
    const tree = new Map([
      ['src/bin.ts', "import { main } from './main.js';"],
      ['src/main.ts', "import { createSlack } from '../adapters/slack/index.js';\nimport { runner } from './commands/runner.js';"],
      ['test/helpers.ts', "import { createApp } from '../src/main.js';"],
      ['bench/summary.ts', "import { createApp } from '../src/main.js';"],
      [
        'adapters/slack/index.ts',
        "import { runner } from '../../src/commands/runner.js';\nimport { listThreads } from '../../db/queries/threads.js';\nimport { render } from './blocks.js';",
      ],
      ['src/commands/runner.ts', "import { decide } from '../domain/lifecycle.js';\nimport { incidents } from '../../db/queries/incidents.js';"],
      ['src/domain/lifecycle.ts', "import { STATUSES } from './enums.js';\n// import '../../db/schema.js' is only a comment\nconst s = \"import('node:fs')\";"],
      ['db/queries/outbox.ts', "import { eq } from 'drizzle-orm';\nimport { outbox } from '../schema.js';"],
      ['db/client.ts', "import { drizzle } from 'drizzle-orm/better-sqlite3';\nimport * as schema from './schema.js';"],
      ['bench/timeline.ts', "import { sql } from 'drizzle-orm';\nimport { incidents } from '../db/schema.js';"],
      ['test/db/outbox.test.ts', "import { outbox } from '../../db/schema.js';"],
      ['src/mirror/retention.ts', "import { pruneDeliveredBatch } from '../../db/queries/retention.js';\nimport type { Db } from '../../db/client.js';"],
    ]);
    expect(checkLayering(tree)).toEqual([]);
  });
});

describe('the suite stands alone', () => {
  // A fresh clone has nothing beside it: every file a test reads lives in the repository
  // (test/fixtures and test/*/fixtures, each with a README saying where it came from).
  it('no test or its configuration reaches outside the repository', async () => {
    const sources = [...loadTree(ROOT, (p) => !(p === 'test' || under(p, 'test'))).keys(), 'vitest.config.ts'];
    const bad = sources.filter((f) => /\.\.\/\.\.\/\.\.\/|['"`]\.\.\/shared|shared\/(reference|seed)/.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(bad).toEqual([]);
  });
});
