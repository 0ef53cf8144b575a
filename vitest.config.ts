import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Planted source trees the architecture test reads as text; never run as tests.
    exclude: ['**/node_modules/**', 'test/fixtures/**'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
