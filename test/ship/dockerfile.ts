import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';

// No image registry is reachable here, so the image cannot be built. Instead the Dockerfile is
// read the way `docker build` reads it and checked against the repository: what it copies, the
// user it runs as, the command it starts, its health check. The checker is a function of the
// Dockerfile's text so that test/ship/dockerfile.test.ts can show it catching planted mistakes
// (test/fixtures/ship/), not only passing today's file.

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export interface Stage {
  name?: string;
  image: string;
  instructions: Instruction[];
  /** WORKDIR in force at the end of the stage (Docker's default is /). */
  workdir: string;
}

/** Logical instructions: comments and blank lines dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i]!;
    if (/^\s*(#|$)/.test(first)) continue;
    const start = i + 1;
    let logical = first.trimEnd();
    while (logical.endsWith('\\') && i + 1 < lines.length) {
      logical = logical.slice(0, -1);
      // Comment and blank lines inside a continuation are dropped, as Docker drops them.
      let next = lines[++i]!;
      while (/^\s*(#|$)/.test(next) && i + 1 < lines.length) next = lines[++i]!;
      logical += ' ' + next.trim();
    }
    const m = /^\s*(\w+)\s*(.*)$/s.exec(logical);
    if (!m) throw new Error(`line ${start}: not an instruction: ${logical}`);
    const instruction = { keyword: m[1]!.toUpperCase(), args: m[2]!.replace(/\s+/g, ' ').trim(), line: start };
    if (instruction.keyword === 'FROM') {
      const [image, as, name] = instruction.args.split(' ').filter((w) => !w.startsWith('--'));
      stages.push({ image: image!, ...(as?.toUpperCase() === 'AS' && name ? { name } : {}), instructions: [instruction], workdir: '/' });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`line ${start}: ${instruction.keyword} before FROM`);
    stage.instructions.push(instruction);
    if (instruction.keyword === 'WORKDIR') stage.workdir = posix.resolve(stage.workdir, instruction.args);
  }
  return stages;
}

/** JSON (exec) form → its words; shell form → undefined. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  const words: unknown = JSON.parse(args);
  if (!Array.isArray(words) || !words.every((w) => typeof w === 'string')) throw new Error(`not an exec form: ${args}`);
  return words;
}

export interface Copy {
  from?: string;
  sources: string[];
  dest: string;
  line: number;
}

export function copyOf(i: Instruction): Copy {
  const words = i.args.split(' ');
  const flags = words.filter((w) => w.startsWith('--'));
  const rest = i.args
    .split(' ')
    .filter((w) => !w.startsWith('--'))
    .join(' ');
  const paths = execForm(rest) ?? rest.split(' ');
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { ...(from ? { from } : {}), sources: paths.slice(0, -1), dest: paths.at(-1)!, line: i.line };
}

/** ENV in both forms (`ENV A=1 B=2`, `ENV A 1`); values may be double-quoted. */
export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of stage.instructions.filter((x) => x.keyword === 'ENV')) {
    if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(i.args)) {
      for (const m of i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) env[m[1]!] = m[2]!.replace(/^"(.*)"$/s, '$1');
    } else {
      const [k, ...v] = i.args.split(' ');
      env[k!] = v.join(' ');
    }
  }
  return env;
}

/** .dockerignore with Docker's rules: `*`, `?`, `**`, `!` exceptions, the last match wins, a match on a folder covers what is in it. */
export function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = posix.normalize((negate ? l.slice(1) : l).trim()).replace(/^\/+|\/+$/g, '');
      const source = pattern
        .split('/')
        .map((seg) =>
          seg === '**'
            ? '(?:.*)'
            : seg
                .replace(/[.+^${}()|[\]\\]/g, '\\$&')
                .replace(/\*/g, '[^/]*')
                .replace(/\?/g, '[^/]'),
        )
        .join('/')
        .replace(/\(\?:\.\*\)\//g, '(?:.*/)?');
      return { negate, re: new RegExp(`^${source}$`) };
    });
  return (path) => {
    const parts = posix
      .normalize(path)
      .replace(/^\.?\/+/, '')
      .split('/');
    const prefixes = parts.map((_, n) => parts.slice(0, n + 1).join('/'));
    let ignored = false;
    for (const r of rules) if (prefixes.some((p) => r.re.test(p))) ignored = !r.negate;
    return ignored;
  };
}

/** Files git tracks under `path` (what a fresh clone has); without git, whether it exists here. */
function inRepository(root: string, path: string): boolean {
  try {
    return execFileSync('git', ['ls-files', '--', path], { cwd: root, encoding: 'utf8' }).trim() !== '';
  } catch {
    return existsSync(join(root, path));
  }
}

/** Context paths a COPY source names; a wildcard is matched against the files of its folder. */
function expand(root: string, source: string): string[] {
  const clean = posix.normalize(source).replace(/^\.?\/+/, '');
  if (!/[*?[]/.test(clean)) return [clean];
  const dir = posix.dirname(clean);
  const re = new RegExp(
    `^${basename(clean)
      .replace(/[.+^${}()|\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  const names = existsSync(join(root, dir)) ? readdirSync(join(root, dir)).filter((n) => re.test(n)) : [];
  return names.map((n) => (dir === '.' ? n : `${dir}/${n}`));
}

export interface Repository {
  root: string;
  /** package.json's `start` script. */
  start: string;
  dockerignore: string;
  /** What the build stage must copy from the context to build: package files, tsconfig.json and what it includes. */
  buildNeeds: string[];
}

export interface Checked {
  problems: string[];
  final: Stage;
  /** The final stage's command (CMD in exec form). */
  command: string[];
  /** The HEALTHCHECK command in exec form, when there is one. */
  healthcheck?: string[];
}

const ROOT_USERS = new Set(['root', '0']);

export function checkDockerfile(text: string, repo: Repository): Checked {
  const problems: string[] = [];
  const stages = parseDockerfile(text);
  const final = stages.at(-1);
  if (!final) return { problems: ['no FROM: not a Dockerfile'], final: { image: '', instructions: [], workdir: '/' }, command: [] };
  const ignored = dockerignore(repo.dockerignore);
  const names = new Map(stages.flatMap((s, n) => [[String(n), s] as const, ...(s.name ? [[s.name, s] as const] : [])]));
  const of = (s: Stage, keyword: string) => s.instructions.filter((i) => i.keyword === keyword);

  // What is copied: from the context, it must be in the repository and not excluded; from a stage,
  // that stage must exist and the path must be one it has (the repository after a build).
  for (const stage of stages) {
    for (const copy of [...of(stage, 'COPY'), ...of(stage, 'ADD')].map(copyOf)) {
      if (copy.from !== undefined) {
        const source = names.get(copy.from);
        if (!source) {
          problems.push(`line ${copy.line}: COPY --from=${copy.from}: no stage of that name`);
          continue;
        }
        for (const s of copy.sources) {
          const rel = posix.relative(source.workdir, posix.resolve(source.workdir, s));
          if (rel.startsWith('..') || !existsSync(join(repo.root, rel)))
            problems.push(`line ${copy.line}: COPY --from=${copy.from} ${s}: the ${copy.from} stage makes no ${rel}`);
        }
        continue;
      }
      for (const s of copy.sources) {
        const paths = expand(repo.root, s);
        if (!paths.length || !paths.every((p) => inRepository(repo.root, p))) problems.push(`line ${copy.line}: COPY ${s}: not in the repository`);
        for (const p of paths.filter((x) => ignored(x))) problems.push(`line ${copy.line}: COPY ${p}: excluded by .dockerignore`);
      }
    }
  }

  // The build stages have what the build reads.
  const built = new Set(
    stages
      .slice(0, -1)
      .flatMap((s) => of(s, 'COPY').map(copyOf))
      .filter((c) => c.from === undefined)
      .flatMap((c) => c.sources.map((s) => posix.normalize(s).replace(/\/+$/, ''))),
  );
  for (const path of repo.buildNeeds) if (!built.has(path)) problems.push(`no build stage copies ${path}, which the build needs`);

  // Who it runs as.
  const user = of(final, 'USER').at(-1)?.args.split(':')[0];
  if (user === undefined) problems.push('the final stage sets no USER: it runs as root');
  else if (ROOT_USERS.has(user)) problems.push(`the final stage runs as ${user}`);

  // What it runs: npm start's command, in exec form, so that docker stop's SIGTERM reaches node.
  const cmd = of(final, 'CMD').at(-1);
  const command = cmd ? execForm(cmd.args) : undefined;
  if (!cmd) problems.push('the final stage has no CMD');
  else if (!command) problems.push(`line ${cmd.line}: CMD in shell form: /bin/sh would be PID 1 and keep SIGTERM from node`);
  else if (command.join(' ') !== repo.start) problems.push(`line ${cmd.line}: CMD runs \`${command.join(' ')}\`, not \`npm start\`'s \`${repo.start}\``);
  const entrypoint = of(final, 'ENTRYPOINT').at(-1);
  if (entrypoint) {
    const words = execForm(entrypoint.args);
    const init = words?.[0] && /(^|\/)(tini|dumb-init)$/.test(words[0]) ? basename(words[0]) : undefined;
    if (!init) problems.push(`line ${entrypoint.line}: ENTRYPOINT ${entrypoint.args} is not an init that runs CMD`);
    else if (!of(final, 'RUN').some((r) => new RegExp(`\\b${init}\\b`).test(r.args)))
      problems.push(`line ${entrypoint.line}: ENTRYPOINT runs ${init}, which the final stage does not install`);
  }

  // The database on the volume at /data.
  const env = envOf(final);
  const volumes = of(final, 'VOLUME').flatMap((v) => execForm(v.args) ?? v.args.split(' '));
  if (!volumes.includes('/data')) problems.push('no VOLUME /data');
  if (!env.SITREP_DB?.startsWith('/data/')) problems.push(`SITREP_DB is ${env.SITREP_DB ?? 'unset'}, not a file on the /data volume`);
  const exposed = of(final, 'EXPOSE').flatMap((e) => e.args.split(' ').map((p) => p.split('/')[0]));
  if (!env.PORT || !exposed.includes(env.PORT)) problems.push(`EXPOSE ${exposed.join(' ') || '(none)'} is not PORT ${env.PORT ?? '(unset)'}`);

  // The health check, in exec form (run against a real server by the test).
  const hc = of(final, 'HEALTHCHECK').at(-1);
  let healthcheck: string[] | undefined;
  if (!hc || /^NONE$/i.test(hc.args)) problems.push('the final stage has no HEALTHCHECK');
  else {
    const m = /^(?:--\S+ )*CMD (.*)$/.exec(hc.args);
    healthcheck = m ? execForm(m[1]!) : undefined;
    if (!healthcheck) problems.push(`line ${hc.line}: HEALTHCHECK is not CMD in exec form`);
  }
  return { problems, final, command: command ?? [], ...(healthcheck ? { healthcheck } : {}) };
}

/**
 * Lays out the final stage's files under `dest` as the image's file system has them, with
 * the repository (after a build) standing in for the build stage: what that stage compiled is the
 * repository's dist/. node_modules is linked, not copied, so it holds the dev dependencies too
 * (test/ship/pack.test.ts installs the production ones alone).
 */
export function assembleFinalStage(dockerfile: Stage[], root: string, dest: string): void {
  const final = dockerfile.at(-1)!;
  const named = new Map(dockerfile.flatMap((s, n) => [[String(n), s] as const, ...(s.name ? [[s.name, s] as const] : [])]));
  let workdir = '/';
  for (const i of final.instructions) {
    if (i.keyword === 'WORKDIR') workdir = posix.resolve(workdir, i.args);
    if (i.keyword !== 'COPY') continue;
    const copy = copyOf(i);
    const stage = copy.from === undefined ? undefined : named.get(copy.from);
    const into = posix.relative('/', posix.resolve(workdir, copy.dest));
    for (const s of copy.sources) {
      const rel = stage ? posix.relative(stage.workdir, posix.resolve(stage.workdir, s)) : posix.normalize(s);
      const from = join(root, rel);
      const toDir = copy.dest.endsWith('/') || copy.dest === '.';
      const to = join(dest, into, toDir && !isDir(from) ? basename(rel) : '');
      mkdirSync(dirname(to), { recursive: true });
      if (basename(rel) === 'node_modules') symlinkSync(from, to.replace(/\/+$/, ''));
      else cpSync(from, to, { recursive: true });
    }
  }
}

const isDir = (path: string) => existsSync(path) && statSync(path).isDirectory();
