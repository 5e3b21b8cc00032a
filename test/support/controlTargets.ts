import { expect } from 'vitest';
import { eventually, type TestEngine } from './testEngine.js';

/** A `sleep` job that runs for about 20 s: long enough to be steered while it runs. */
export const longSleep = { type: 'sleep', input: { steps: 40, step_ms: 500 } };

/**
 * Submits one long `sleep` job per name and a batch of two of them through the API, and waits until
 * all of them run: targets for controls.
 */
export async function runningTargets(engine: TestEngine, names: string[]): Promise<{ jobIds: string[]; batchId: string }> {
  const submitted = await Promise.all(names.map((name) => engine.api('POST', '/api/v1/jobs/submit', { name, ...longSleep })));
  for (const s of submitted) expect(s.status, JSON.stringify(s.body)).toBe(201);
  const jobIds = submitted.map((s) => s.body.job_id as string);
  const created = await engine.api('POST', '/api/v1/batches', {
    name: 'targets',
    jobs: [
      { name: 'b1', ...longSleep },
      { name: 'b2', ...longSleep },
    ],
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const batchId = created.body.batch_id as string;
  const get = async (url: string) => (await engine.api('GET', url)).body;
  await eventually(
    async () => (await Promise.all(jobIds.map((id) => get(`/api/v1/jobs/${id}`)))).every((j) => j.status === 'running'),
    30_000,
    'the jobs running',
  );
  await eventually(async () => (await get(`/api/v1/batches/${batchId}`)).progress?.running === 2, 30_000, 'the batch running');
  return { jobIds, batchId };
}

/** The execution status (`CANCELLED`, `COMPLETED`, …) of a workflow once it has closed. */
export async function closedExecutionStatus(engine: TestEngine, workflowId: string, timeoutMs = 60_000): Promise<string> {
  const description = await eventually(
    async () => {
      const d = await engine.client.workflow.getHandle(workflowId).describe();
      return d.status.name === 'RUNNING' ? undefined : d;
    },
    timeoutMs,
    `${workflowId} closed`,
  );
  return description.status.name;
}
