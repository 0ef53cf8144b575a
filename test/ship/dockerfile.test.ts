import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../slack/process.js';
import { assembleFinalStage, checkDockerfile, dockerignore, envOf, parseDockerfile, type Repository } from './dockerfile.js';
import { ROOT, packageJson, startSitrep } from './support.js';

// The container, checked without building it (no image registry is reachable): the Dockerfile
// against the repository, its final stage laid out from the repository and run the way the image
// runs it (CMD, ENV, health check, docker stop's SIGTERM), and compose.yaml parsed.

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const DOCKERFILE = read('Dockerfile');
const BAD = read('test/fixtures/ship/bad.Dockerfile');
const tsconfig = JSON.parse(read('tsconfig.json')) as { include: string[] };
const repo: Repository = {
  root: ROOT,
  start: packageJson().scripts.start!,
  dockerignore: read('.dockerignore'),
  buildNeeds: ['package.json', 'package-lock.json', 'tsconfig.json', ...tsconfig.include],
};

/** Runs a HEALTHCHECK command (exec form) the way Docker does, here with `node` being this Node.js. */
function probe(command: string[], env: Record<string, string>): Promise<number | null> {
  const [file, ...args] = command;
  return new Promise((resolve) => {
    const child = spawn(file === 'node' ? process.execPath : file!, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' });
    child.once('exit', (code) => resolve(code));
  });
}

let dir: string;
beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'sitrep-docker-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Dockerfile', () => {
  it('agrees with the repository: copies what exists and is not ignored, runs npm start’s command as a non-root user, keeps the database on /data', () => {
    const checked = checkDockerfile(DOCKERFILE, repo);
    expect(checked.problems).toEqual([]);
    expect(checked.command.join(' ')).toBe('node dist/src/bin.js serve');
    expect(checked.healthcheck?.join(' ')).toContain('/healthz');
    const stages = parseDockerfile(DOCKERFILE);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    // The run stage installs no dev dependency: they are pruned in the build stage it copies from.
    expect(stages[0]!.instructions.some((i) => i.keyword === 'RUN' && /npm prune --omit=dev/.test(i.args))).toBe(true);
  });

  it('catches the planted mistakes of test/fixtures/ship/bad.Dockerfile, each by line', () => {
    expect(checkDockerfile(BAD, repo).problems).toEqual([
      'line 18: COPY --from=builder: no stage of that name',
      'line 19: COPY config/sitrep.json: not in the repository',
      'line 20: COPY test/fixtures: excluded by .dockerignore',
      'no build stage copies bench, which the build needs',
      'the final stage runs as root',
      'line 24: CMD in shell form: /bin/sh would be PID 1 and keep SIGTERM from node',
      'no VOLUME /data',
      'SITREP_DB is /app/data/sitrep.db, not a file on the /data volume',
      'EXPOSE 8080 is not PORT 3000',
    ]);
  });

  // One mistake at a time in the real file: each is the one problem reported.
  const mutations: [string, (s: string) => string, RegExp][] = [
    [
      'a CMD that is not npm start’s',
      (s) => s.replace('CMD ["node", "dist/src/bin.js", "serve"]', 'CMD ["node", "dist/src/bin.js"]'),
      /CMD runs `node dist\/src\/bin\.js`, not `npm start`'s/,
    ],
    ['no USER', (s) => s.replace(/^USER node\n/m, ''), /^the final stage sets no USER: it runs as root$/],
    ['USER 0', (s) => s.replace(/^USER node$/m, 'USER 0:0'), /^the final stage runs as 0$/],
    [
      'tini not installed',
      (s) => s.replace('--no-install-recommends tini', '--no-install-recommends ca-certificates'),
      /ENTRYPOINT runs tini, which the final stage does not install/,
    ],
    [
      'a build output that does not exist',
      (s) => s.replace('/app/dist/src ./dist/src', '/app/dist/server ./dist/src'),
      /the build stage makes no dist\/server/,
    ],
    ['an ignored source', (s) => s.replace('COPY bench ./bench', 'COPY bench ./bench\nCOPY docs ./docs'), /COPY docs: excluded by \.dockerignore/],
    ['a source not in the repository', (s) => s.replace('COPY db ./db', 'COPY db ./db\nCOPY config ./config'), /COPY config: not in the repository/],
    ['a shell-form CMD', (s) => s.replace('CMD ["node", "dist/src/bin.js", "serve"]', 'CMD npm start'), /CMD in shell form/],
    [
      'the database off the volume',
      (s) => s.replace('SITREP_DB=/data/sitrep.db', 'SITREP_DB=/app/data/sitrep.db'),
      /SITREP_DB is \/app\/data\/sitrep\.db, not a file on the \/data volume/,
    ],
  ];
  it.each(mutations)('reports %s', (_name, mutate, problem) => {
    const mutated = mutate(DOCKERFILE);
    expect(mutated).not.toBe(DOCKERFILE);
    const { problems } = checkDockerfile(mutated, repo);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(problem);
  });

  it('its final stage, laid out from the repository, starts with CMD, passes its HEALTHCHECK, and exits 0 on SIGTERM', async () => {
    const stages = parseDockerfile(DOCKERFILE);
    const final = stages.at(-1)!;
    const { command, healthcheck } = checkDockerfile(DOCKERFILE, repo);
    const image = join(dir, 'image');
    assembleFinalStage(stages, ROOT, image);
    // The files the server reads at run time came from the COPY lines, nothing else.
    for (const f of ['package.json', 'dist/src/bin.js', 'db/migrations/meta/_journal.json', 'node_modules/better-sqlite3/package.json']) {
      expect(existsSync(join(image, final.workdir, f)), f).toBe(true);
    }
    expect(existsSync(join(image, final.workdir, 'src'))).toBe(false);
    // The image's environment, with /data and the port moved to this machine's free ones.
    const env = envOf(final);
    const data = join(image, 'data');
    mkdirSync(data, { recursive: true });
    const server = await startSitrep(
      command,
      { ...env, SITREP_DB: env.SITREP_DB!.replace(/^\/data/, data), PORT: '0', LOG_LEVEL: 'error' },
      join(image, final.workdir),
    );
    const port = new URL(server.url).port;
    let stopped = false;
    try {
      expect(existsSync(join(data, 'sitrep.db'))).toBe(true);
      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ ok: true, version: packageJson().version });
      expect(await probe(healthcheck!, { PORT: port })).toBe(0);
      // The planted fixture's check asks for /health, which the server does not serve.
      expect(await probe(checkDockerfile(BAD, repo).healthcheck!, { PORT: port })).toBe(1);
      // docker stop: SIGTERM, which the server handles itself (shutting down cleanly, exit 0).
      expect(await server.stop()).toEqual({ code: 0, signal: null });
      stopped = true;
      // Nothing went wrong on the way down (errors are logged to stderr).
      expect(server.stderr()).toBe('');
      // Nothing listens any more: the health check says so.
      expect(await probe(healthcheck!, { PORT: port })).toBe(1);
    } finally {
      if (!stopped) server.child.kill('SIGKILL');
    }
  });
});

describe('.dockerignore', () => {
  const ignored = dockerignore(repo.dockerignore);

  it('keeps build output, dependencies and local state out of the build context', () => {
    for (const p of [
      'node_modules/zod/package.json',
      'dist/src/bin.js',
      'data/sitrep.db',
      'sitrep.db',
      'sitrep.db-wal',
      '.env',
      '.env.local',
      '.git/HEAD',
      'test/core/cli.test.ts',
    ]) {
      expect(ignored(p), p).toBe(true);
    }
    for (const p of ['src/bin.ts', 'db/migrations/0000_init.sql', 'package-lock.json', 'bench/run.ts']) expect(ignored(p), p).toBe(false);
  });

  it('is read with Docker’s rules (wildcards, **, exceptions, last match wins)', () => {
    const rules = dockerignore('*.log\n**/tmp\ndocs\n!docs/keep.md\n/root-only');
    expect(['a.log', 'x/tmp', 'x/y/tmp/z', 'tmp', 'docs/a.md', 'root-only'].map(rules)).toEqual([true, true, true, true, true, true]);
    expect(['x/a.log', 'docs/keep.md', 'x/root-only'].map(rules)).toEqual([false, false, false]);
  });
});

describe('compose.yaml', () => {
  const text = read('compose.yaml');
  const compose = parse(text) as any;

  it('builds Sitrep from the Dockerfile with its database on a named volume at /data', () => {
    const sitrep = compose.services.sitrep;
    expect(sitrep.build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
    expect(existsSync(join(ROOT, sitrep.build.context, sitrep.build.dockerfile))).toBe(true);
    const data = (sitrep.volumes as string[]).find((v) => v.endsWith(':/data'));
    const name = data?.split(':')[0];
    expect(name).toMatch(/^[a-z][\w-]*$/); // a name, not a host path
    expect(Object.keys(compose.volumes)).toContain(name);
    expect(sitrep.ports).toContain('3000:3000');
  });

  it('passes only variables Sitrep reads (CONTRACT.md’s environment)', () => {
    const config = read('src/config.ts');
    for (const name of Object.keys(compose.services.sitrep.environment)) expect(config, name).toContain(`'${name}'`);
  });

  it('has the PostgreSQL service and the two-replica profile commented out, marked as not supported yet, and valid once uncommented', () => {
    expect(text).toMatch(/NOT SUPPORTED YET/);
    const uncommented = parse(text.replace(/^ {2}# ?/gm, '  ')) as any;
    const { postgres, 'sitrep-replicas': replicas } = uncommented.services;
    expect(postgres.image).toMatch(/^postgres:/);
    expect(postgres.profiles).toEqual(['postgres']);
    expect(replicas.profiles).toEqual(['postgres']);
    expect(replicas.deploy.replicas).toBe(2);
    expect(replicas.environment.SITREP_DATABASE_URL).toMatch(/^postgres:\/\/[^@]+@postgres:5432\//);
    expect(replicas.depends_on.postgres.condition).toBe('service_healthy');
    expect(Object.keys(uncommented.volumes)).toEqual(expect.arrayContaining(['sitrep-data', 'postgres-data']));
    // Commented out, they are not there.
    expect(Object.keys(compose.services)).toEqual(['sitrep']);
  });
});
