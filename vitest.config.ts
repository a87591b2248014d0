import { defineConfig } from 'vitest/config';

// Three tiers (docs/architecture.md): unit mirrors server/, integration drives
// createApp with supertest against a real database (PostgreSQL when
// TEST_DATABASE_URL is set, else PGlite), e2e drives Debian's Chromium.
// Every tier derives Argon2id with cheap test parameters (tests/setup/argon2.ts);
// processes started from dist/ keep the production ones.
// `npm test` shuffles the tests inside each file, with a fixed seed so a
// failure replays (`--sequence.seed`): a test that leans on an earlier one's
// state fails there, not only when someone runs it alone. Vitest reads this
// from the root, for every project; the browser tier (npm run test:e2e)
// keeps its journeys in order.
const shuffleTests = process.env['npm_lifecycle_event'] === 'test';

export default defineConfig({
  test: {
    sequence: { shuffle: { files: false, tests: shuffleTests }, seed: 20261201 },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['tests/unit/**/*.test.ts'],
          sequence: { groupOrder: 0 },
          environment: 'node',
          setupFiles: ['tests/setup/argon2.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['tests/integration/**/*.test.ts'],
          sequence: { groupOrder: 1 },
          environment: 'node',
          setupFiles: ['tests/setup/argon2.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Builds dist/ for the process tests; drops the per-file schemas at the end.
          globalSetup: ['tests/global-build.ts', 'tests/global-setup.ts'],
          // Each file gets its own schema (PostgreSQL) or its own PGlite; a
          // few at a time keeps the 2-core CI machine responsive.
          maxWorkers: 2,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['tests/e2e/**/*.test.ts'],
          sequence: { groupOrder: 2 },
          environment: 'node',
          setupFiles: ['tests/setup/argon2.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          globalSetup: ['tests/global-setup.ts'],
        },
      },
    ],
  },
});
