import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { temporal } from '@temporalio/proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { installRuntime } from '../../src/worker/engineWorkers.js';

/**
 * The SDK captures a source-mapped stack for every promise workflow code creates (its stack-trace
 * query): on a busy worker that was about 40 % of the workflow thread. Behaviour revision 6 creates
 * fewer. Counted, not timed: the same 3-step `sleep` job replayed as recorded with revision 5 and with
 * revision 6 (same commands), counting the promises created inside the workflow's context.
 */
let inWorkflow = 0;
const hooks = (v8 as any).promiseHooks;
const createHook = hooks.createHook.bind(hooks);
// Before the SDK installs its hook (in this thread: debugMode runs workflows here).
hooks.createHook = (callbacks: { init?: (promise: Promise<unknown>, parent: unknown) => void }) =>
  createHook({
    ...callbacks,
    init(promise: Promise<unknown>, parent: unknown) {
      // The workflow's context has a Promise of its own.
      if (promise.constructor !== Promise) inWorkflow++;
      callbacks.init?.(promise, parent);
    },
  });

beforeAll(() => installRuntime());

async function promisesOfReplay(file: string): Promise<number> {
  const { Worker } = await import('@temporalio/worker');
  const json = JSON.parse(readFileSync(new URL(`../fixtures/histories/${file}`, import.meta.url), 'utf8'));
  const history = temporal.api.history.v1.History.fromObject(json);
  const options = { workflowsPath: fileURLToPath(new URL('../../src/workflows/index.ts', import.meta.url)), debugMode: true };
  await Worker.runReplayHistory(options, history, `warm-${file}`); // bundles and installs the hooks
  inWorkflow = 0;
  await Worker.runReplayHistory(options, history, `count-${file}`);
  return inWorkflow;
}

describe('a job run creates fewer promises since revision 6', () => {
  it('replays the same 3-step job with at most 85 % of the promises of revision 5', async () => {
    const before = await promisesOfReplay('job-steps-before-revision-6.json');
    const after = await promisesOfReplay('job-steps-revision-6.json');
    expect(before).toBeGreaterThan(100); // the count sees the workflow's promises at all
    expect(after).toBeLessThanOrEqual(before * 0.85);
  });
});
