import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support.js';

// compose.replicas.yaml, checked without Docker (no image registry is reachable): it parses (with
// compose's merge keys), runs two replicas of the image on one PostgreSQL database with only the
// TLS proxy published, the proxy balances over both with their health check, and the one-off
// migrate service copies compose.yaml's SQLite volume with migrate-to.

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const text = read('compose.replicas.yaml');
const compose = parse(text, { merge: true }) as any;
const replicas = ['sitrep-1', 'sitrep-2'] as const;

describe('compose.replicas.yaml', () => {
  it('runs two replicas of the image built from the Dockerfile on one PostgreSQL database', () => {
    const urls = new Set<string>();
    for (const name of replicas) {
      const s = compose.services[name];
      expect(s.build, name).toEqual({ context: '.', dockerfile: 'Dockerfile' });
      expect(existsSync(join(ROOT, s.build.context, s.build.dockerfile))).toBe(true);
      expect(s.depends_on.postgres.condition).toBe('service_healthy');
      expect(s.ports, `${name} is reached through the proxy only`).toBeUndefined();
      expect(s.environment.SITREP_DB, 'no SQLite file beside PostgreSQL').toBeUndefined();
      expect(s.environment.SITREP_PUBLIC_URL).toMatch(/^https:\/\/\$\{SITREP_DOMAIN:\?[^}]+\}$/);
      urls.add(s.environment.SITREP_DATABASE_URL);
    }
    expect(urls.size).toBe(1);
    const url = [...urls][0]!;
    // The password comes from the environment, never from this file, and must be set.
    expect(url).toMatch(/^postgres:\/\/sitrep:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432\/sitrep$/);
    const postgres = compose.services.postgres;
    expect(postgres.image).toMatch(/^postgres:\d+/);
    expect(postgres.environment).toMatchObject({ POSTGRES_USER: 'sitrep', POSTGRES_DB: 'sitrep' });
    expect(postgres.environment.POSTGRES_PASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);
    expect(postgres.ports).toBeUndefined();
    expect(postgres.healthcheck.test).toContain('pg_isready');
    expect(postgres.volumes).toContain('postgres-data:/var/lib/postgresql/data');
  });

  it('passes only variables Sitrep reads', () => {
    const config = read('src/config.ts');
    for (const name of [...replicas, 'migrate']) {
      for (const v of Object.keys(compose.services[name].environment)) expect(config, `${name}: ${v}`).toContain(`'${v}'`);
    }
  });

  it('publishes only the TLS proxy, which balances over both replicas with their health check', () => {
    const published = Object.entries(compose.services)
      .filter(([, s]: [string, any]) => s.ports)
      .map(([n]) => n);
    expect(published).toEqual(['caddy']);
    const caddy = compose.services.caddy;
    expect(caddy.image).toMatch(/^caddy:/);
    expect(caddy.ports).toEqual(expect.arrayContaining(['80:80', '443:443']));
    expect(caddy.configs).toEqual([{ source: 'caddyfile', target: '/etc/caddy/Caddyfile' }]);
    const caddyfile: string = compose.configs.caddyfile.content;
    // Compose turns $$ into $: Caddy reads its own {$SITREP_DOMAIN} placeholder from its environment.
    expect(caddyfile).toMatch(/^\{\$\$SITREP_DOMAIN\} \{/);
    expect(caddy.environment.SITREP_DOMAIN).toBeDefined();
    expect(caddyfile).toMatch(/reverse_proxy sitrep-1:3000 sitrep-2:3000 \{/);
    expect(caddyfile).toMatch(/health_uri \/healthz/);
    expect(caddyfile).toMatch(/lb_try_duration/);
    // Braces balance, so Caddy sees one site block.
    expect([...caddyfile].filter((c) => c === '{').length).toBe([...caddyfile].filter((c) => c === '}').length);
    for (const v of ['postgres-data', 'caddy-data', 'sitrep-data']) expect(Object.keys(compose.volumes)).toContain(v);
  });

  it('has a one-off migrate service that copies compose.yaml’s SQLite volume into the same database', () => {
    const m = compose.services.migrate;
    expect(m.profiles).toEqual(['migrate']);
    expect(m.command).toEqual(['node', 'dist/src/bin.js', 'migrate-to']);
    expect(m.environment.SITREP_DB).toBe('/data/sitrep.db');
    expect(m.environment.SITREP_DATABASE_URL).toBe(compose.services['sitrep-1'].environment.SITREP_DATABASE_URL);
    expect(m.volumes).toEqual(['sitrep-data:/data']);
    // compose.yaml's volume of that name holds SITREP_DB=/data/sitrep.db (the image's default).
    const single = parse(read('compose.yaml')) as any;
    expect(single.services.sitrep.volumes).toContain('sitrep-data:/data');
    expect(read('Dockerfile')).toMatch(/SITREP_DB=\/data\/sitrep\.db/);
  });

  it('the image carries the PostgreSQL migrations the replicas apply at start', () => {
    expect(read('Dockerfile')).toMatch(/^COPY --from=build \/app\/db\/migrations-pg \.\/db\/migrations-pg$/m);
  });
});
