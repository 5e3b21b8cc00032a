import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import type { NodeProcess } from '../support/nodeProcess.js';
import { startWorkerProcess } from '../support/workerProcess.js';

/**
 * WORKFLOW_STACK_TRACES: by default the engine's workflow threads run without the SDK's per-promise
 * stack capture (src/worker/workflowStackTraces.ts) and the stack-trace query says so; with the
 * option on, it answers with the workflow's stack, as the SDK does by default. Either way the jobs
 * run and are recorded as usual. Checked in this process (vitest) and in a worker process as
 * `npm start` runs it (tsx, whose source-mapped stacks name the SDK's files differently), with
 * deep stack traces.
 */
let withoutTraces: TestEngine;
let withTraces: TestEngine;
let remote: TestEngine;
let workerProcess: NodeProcess | undefined;

beforeAll(async () => {
  [withoutTraces, withTraces, remote] = await Promise.all([
    startTestEngine(),
    startTestEngine({ workflowStackTraces: true }),
    startTestEngine({ runWorkers: false, storeAccess: 'remote' }),
  ]);
  // Deep stacks: the SDK's files are further down the stack of every AsyncLocalStorage call workflow
  // code makes, and those must keep their hook (only the SDK's own request is refused).
  workerProcess = await startWorkerProcess(remote, { NODE_OPTIONS: '--stack-trace-limit=60' });
}, 120_000);
afterAll(async () => {
  workerProcess?.child.kill('SIGKILL');
  await Promise.all([withoutTraces?.dispose(), withTraces?.dispose(), remote?.dispose()]);
});

async function runningJob(engine: TestEngine, name: string): Promise<string> {
  const submitted = await engine.api('POST', '/api/v1/jobs/submit', { name, type: 'sleep', input: { steps: 50, step_ms: 200 } });
  expect(submitted.status).toBe(201);
  const id: string = submitted.body.job_id;
  await eventually(
    async () => (await engine.api('GET', `/api/v1/jobs/${id}`)).body.status === 'running',
    30_000,
    `${name} running`,
  );
  return id;
}

const stackTrace = (engine: TestEngine, id: string) => engine.client.workflow.getHandle(id).query<string>('__stack_trace');

async function cancel(engine: TestEngine, id: string): Promise<void> {
  expect((await engine.api('POST', `/api/v1/jobs/${id}/cancel`, {})).status).toBeLessThan(300);
  await eventually(async () => (await engine.api('GET', `/api/v1/jobs/${id}`)).body.status === 'cancelled', 30_000, 'cancelled');
}

async function completedNoop(engine: TestEngine): Promise<string[]> {
  const id = (await engine.api('POST', '/api/v1/jobs/submit', { name: 'quick', type: 'noop' })).body.job_id;
  await eventually(async () => (await engine.api('GET', `/api/v1/jobs/${id}`)).body.status === 'completed', 30_000, 'completed');
  return engine.eventStore.readStream(id).map((e) => e.type);
}

describe('workflow stack traces', () => {
  it('are off by default: the query says so, and jobs run and are recorded as usual', async () => {
    for (const engine of [withoutTraces, remote]) {
      const id = await runningJob(engine, 'no-traces');
      await expect(stackTrace(engine, id)).rejects.toThrow(/stack traces are not enabled/);
      await cancel(engine, id);
      expect(await completedNoop(engine)).toEqual(['JobSubmitted', 'JobQueued', 'JobStarted', 'JobCompleted']);
    }
  });

  it('with WORKFLOW_STACK_TRACES on, the query answers with where the job waits', async () => {
    const id = await runningJob(withTraces, 'traces');
    expect(await stackTrace(withTraces, id)).toMatch(/jobWorkflow\.ts/);
    await cancel(withTraces, id);
  });
});
