// vitest globalSetup: one fresh in-memory `temporal server start-dev` per test run, on free ports,
// headless, unless TEMPORAL_ADDRESS names a server to use instead. Runs in vitest's main process;
// test files read the values with inject() (see test/support/temporal.ts), since environment
// variables set here do not reliably reach the test workers.
import type { TestProject } from 'vitest/node';
import { resolveTemporalCli } from '../../src/temporal/cliBinary.js';
import { startDevServer } from '../../src/temporal/devServer.js';
import type {} from '../support/temporal.js'; // ProvidedContext: temporalAddress, temporalCliPath

export default async function setup(project: TestProject) {
  const log = (line: string) => console.log(`[temporal setup] ${line}`);
  project.provide('temporalCliPath', resolveTemporalCli()?.path ?? 'temporal');

  const external = process.env.TEMPORAL_ADDRESS;
  if (external) {
    log(`using TEMPORAL_ADDRESS=${external}; starting no server`);
    project.provide('temporalAddress', external);
    return;
  }

  const server = await startDevServer({ headless: true, log });
  project.provide('temporalAddress', server.address);
  // For child processes spawned from this (main) process; test files should use inject().
  process.env.TEMPORAL_ADDRESS = server.address;
  return async () => {
    if (process.env.TEMPORAL_ADDRESS === server.address) delete process.env.TEMPORAL_ADDRESS;
    await server.stop();
  };
}
