import { defineConfig } from 'vitest/config';

// Tiers by file suffix: *.unit.test.ts need nothing; *.int.test.ts run against a real
// `temporal server start-dev` started once per run by the global setup; *.ui.test.ts drive the
// dashboard in Chromium against the same kind of server; *.cluster.test.ts (only with
// CLUSTER_TESTS=1, as `npm run test:cluster` sets it: never part of `npm test`) start their own
// PostgreSQL-backed Temporal server and several engine processes (test/support/cluster.ts).
const clusterTier = process.env.CLUSTER_TESTS === '1';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.unit.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          // jobWorkflow under Temporal's time-skipping test server (hours of timers in seconds).
          name: 'workflow',
          include: ['test/workflows/**/*.workflow.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'int',
          include: ['test/**/*.int.test.ts'],
          globalSetup: ['test/setup/temporal.globalSetup.ts', 'test/setup/workflowBundle.globalSetup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          // The dashboard in a real browser (Debian's Chromium through playwright-core) against a real
          // engine served over HTTP; scripts/install-chromium.mjs provides the browser.
          name: 'ui',
          include: ['test/ui/**/*.ui.test.ts'],
          globalSetup: ['test/setup/temporal.globalSetup.ts', 'test/setup/workflowBundle.globalSetup.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
      ...(clusterTier
        ? [
            {
              test: {
                name: 'cluster',
                include: ['test/cluster/**/*.cluster.test.ts'],
                globalSetup: ['test/setup/workflowBundle.globalSetup.ts'],
                testTimeout: 3_600_000,
                hookTimeout: 600_000,
                fileParallelism: false,
              },
            },
          ]
        : []),
    ],
  },
});
