/**
 * A job's workflow reset through Temporal (`temporal workflow reset`, the Web UI's Reset) on the dev
 * server: Temporal closes the run it resets (terminated, if it ran) and the job goes on in a new run
 * from the reset point. The record says so once (JobReset, by the new run), the job is neither
 * submitted twice nor recorded terminated, it finishes in the new run, nothing the replaced run's
 * step still reports lands after the reset, and the rebuild equals the live read model.
 */
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { rebuildReadModel } from '../../src/projections/rebuildReadModel.js';
import { openReadModelDb } from '../../src/projections/readModelDb.js';
import { poolWorkflowId } from '../../src/domain/index.js';
import { poolStateQuery } from '../../src/workflows/poolContract.js';

let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine({ pools: { single: 1 } });
});
afterAll(async () => {
  await engine?.dispose();
});

const job = async (id: string) => (await engine.api('GET', `/api/v1/jobs/${id}`)).body;

async function submitSleep(steps: number, stepMs: number, pool?: string): Promise<string> {
  const r = await engine.api('POST', '/api/v1/jobs/submit', {
    name: 'to-reset',
    type: 'sleep',
    input: { steps, step_ms: stepMs },
    ...(pool ? { pool } : {}),
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.job_id;
}

/** Resets a workflow's current run to the end of its `nth` workflow task (the first: as `temporal
 * workflow reset --type FirstWorkflowTask` does); returns the run it reset and the new run. */
async function resetToTask(workflowId: string, nth = 1): Promise<{ baseRunId: string; newRunId: string }> {
  const handle = engine.client.workflow.getHandle(workflowId);
  const { runId: baseRunId } = await handle.describe();
  const events = (await engine.client.workflow.getHandle(workflowId, baseRunId).fetchHistory()).events ?? [];
  const taskCompleted = events.filter((e) => e.workflowTaskCompletedEventAttributes)[nth - 1]!;
  const { runId } = await engine.client.workflowService.resetWorkflowExecution({
    namespace: engine.client.options.namespace,
    workflowExecution: { workflowId, runId: baseRunId },
    reason: 'operator reset (test)',
    workflowTaskFinishEventId: taskCompleted.eventId,
    requestId: randomUUID(),
  });
  return { baseRunId, newRunId: runId };
}

async function expectRebuildEqualsLive(jobId: string): Promise<void> {
  await eventually(() => engine.projector.checkpoint() === engine.eventStore.lastPosition(), 10_000, 'projector caught up');
  const target = path.join(engine.dir, `rebuilt-${randomUUID()}.db`);
  await rebuildReadModel(engine.eventStore, target, { threads: 0 });
  const rebuilt = openReadModelDb(target);
  const row = (db: typeof rebuilt) => db.prepare('SELECT * FROM jobs WHERE id = ?').get(jobId);
  expect(row(rebuilt)).toEqual(row(engine.readModelDb));
  rebuilt.close();
}

describe('a job reset through Temporal', () => {
  it('reset while it runs: recorded once as JobReset, not as a second submit or an end; it finishes in the new run', async () => {
    const id = await submitSleep(5, 600);
    await eventually(async () => (await job(id)).completed_steps >= 2, 20_000, 'two steps done');
    const { baseRunId, newRunId } = await resetToTask(id);

    await eventually(async () => (await job(id)).status === 'completed', 30_000, 'completed after the reset');
    expect(await engine.client.workflow.getHandle(id).result()).toMatchObject({ status: 'completed' });
    // What the replaced run's step might still report comes a step's length after the reset at most.
    await new Promise((r) => setTimeout(r, 1_000));

    const stream = engine.eventStore.readStream(id);
    const types = stream.map((e) => e.type);
    expect(types.filter((t) => t === 'JobSubmitted')).toHaveLength(1);
    expect(types).not.toContain('JobTerminated');
    const resets = stream.filter((e) => e.type === 'JobReset');
    expect(resets).toHaveLength(1);
    expect(resets[0]!.metadata).toMatchObject({ actor: 'temporal:reset', runId: newRunId });
    expect(resets[0]!.data).toMatchObject({ runId: newRunId });
    // The base run's events all come before the reset; the job's end is the new run's.
    const resetAt = resets[0]!.globalPosition;
    expect(stream.filter((e) => e.metadata.runId === baseRunId && e.globalPosition > resetAt).map((e) => e.type)).toEqual([]);
    expect(stream.find((e) => e.type === 'JobCompleted')!.metadata.runId).toBe(newRunId);
    expect(await job(id)).toMatchObject({ status: 'completed', completed_steps: 5, progress: 100 });
    // Neither run holds its pool's slot any more.
    await eventually(async () => (await engine.api('GET', '/api/v1/pools/default')).body.used === 0, 10_000, 'slot free');
    await expectRebuildEqualsLive(id);
  }, 90_000);

  it('reset after it completed: it runs again in the new run and completes again, recorded once as JobReset', async () => {
    const id = await submitSleep(2, 200);
    await eventually(async () => (await job(id)).status === 'completed', 20_000, 'completed');
    const firstEnd = (await job(id)).completed_at as string;
    const { newRunId } = await resetToTask(id);

    await eventually(
      async () => {
        const row = await job(id);
        return row.status === 'completed' && row.completed_at !== firstEnd;
      },
      30_000,
      'completed again',
    );
    const stream = engine.eventStore.readStream(id);
    expect(stream.filter((e) => e.type === 'JobSubmitted')).toHaveLength(1);
    expect(stream.filter((e) => e.type === 'JobReset').map((e) => e.metadata.runId)).toEqual([newRunId]);
    const ends = stream.filter((e) => e.type === 'JobCompleted');
    expect(ends).toHaveLength(2);
    expect(ends[1]!.metadata.runId).toBe(newRunId);
    await expectRebuildEqualsLive(id);
  }, 60_000);

  it.each([1, 2])(
    "a pool's workflow reset to the end of its task %i, before it granted a running job, keeps that job's slot: the next job waits for it",
    async (nth) => {
      const pool = engine.client.workflow.getHandle(poolWorkflowId(engine.taskQueue, 'single'));
      // A short job first: the pool's tasks after its first one (the engine's start) are this one's.
      const first = await submitSleep(1, 50, 'single');
      await eventually(async () => (await job(first)).status === 'completed', 15_000, 'a first job completed');
      const running = await submitSleep(1, 6_000, 'single');
      await eventually(async () => (await job(running)).status === 'running', 15_000, 'a job running');
      // Reset to a point before that job's grant: the reset run's state knows none of its slot.
      const { newRunId } = await resetToTask(pool.workflowId, nth);
      await eventually(async () => (await pool.describe()).runId === newRunId, 10_000, 'the reset run');
      const next = await submitSleep(1, 100, 'single');
      await eventually(
        async () => Object.keys((await pool.query(poolStateQuery)).holders).includes(running),
        10_000,
        'the reset run holding the running job',
      );
      expect(['pending', 'queued']).toContain((await job(next)).status);
      await eventually(async () => (await job(next)).status === 'completed', 30_000, 'the next job completed');
      const position = (id: string, type: string) =>
        engine.eventStore.readStream(id).find((e) => e.type === type)!.globalPosition;
      expect(position(next, 'JobStarted')).toBeGreaterThan(position(running, 'JobCompleted'));
    },
    60_000,
  );
});
