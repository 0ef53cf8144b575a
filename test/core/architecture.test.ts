import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

// DESIGN.md's dependency direction: adapters → src/commands → src/domain. The domain is pure.
const ROOT = new URL('../..', import.meta.url).pathname;

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const p = join(dir, name);
    if (statSync(join(ROOT, p)).isDirectory()) out.push(...files(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

function imports(file: string): string[] {
  const src = readFileSync(join(ROOT, file), 'utf8');
  return [...src.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1] ?? m[2]!);
}

const resolveFrom = (file: string, spec: string) => (spec.startsWith('.') ? relative(ROOT, join(ROOT, file, '..', spec)) : spec);

describe('dependency direction', () => {
  it('src/domain imports nothing but itself: no SDK, no db, no node:*', () => {
    const bad: string[] = [];
    for (const f of files('src/domain')) {
      for (const spec of imports(f)) {
        const target = resolveFrom(f, spec);
        if (!target.startsWith('src/domain/')) bad.push(`${f} → ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('adapters never import each other', () => {
    const bad: string[] = [];
    for (const f of files('adapters')) {
      const own = f.split('/')[1];
      for (const spec of imports(f)) {
        const target = resolveFrom(f, spec);
        if (target.startsWith('adapters/') && target.split('/')[1] !== own) bad.push(`${f} → ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  // Two composition roots: src/main.ts wires the server's app; src/entry.ts is the process entry
  // and wires the CLI's app (one verb and, for a write, the outlets), loading src/main.ts only for
  // the server and the console.
  const ROOTS = ['src/main.ts', 'src/entry.ts'];

  it('only the composition roots import adapters, and commands never import surfaces', () => {
    const bad: string[] = [];
    for (const f of [...files('src'), ...files('db')]) {
      if (ROOTS.includes(f)) continue;
      for (const spec of imports(f)) {
        const target = resolveFrom(f, spec);
        if (target.startsWith('adapters/')) bad.push(`${f} → ${spec}`);
        if (f.startsWith('src/commands/') && /@slack|@microsoft|botbuilder|node:http/.test(spec)) bad.push(`${f} → ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('only src/config.ts and the process entry read the environment', () => {
    const bad = [...files('src'), ...files('adapters'), ...files('db')].filter(
      (f) => f !== 'src/config.ts' && f !== 'src/entry.ts' && /process\.env/.test(readFileSync(join(ROOT, f), 'utf8')),
    );
    expect(bad).toEqual([]);
  });
});

describe('the suite stands alone', () => {
  // A fresh clone has nothing beside it: every file a test reads lives in the repository
  // (test/fixtures and test/*/fixtures, each with a README saying where it came from).
  it('no test or its configuration reaches outside the repository', () => {
    const sources = [...files('test'), 'vitest.config.ts'];
    const bad = sources.filter((f) => /\.\.\/\.\.\/\.\.\/|['"`]\.\.\/shared|shared\/(reference|seed)/.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(bad).toEqual([]);
  });
});
