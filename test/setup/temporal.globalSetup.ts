import type { TestProject } from 'vitest/node';
import { resolveTemporalCli } from '../../src/temporal/cliBinary.js';
import { startDevServer } from '../../src/temporal/devServer.js';

/** One fresh in-memory dev server per test run, on free ports (unless TEMPORAL_ADDRESS names one). */
export default async function setup(project: TestProject) {
  const cli = resolveTemporalCli();
  project.provide('temporalCliPath', cli?.path ?? 'temporal');
  if (process.env.TEMPORAL_ADDRESS) {
    project.provide('temporalAddress', process.env.TEMPORAL_ADDRESS);
    return;
  }
  const started = Date.now();
  const server = await startDevServer({ headless: true, log: (line) => console.log(`[test setup] ${line}`) });
  console.log(`[test setup] Temporal dev server at ${server.address} (${server.source}), ready in ${Date.now() - started} ms`);
  project.provide('temporalAddress', server.address);
  return () => server.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalCliPath: string;
  }
}
