import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobStatusKey } from '../../src/temporal/searchAttributes.js';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { cliSignal, temporalCli } from '../support/temporalCli.js';

/**
 * What the Temporal Web UI and `temporal workflow list` show for a cancelled job: a user filtering by
 * execution status must find jobs cancelled through the API (and through a batch) as Canceled.
 */
let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine();
});
afterAll(async () => {
  await engine?.dispose();
});

const submitRunning = async (name: string) => {
  const r = await engine.api('POST', '/api/v1/jobs/submit', { name, type: 'sleep', input: { steps: 50, step_ms: 200 } });
  expect(r.status).toBe(201);
  const id = r.body.job_id as string;
  await eventually(async () => (await engine.api('GET', `/api/v1/jobs/${id}`)).body.status === 'running', 20_000, 'running');
  return id;
};
const closed = (id: string) =>
  eventually(
    async () => {
      const d = await engine.client.workflow.getHandle(id).describe();
      return d.status.name === 'RUNNING' ? undefined : d;
    },
    30_000,
    `${id} closed`,
  );

describe('the execution status of a cancelled job', () => {
  it('is Canceled when the job was cancelled through the API, with JobStatus=cancelled and one JobCancelled event', async () => {
    const id = await submitRunning('api-cancel');
    const r = await engine.api('POST', `/api/v1/jobs/${id}/cancel`, { reason: 'not needed' });
    expect(r.status).toBe(200);
    const d = await closed(id);
    expect(d.status.name).toBe('CANCELLED');
    expect(d.typedSearchAttributes.get(JobStatusKey)).toBe('cancelled');
    const events = engine.eventStore.readStream(id);
    const cancels = events.filter((e) => e.type === 'JobCancelled');
    expect(cancels).toHaveLength(1);
    expect(cancels[0]!.metadata).toMatchObject({ actor: 'user:local', reason: 'not needed' });
    // The CLI filter a user would type finds it.
    const listed = await eventually(
      async () => {
        const out = await temporalCli(['workflow', 'list', '--query', `WorkflowId="${id}" AND ExecutionStatus="Canceled"`]);
        return out.includes(id) ? out : undefined;
      },
      15_000,
      'listed as Canceled',
    );
    expect(listed).toContain(id);
  });

  it('is Canceled for the jobs of a batch cancelled through the API', async () => {
    const r = await engine.api('POST', '/api/v1/batches', {
      name: 'cancel-me',
      type: 'sleep',
      items: [
        { steps: 50, step_ms: 200 },
        { steps: 50, step_ms: 200 },
      ],
      concurrency: 2,
    });
    expect(r.status).toBe(201);
    const batchId = r.body.batch_id as string;
    const jobs = await eventually(
      async () => {
        const list = (await engine.api('GET', `/api/v1/batches/${batchId}/jobs`)).body;
        const rows = Array.isArray(list) ? list : list.jobs;
        return rows?.length === 2 && rows.every((j: any) => j.status === 'running') ? rows : undefined;
      },
      30_000,
      'both batch jobs running',
    );
    expect((await engine.api('POST', `/api/v1/batches/${batchId}/cancel`, {})).status).toBe(200);
    for (const job of jobs) expect((await closed(job.id)).status.name).toBe('CANCELLED');
  });

  it('is Completed (JobStatus=cancelled) after the plain `cancel` signal: a workflow cannot cancel itself', async () => {
    const id = await submitRunning('signal-cancel');
    await cliSignal(id, 'cancel', { reason: 'by signal' });
    const d = await closed(id);
    expect(d.status.name).toBe('COMPLETED');
    expect(d.typedSearchAttributes.get(JobStatusKey)).toBe('cancelled');
    expect((await engine.api('GET', `/api/v1/jobs/${id}`)).body.status).toBe('cancelled');
  });
});
