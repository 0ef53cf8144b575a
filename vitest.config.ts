import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Planted source trees the architecture test reads as text; never run as tests.
    exclude: ['**/node_modules/**', 'test/fixtures/**'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Most test files wait on child processes, sockets and timers more than they compute, so more
    // files run at once than there are cores (vitest's default is one fewer than the cores: a
    // single file at a time on a 2-core CI machine, which made CI take twice as long).
    maxWorkers: Math.max(3, availableParallelism()),
  },
});
