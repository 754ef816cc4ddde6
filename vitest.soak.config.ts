import { defineConfig } from 'vitest/config';

// `npm run soak`: the long fault and fuzz runs (hundreds of seeds, 100,000 property cases).
// The same test files read SOAK=1 and scale their case counts up.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-redis.ts'],
    testTimeout: 3_600_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
