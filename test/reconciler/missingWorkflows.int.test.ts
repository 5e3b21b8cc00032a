import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { Reconciler, type ReconcilerOptions } from '../../src/reconciler/reconciler.js';
import { poolWorkflowId } from '../../src/domain/index.js';
import { poolStateQuery } from '../../src/workflows/poolContract.js';
import { BatchReadModel } from '../../src/projections/batchReadModel.js';

/**
 * What Temporal no longer has: a job the read model shows open whose workflow is gone (Temporal's
 * database lost or reset while the engine's files stayed), and a pool's workflow begun afresh while
 * jobs it granted still run. Nothing may stay stuck, and a pool's limit must hold.
 */
let engine: TestEngine;

beforeAll(async () => {
  // The engine's own sweep is left to its default (60 s): the sweeps here are called by the tests.
  engine = await startTestEngine({ pools: { fresh: 1, lost: 1 } });
});
afterAll(async () => {
  await engine?.dispose();
});

const job = async (id: string) => (await engine.api('GET', `/api/v1/jobs/${id}`)).body;
const position = (jobId: string, type: string) =>
  engine.eventStore.readStream(jobId).find((e) => e.type === type)?.globalPosition ?? Infinity;

/** A job the read model shows running in `pool` since two minutes ago, with no workflow in Temporal. */
function recordGhostRunning(pool: string): string {
  const jobId = `job_${randomUUID()}`;
  const at = new Date(Date.now() - 120_000).toISOString();
  const runId = randomUUID();
  const metadata = { actor: 'system', runId, workflowId: jobId };
  engine.eventStore.appendToStream(jobId, [
    {
      eventId: `${jobId}:${runId}:1`,
      type: 'JobSubmitted',
      data: { jobId, at, name: 'ghost', type: 'sleep', priority: 2, owner: 'local', totalSteps: 1, maxAttempts: 1, pool },
      metadata,
    },
    { eventId: `${jobId}:${runId}:2`, type: 'JobQueued', data: { jobId, at, pool, weight: 1 }, metadata },
    { eventId: `${jobId}:${runId}:3`, type: 'JobStarted', data: { jobId, at, attempt: 1, step: 0, startedAt: at }, metadata },
  ]);
  return jobId;
}

/** Runs `use` with a reconciler of the engine's store and read model (every open job old enough to be
 * looked at), stopped afterwards. */
async function withSweeper<T>(overrides: Partial<ReconcilerOptions>, use: (reconciler: Reconciler) => Promise<T>): Promise<T> {
  const reconciler = new Reconciler({
    client: engine.client,
    eventStore: engine.eventStore,
    taskQueue: engine.taskQueue,
    missingAfterMs: 0,
    shownOpen: engine.readModel,
    ...overrides,
  });
  try {
    return await use(reconciler);
  } finally {
    await reconciler.stop();
  }
}

/** Sweeps, waits until `recorded` holds, then sweeps again (which must find nothing more to record). */
const sweepUntil = (overrides: Partial<ReconcilerOptions>, recorded: () => Promise<boolean>, what: string) =>
  withSweeper(overrides, async (reconciler) => {
    await reconciler.sweepMissing();
    await eventually(recorded, 10_000, what);
    await reconciler.sweepMissing();
  });

/** Whether a run of the pool other than `terminatedRun` runs and holds `jobId` (a query of a closed
 * run answers from its history: the terminated one still shows what it held). */
async function newRunHolds(pool: WorkflowHandle, terminatedRun: string, jobId: string): Promise<boolean> {
  const latest = await pool.describe();
  if (latest.runId === terminatedRun || latest.status.name !== 'RUNNING') return false;
  return Object.keys((await pool.query(poolStateQuery)).holders).includes(jobId);
}

async function submitSleep(pool: string, stepMs: number): Promise<string> {
  const r = await engine.api('POST', '/api/v1/jobs/submit', {
    name: 'sleeper',
    type: 'sleep',
    pool,
    input: { steps: 1, step_ms: stepMs },
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.job_id;
}

describe('jobs and batches whose workflow Temporal no longer has', () => {
  it('a job shown running with no workflow is recorded terminated by the sweep, once; a running job is left alone', async () => {
    const running = await submitSleep('default', 30_000);
    await eventually(async () => (await job(running)).status === 'running', 15_000, 'the real job running');
    const ghost = recordGhostRunning('default');
    await eventually(async () => (await job(ghost))?.status === 'running', 5_000, 'the ghost shown running');

    await sweepUntil({}, async () => (await job(ghost)).status === 'terminated', 'the ghost recorded terminated');
    const ended = engine.eventStore.readStream(ghost).filter((e) => e.type === 'JobTerminated');
    expect(ended).toHaveLength(1);
    expect(ended[0]!.metadata).toMatchObject({ actor: 'system:reconciler' });
    expect(ended[0]!.data.reason).toContain('not in Temporal');
    // The job whose workflow runs was looked at as well (every open job was old enough) and kept.
    expect((await job(running)).status).toBe('running');
    expect(engine.eventStore.readStream(running).map((e) => e.type)).not.toContain('JobTerminated');
    expect((await engine.api('POST', `/api/v1/jobs/${running}/cancel`, {})).status).toBeLessThan(300);
  });

  it('nothing is looked up while Temporal runs as many job executions as the read model shows open', async () => {
    const asked: number[] = [];
    const shownOpen = (count: number) => ({
      countOpen: () => count,
      openNotUpdatedSince: (_cutoff: string, limit: number) => {
        asked.push(limit);
        return [];
      },
    });
    expect(await withSweeper({ shownOpen: shownOpen(0) }, (quiet) => quiet.sweepMissing())).toBe(0);
    expect(asked).toEqual([]);
    expect(await withSweeper({ shownOpen: shownOpen(1_000_000) }, (more) => more.sweepMissing())).toBe(0);
    expect(asked).toHaveLength(1);
  });

  it('a batch whose workflow Temporal no longer has (temporal workflow delete) is recorded failed by the sweep, with its items not started; a running batch is left alone', async () => {
    const createBatch = async (name: string) => {
      const r = await engine.api('POST', '/api/v1/batches', {
        name,
        type: 'sleep',
        concurrency: 1,
        items: Array.from({ length: 4 }, () => ({ steps: 1, step_ms: 30_000 })),
      });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return r.body.batch_id as string;
    };
    const batch = async (id: string) => (await engine.api('GET', `/api/v1/batches/${id}`)).body;
    const lost = await createBatch('lost');
    const alive = await createBatch('alive');
    for (const id of [lost, alive])
      await eventually(async () => (await batch(id)).progress.running === 1, 15_000, 'a job running');
    await engine.client.workflowService.deleteWorkflowExecution({
      namespace: engine.client.options.namespace,
      workflowExecution: { workflowId: lost },
    });
    await eventually(
      () =>
        engine.client.workflow
          .getHandle(lost)
          .describe()
          .then(
            () => false,
            () => true,
          ),
      15_000,
      'the batch workflow gone',
    );
    expect((await batch(lost)).status).toBe('running'); // nothing else would ever record its end

    await sweepUntil(
      { batchesShownOpen: new BatchReadModel(engine.readModelDb) },
      async () => (await batch(lost)).status === 'failed',
      'the batch recorded failed',
    );
    const ended = engine.eventStore.readStream(lost).filter((e) => e.type === 'BatchFailed');
    expect(ended).toHaveLength(1);
    expect(ended[0]!.metadata).toMatchObject({ actor: 'system:reconciler' });
    expect(ended[0]!.data).toMatchObject({ notStarted: 3 });
    expect(String(ended[0]!.data.reason)).toContain('not in Temporal');
    expect((await batch(lost)).progress).toMatchObject({ pending: 0, cancelled: expect.any(Number) });
    expect((await batch(lost)).progress.cancelled).toBeGreaterThanOrEqual(3);
    // The batch whose workflow runs was looked at as well and kept.
    expect((await batch(alive)).status).toBe('running');
    expect(engine.eventStore.readStream(alive).map((e) => e.type)).not.toContain('BatchFailed');
    expect((await engine.api('POST', `/api/v1/batches/${alive}/cancel`, {})).status).toBeLessThan(300);
  }, 90_000);
});

describe('a pool whose workflow begins afresh', () => {
  it('counts the jobs already running in it: with a limit of 1, the next job waits for the one running', async () => {
    const first = await submitSleep('fresh', 2_500);
    await eventually(async () => (await job(first)).status === 'running', 15_000, 'the first job running');
    const pool = engine.client.workflow.getHandle(poolWorkflowId(engine.taskQueue, 'fresh'));
    const terminatedRun = (await pool.describe()).runId;
    await pool.terminate('test: an operator terminated the pool');
    const second = await submitSleep('fresh', 100);
    // The wake-up for the second job started the pool again; its first pick booked the running job.
    await eventually(() => newRunHolds(pool, terminatedRun, first), 10_000, 'the new run holding the running job');
    expect(['pending', 'queued']).toContain((await job(second)).status);
    await eventually(async () => (await job(second)).status === 'completed', 20_000, 'the second job completed');
    expect(position(second, 'JobStarted')).toBeGreaterThan(position(first, 'JobCompleted'));
  });

  it('after Temporal lost a running job, its slot comes back once the sweep records its end', async () => {
    // The pool's workflow gone first (as after Temporal lost its database), then the job shown running
    // in it: the wake-up of its record starts the pool again, and that run books its slot.
    const pool = engine.client.workflow.getHandle(poolWorkflowId(engine.taskQueue, 'lost'));
    const terminatedRun = (await pool.describe()).runId;
    await pool.terminate('test: as if Temporal had lost it');
    const ghost = recordGhostRunning('lost');
    await eventually(() => newRunHolds(pool, terminatedRun, ghost), 10_000, 'the new run holding the ghost');
    const waiting = await submitSleep('lost', 100);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(['pending', 'queued']).toContain((await job(waiting)).status);
    await withSweeper({}, (reconciler) => reconciler.sweepMissing());
    await eventually(async () => (await job(waiting)).status === 'completed', 20_000, 'the waiting job completed');
    expect((await job(ghost)).status).toBe('terminated');
  });
});
