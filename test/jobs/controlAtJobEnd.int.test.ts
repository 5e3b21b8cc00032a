import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { startInProcessWorkers, type InProcessWorkers } from '../support/inProcessWorkers.js';
import { withAfterAppend } from '../support/afterAppend.js';
import type { EventStore } from '../../src/eventstore/index.js';
import { BatchItemStore } from '../../src/batches/batchItemStore.js';

/**
 * A control that reaches a job while the workflow task that completes it is running: Temporal refuses
 * that task (a signal or Update came during it) and hands the workflow a new one with the control in
 * it. The refused task's JobCompleted was in the store already (local-activity append). Before
 * behaviour revision 8 the job took the control first: its event took the id of the JobCompleted (a
 * forked id, an ERROR), a pause left a job whose every step was done paused, and the log kept a
 * completion the job then made again. Here the store holds each job's JobCompleted append for a
 * while after its commit, and the control is sent inside that window.
 */
const HOLD_MS = 1500;
let engine: TestEngine;
let workers: InProcessWorkers;
let batchItems: BatchItemStore;
/** Jobs (and batches) whose first completion append is held; each told once it is committed. */
const held = new Map<string, () => void>();
const COMPLETIONS = ['JobCompleted', 'BatchCompleted'];

/** The engine's store, with the first completion append of each stream in `held` held after its commit. */
function holdingCompletions(store: EventStore): EventStore {
  return withAfterAppend(store, (result, streamId, events) => {
    const committed = held.get(streamId);
    if (!committed || !events.some((e) => COMPLETIONS.includes(e.type))) return result;
    held.delete(streamId);
    committed();
    return sleep(HOLD_MS).then(() => result);
  });
}

beforeAll(async () => {
  engine = await startTestEngine({ runWorkers: false, storeAccess: 'local' });
  batchItems = new BatchItemStore(path.join(engine.dir, 'batch-items.db'));
  workers = await startInProcessWorkers(engine, { eventStore: holdingCompletions(engine.eventStore), batchItems });
});
afterAll(async () => {
  await workers?.stop();
  batchItems?.close();
  await engine?.dispose();
});

/** Submits a short job and resolves with its id once its JobCompleted is committed and held. */
async function jobAtItsEnd(name: string): Promise<string> {
  let committed!: () => void;
  const atEnd = new Promise<void>((resolve) => (committed = resolve));
  const submit = await engine.api('POST', '/api/v1/jobs/submit', { name, type: 'sleep', input: { steps: 2, step_ms: 200 } });
  expect(submit.status).toBe(201);
  const id: string = submit.body.job_id;
  held.set(id, committed);
  await atEnd;
  return id;
}

/** The job's end as the record and Temporal show it: completed once, nothing forked. */
async function expectCompletedOnce(id: string, { refused = true } = {}) {
  const row = await eventually(
    () => {
      const job = engine.readModel.getJob(id);
      return job?.status === 'completed' ? job : undefined;
    },
    30_000,
    `job ${id} completed (status now: ${engine.readModel.getJob(id)?.status})`,
  );
  expect(row.progress).toBe(100);
  const handle = engine.client.workflow.getHandle(id);
  expect(await handle.result()).toMatchObject({ status: 'completed' });
  const events = engine.eventStore.readStream(id);
  expect(events.filter((e) => e.type === 'JobCompleted')).toHaveLength(1);
  expect(events.filter((e) => e.metadata.forkOf !== undefined || e.eventId.endsWith(':fork'))).toEqual([]);
  expect(events.map((e) => e.streamVersion)).toEqual(events.map((_, i) => i + 1));
  const history = await handle.fetchHistory();
  // The window was hit: Temporal refused the task that completed the job.
  const failedTasks = history.events!.filter((e) => e.workflowTaskFailedEventAttributes);
  if (refused) expect(failedTasks).not.toEqual([]);
  // The history, refused task included, replays.
  await expect(
    Worker.runReplayHistory({ workflowBundle: { codePath: engine.workflowBundlePath } }, history, `replay-${id}`),
  ).resolves.toBeUndefined();
  return { events, refusedCauses: failedTasks.map((e) => e.workflowTaskFailedEventAttributes!.cause) };
}

describe('a control that reaches a job while its last workflow task completes', () => {
  it(
    'a pause signal (as `temporal workflow signal --name pause`): the job completes, the pause is recorded as ignored after it',
    { timeout: 60_000 },
    async () => {
      const id = await jobAtItsEnd('paused at its end');
      await engine.client.workflow.getHandle(id).signal('pause', { reason: 'at the end', actor: 'user:ops' });
      const { events, refusedCauses } = await expectCompletedOnce(id);
      expect(refusedCauses).toContain(temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND);
      expect(events.filter((e) => e.type === 'JobPaused')).toEqual([]);
      const types = events.map((e) => e.type);
      const ignored = events.find((e) => e.type === 'JobSignalIgnored');
      expect(ignored?.data).toMatchObject({ signal: 'pause', status: 'completed', why: 'Job is completed; it cannot be paused' });
      expect(ignored?.metadata).toMatchObject({ actor: 'user:ops', reason: 'at the end' });
      expect(types.indexOf('JobSignalIgnored')).toBeGreaterThan(types.indexOf('JobCompleted'));
    },
  );

  it('a cancel and a reprioritize signal in the same window: both ignored, the job completed', { timeout: 60_000 }, async () => {
    const id = await jobAtItsEnd('cancelled at its end');
    const handle = engine.client.workflow.getHandle(id);
    await handle.signal('reprioritize', { priority: 4 });
    await handle.signal('cancel', { reason: 'too late' });
    const { events } = await expectCompletedOnce(id);
    expect(events.filter((e) => e.type === 'JobCancelled' || e.type === 'JobReprioritized')).toEqual([]);
    expect(events.filter((e) => e.type === 'JobSignalIgnored').map((e) => e.data.signal)).toEqual(['reprioritize', 'cancel']);
    expect(engine.readModel.getJob(id)?.priority).not.toBe(4);
  });

  it(
    'Temporal’s cancel (`temporal workflow cancel`) in the same window: the job completes, no JobCancelled',
    { timeout: 60_000 },
    async () => {
      const id = await jobAtItsEnd('cancelled through Temporal at its end');
      await engine.client.workflow.getHandle(id).cancel();
      const { events } = await expectCompletedOnce(id);
      expect(events.filter((e) => e.type === 'JobCancelled' || e.type === 'JobSignalIgnored')).toEqual([]);
    },
  );

  it('a pause Update (the API’s way): the job completes, nothing recorded for the Update', { timeout: 60_000 }, async () => {
    const id = await jobAtItsEnd('updated at its end');
    const update = engine.client.workflow.getHandle(id).executeUpdate('pause', { args: [{ actor: 'user:ops' }] });
    const outcome = await update.then(
      () => 'accepted',
      (error: unknown) => (error instanceof WorkflowUpdateFailedError ? (error.cause?.message ?? error.message) : String(error)),
    );
    // Temporal does not refuse the closing task for an Update it has not handed out yet: it closes
    // the run and aborts the Update (the API answers 409 "no longer running"). Were it handed out,
    // the job would refuse it as completed. Either way the pause is not taken.
    expect([
      'WorkflowNotFoundError: workflow update was aborted by closing workflow',
      'Job is completed; it cannot be paused',
    ]).toContain(outcome);
    const { events } = await expectCompletedOnce(id, { refused: false });
    expect(events.filter((e) => e.type === 'JobPaused' || e.type === 'JobSignalIgnored')).toEqual([]);
  });

  it(
    'a batch paused as its last job ends: the batch completes once, the pause is recorded as ignored after it',
    { timeout: 60_000 },
    async () => {
      let committed!: () => void;
      const atEnd = new Promise<void>((resolve) => (committed = resolve));
      const create = await engine.api('POST', '/api/v1/batches', {
        name: 'paused at its end',
        type: 'sleep',
        concurrency: 2,
        items: [0, 1, 2].map(() => ({ steps: 1, step_ms: 100 })),
      });
      expect(create.status).toBe(201);
      const id: string = create.body.batch_id;
      held.set(id, committed);
      await atEnd;
      const handle = engine.client.workflow.getHandle(id);
      await handle.signal('pause', { reason: 'at the end', actor: 'user:ops' });
      expect(await handle.result()).toMatchObject({ status: 'completed', counts: { completed: 3 } });
      const events = engine.eventStore.readStream(id);
      expect(events.filter((e) => e.type === 'BatchCompleted')).toHaveLength(1);
      expect(events.filter((e) => e.type === 'BatchPaused')).toEqual([]);
      expect(events.filter((e) => e.metadata.forkOf !== undefined || e.eventId.endsWith(':fork'))).toEqual([]);
      const types = events.map((e) => e.type);
      expect(types.indexOf('BatchSignalIgnored')).toBeGreaterThan(types.indexOf('BatchCompleted'));
      const history = await handle.fetchHistory();
      expect(history.events!.filter((e) => e.workflowTaskFailedEventAttributes)).not.toEqual([]);
      await expect(
        Worker.runReplayHistory({ workflowBundle: { codePath: engine.workflowBundlePath } }, history, `replay-${id}`),
      ).resolves.toBeUndefined();
      const row = await eventually(
        async () => {
          const batch = (await engine.api('GET', `/api/v1/batches/${id}`)).body;
          return batch?.status === 'completed' ? batch : undefined;
        },
        10_000,
        'the batch completed in the read model',
      );
      expect(row.progress).toMatchObject({ total: 3, completed: 3, paused: 0 });
    },
  );
});
