import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { jobSearchAttributes } from '../../src/workflows/jobContract.js';
import { jobWorkflow, type JobWorkflowInput } from '../../src/workflows/jobWorkflow.js';
import { poolSlotGrantedSignal, poolStateQuery } from '../../src/workflows/poolContract.js';
import { poolWorkflow } from '../../src/workflows/poolWorkflow.js';
import { WorkflowIdConflictPolicy } from '@temporalio/common';
import { poolWorkflowId } from '../../src/domain/index.js';
import { Reconciler } from '../../src/reconciler/reconciler.js';
import { poolRequestsOf } from '../support/poolRequests.js';
import { jobStatusUpserts, workflowTasksOf } from '../support/histories.js';
import { recordSubmittedJob, schedulerOfEngine as schedulerOfThisEngine } from '../support/schedulerOfEngine.js';

/**
 * Early grants: the command side wakes a job's pool as soon as it recorded the job's JobSubmitted, so
 * the pool may give the slot before the job's first workflow task runs. That task then records
 * JobQueued and JobStarted and starts the step at once, without asking its pool (two workflow tasks
 * fewer per job). Here the grant is made to arrive with the start (signal-with-start), which is what
 * a burst does when first tasks wait in the task queue.
 */
let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine({ pools: { early: 2, carried: 1, lone: 1, shut: 0, ghost: 1 } });
});
afterAll(async () => {
  await engine?.dispose();
});

function inputOf(name: string, extra: Partial<JobWorkflowInput> = {}): JobWorkflowInput {
  const prepared = engine.commands.prepareJob({ name, type: 'noop', priority: 5, owner: 'local', actor: 'test', pool: 'early' });
  return { ...prepared, ...extra, jobId: `job_${randomUUID()}`, submittedAt: new Date().toISOString() };
}

/** Starts the job's workflow with its pool's grant already waiting for its first task. */
async function startWithGrant(input: JobWorkflowInput): Promise<void> {
  await (engine.client as Client).workflow.signalWithStart(jobWorkflow, {
    workflowId: input.jobId,
    taskQueue: engine.taskQueue,
    args: [input],
    signal: poolSlotGrantedSignal,
    signalArgs: [{ pool: 'early' }],
    typedSearchAttributes: jobSearchAttributes(input),
  });
}

/** The names of the signals the job's workflow sent its pool, in order. */
async function signalsSent(jobId: string): Promise<string[]> {
  const history = await engine.client.workflow.getHandle(jobId).fetchHistory();
  return history
    .events!.map((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName)
    .filter((name): name is string => typeof name === 'string');
}

const types = (jobId: string) => engine.eventStore.readStream(jobId).map((e) => e.type);

describe('a grant that comes before the job first ran', () => {
  it('is kept: queued, started and run in the first task, the pool never signalled, the slot freed by the read model at the end', async () => {
    const input = inputOf('early');
    await startWithGrant(input);
    await eventually(
      async () => (await engine.api('GET', `/api/v1/jobs/${input.jobId}`)).body?.status === 'completed',
      30_000,
      'completed',
    );
    await engine.client.workflow.getHandle(input.jobId).result(); // closed: its history is whole
    expect(await signalsSent(input.jobId)).toEqual([]);
    expect(types(input.jobId)).toEqual(['JobSubmitted', 'JobQueued', 'JobStarted', 'JobCompleted']);
    const history = await engine.client.workflow.getHandle(input.jobId).fetchHistory();
    const workflowTasks = workflowTasksOf(history.events!);
    expect(workflowTasks).toBe(2); // start+grant, the step's end (no release to confirm)
    // One JobStatus upsert per task, with the status the task ended in: queued → running in the first
    // task is one upsert (running), not two.
    const statuses = jobStatusUpserts(history.events!);
    expect(statuses).toEqual(['running', 'completed']);
    // The pool saw the end in the read model and freed the slot (its limit is 2: two more jobs run).
    await eventually(
      async () => {
        const pool = engine.client.workflow.getHandle(poolWorkflowId(engine.taskQueue, 'early'));
        return !(input.jobId in (await pool.query(poolStateQuery)).holders);
      },
      10_000,
      'the slot freed',
    );
  });

  it('is given back by a job that must wait for its dependencies first, which then gets one in turn without asking', async () => {
    const first = await engine.api('POST', '/api/v1/jobs/submit', {
      name: 'dependency',
      type: 'sleep',
      pool: 'early',
      input: { steps: 1, step_ms: 500 },
    });
    const input = inputOf('dependent', { dependsOn: [{ jobId: first.body.job_id, condition: 'succeeded' }] });
    await startWithGrant(input);
    await eventually(
      async () => (await engine.api('GET', `/api/v1/jobs/${input.jobId}`)).body?.status === 'completed',
      30_000,
      'completed',
    );
    await engine.client.workflow.getHandle(input.jobId).result();
    // No poolRequest: once its JobQueued is applied the read model's owner wakes the pool, whose grant
    // comes before the job would ask (a request would cross it: see POOL_WAKE_WAIT_MS).
    expect(await signalsSent(input.jobId)).toEqual(['poolRelease', 'watchDependency']);
    expect(types(input.jobId).slice(0, 4)).toEqual(['JobSubmitted', 'JobBlocked', 'JobDependencyMet', 'JobQueued']);
  });
});

describe('a job submitted through the API', () => {
  it('does not ask its pool in its first workflow task: the read model wakes the pool (JobSubmitted recorded ahead is not a lost task)', async () => {
    const r = await engine.api('POST', '/api/v1/jobs/submit', { name: 'through-api', type: 'noop', pool: 'early' });
    expect(r.status).toBe(201);
    const jobId = r.body.job_id as string;
    await engine.client.workflow.getHandle(jobId).result();
    // The command side recorded JobSubmitted before the workflow ran; its first batch (JobSubmitted,
    // JobQueued, …) found that one stored. Had that counted as a lost task's JobQueued, the job would
    // have asked at once — a request crossing the pool's grant.
    const events = (await engine.client.workflow.getHandle(jobId).fetchHistory()).events!;
    const firstTaskEnd = events.findIndex((e) => e.workflowTaskCompletedEventAttributes);
    const nextTask = events.findIndex((e, i) => i > firstTaskEnd && e.workflowTaskScheduledEventAttributes);
    const firstTaskCommands = events.slice(firstTaskEnd + 1, nextTask < 0 ? undefined : nextTask);
    expect(firstTaskCommands.some((e) => e.markerRecordedEventAttributes)).toBe(true); // it did record
    expect(firstTaskCommands.filter((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes)).toEqual([]);
    expect(types(jobId)).toEqual(['JobSubmitted', 'JobQueued', 'JobStarted', 'JobCompleted']);
    // Started with the current behaviour revision: no patch markers, no TemporalChangeVersion upserts,
    // and at most one JobStatus upsert per workflow task (queued → running in one task is one).
    expect(events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')).toEqual([]);
    const upserted = events.flatMap((e) =>
      Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}),
    );
    expect(upserted).not.toContain('TemporalChangeVersion');
    const tasks = workflowTasksOf(events);
    expect(upserted.filter((key) => key === 'JobStatus').length).toBeLessThanOrEqual(tasks);
  });
});

describe('a job submitted through the API, on its own', () => {
  it('wakes its pool twice, into its line and at its end: its first JobQueued wakes nobody (its JobSubmitted did)', async () => {
    const pool = engine.client.workflow.getHandle(poolWorkflowId(engine.taskQueue, 'lone'));
    const jobIds: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await engine.api('POST', '/api/v1/jobs/submit', { name: `lone ${i}`, type: 'noop', pool: 'lone' });
      expect(r.status).toBe(201);
      jobIds.push(r.body.job_id as string);
      await engine.client.workflow.getHandle(r.body.job_id as string).result();
      // One at a time: the next comes once this one's end has freed the slot (no wake-ups folded).
      await eventually(async () => Object.keys((await pool.query(poolStateQuery)).holders).length === 0, 10_000, 'slot freed');
    }
    const requests = await poolRequestsOf(pool);
    for (const jobId of jobIds) {
      // A job asks its pool itself only after waiting 3 s without a grant (a slow machine): its timer fired.
      const history = await engine.client.workflow.getHandle(jobId).fetchHistory();
      const askedItself = history.events!.some((e) => e.timerFiredEventAttributes) ? 1 : 0;
      const mine = requests.filter((r) => r.jobId === jobId);
      expect(mine.filter((r) => r.holdersEnded !== true)).toHaveLength(1 + askedItself);
      expect(mine.filter((r) => r.holdersEnded === true)).toHaveLength(1);
    }
  });
});

describe('a new run of a pool (continued as new)', () => {
  it('looks at the holders it carries at once: one that ended meanwhile frees its slot without any wake-up', async () => {
    // As a run continued as new gets it: the only slot booked by a job that has ended since (finished
    // jobs send no release; the wake-up for its end went to the run before).
    const workflowId = poolWorkflowId(engine.taskQueue, 'carried');
    await engine.client.workflow.start(poolWorkflow, {
      workflowId,
      taskQueue: engine.taskQueue,
      args: [
        {
          name: 'carried',
          limit: 1,
          storeAccess: 'local',
          pickLocally: true,
          carried: { limit: 1, holders: { job_ended_meanwhile: { weight: 1, owner: 'local', queuedSeq: 1 } } },
        },
      ],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.TERMINATE_EXISTING,
    });
    const r = await engine.api('POST', '/api/v1/jobs/submit', { name: 'after-carry', type: 'noop', pool: 'carried' });
    expect(r.status).toBe(201);
    // Well before the pool's sweep of stale bookings (15 s) would find it.
    await eventually(
      async () => (await engine.api('GET', `/api/v1/jobs/${r.body.job_id}`)).body?.status === 'completed',
      8_000,
      'the job to get the freed slot',
    );
    const state = await engine.client.workflow.getHandle(workflowId).query(poolStateQuery);
    expect(state.holders).not.toHaveProperty('job_ended_meanwhile');
  });
});

const schedulerOfEngine = () => schedulerOfThisEngine(engine);
const recordSubmitted = (jobId: string, pool: string, data: Record<string, unknown> = {}) =>
  recordSubmittedJob(engine, jobId, pool, data);

describe("a pool's line", () => {
  it('holds jobs submitted straight into line before their workflow ran, not those waiting for time or dependencies', async () => {
    const scheduler = schedulerOfEngine();
    const pool = `line-${randomUUID()}`;
    recordSubmitted('job_plain', pool);
    recordSubmitted('job_later', pool, { runAt: '2099-01-01T00:00:00.000Z' });
    recordSubmitted('job_after', pool, { dependsOn: [{ jobId: 'job_plain', condition: 'succeeded' }] });
    const { picks } = await scheduler.pickPoolWaiters({
      pool,
      capacity: 3,
      holders: {},
      served: {},
      minPosition: engine.eventStore.lastPosition(),
    });
    expect(picks.map((p) => p.jobId)).toEqual(['job_plain']);
    // Booked with the submit's place, which the job's JobQueued keeps: the booking stays valid.
    const position = engine.eventStore.readStream('job_plain')[0]!.globalPosition;
    expect(picks[0]!.queuedSeq).toBe(position);
    engine.eventStore.appendToStream('job_plain', [
      { eventId: 'job_plain:queued', type: 'JobQueued', data: { pool, weight: 1, priority: 5 } },
    ]);
    const again = await scheduler.pickPoolWaiters({
      pool,
      capacity: 0,
      holders: { job_plain: { weight: 1, owner: 'local', queuedSeq: position } },
      served: {},
      minPosition: engine.eventStore.lastPosition(),
    });
    expect(again.finished).toEqual([]);
  });

  it("a new run's first pick (adoptRunning) counts the slots the pool's run before granted: running, and granted in line", async () => {
    const scheduler = schedulerOfEngine();
    const pool = `adopt-${randomUUID()}`;
    const running = `job_${randomUUID()}`;
    recordSubmitted(running, pool);
    engine.eventStore.appendToStream(running, [
      { eventId: `${running}:queued`, type: 'JobQueued', data: { pool, weight: 1 } },
      { eventId: `${running}:started`, type: 'JobStarted', data: { attempt: 1, step: 0 } },
    ]);
    // In line with a grant a pick of the run before recorded (its pick under way when that run ended).
    const granted = `job_${randomUUID()}`;
    const grantedAt = recordSubmitted(granted, pool);
    engine.eventStore.appendToStream(`pool:${pool}`, [
      {
        eventId: `pool:${pool}:old-run:grant:1`,
        type: 'PoolSlotsGranted',
        data: { pool, picks: [{ jobId: granted, owner: 'local', weight: 1, queuedSeq: grantedAt }] },
      },
    ]);
    const behind = `job_${randomUUID()}`;
    recordSubmitted(behind, pool);
    const request = { pool, capacity: 0, limit: 3, holders: {}, served: {}, minPosition: engine.eventStore.lastPosition() };
    const fresh = await scheduler.pickPoolWaiters({ ...request, adoptRunning: true });
    expect(fresh.adopted?.map((a) => a.jobId).sort()).toEqual([granted, running].sort());
    expect(fresh.picks.map((p) => p.jobId)).toEqual([behind]); // one slot of three left
    // Without it, the pick knows of no holder: three slots for the three.
    const blind = await scheduler.pickPoolWaiters(request);
    expect(blind.adopted).toBeUndefined();
    expect(blind.picks.map((p) => p.jobId).sort()).toEqual([behind, granted].sort());
  });

  it('a pick that tells the jobs records its picks first, answers that record when retried, and reports a job that is gone', async () => {
    const scheduler = schedulerOfEngine();
    // A real job in a pool that never grants (limit 0): only the pick below can let it run.
    const submitted = await engine.api('POST', '/api/v1/jobs/submit', { name: 'told', type: 'noop', pool: 'shut', priority: 1 });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(201);
    const waiting: string = submitted.body.job_id;
    // In line ahead of it (a higher priority), a job whose workflow was never started.
    const gone = `job_${randomUUID()}`;
    recordSubmitted(gone, 'shut');
    const grantId = `pool:shut:test-run:grant:${randomUUID()}`;
    const request = {
      pool: 'shut',
      capacity: 0,
      limit: 2,
      holders: {},
      served: {},
      minPosition: engine.eventStore.lastPosition(),
      grantId,
    };
    const first = await scheduler.pickPoolWaiters(request);
    expect(first.picks.map((p) => p.jobId)).toEqual([gone, waiting]);
    expect(first.undelivered).toEqual([gone]);
    // Recorded once, under the pick's id, before anyone was told.
    const recorded = engine.eventStore.readEvent(grantId);
    expect(recorded).toMatchObject({ streamId: 'pool:shut', type: 'PoolSlotsGranted' });
    expect(recorded!.data.picks).toEqual(first.picks);
    // The told job took the slot and ran.
    await eventually(async () => (await engine.api('GET', `/api/v1/jobs/${waiting}`)).body?.status === 'completed', 20_000);
    // Its workflow closes a moment after its JobCompleted is readable: only then is a grant to it undeliverable.
    await engine.client.workflow.getHandle(waiting).result();

    // The same pick again (the pool's task retried after its jobs were told): the line has changed
    // (the job ran; a newer urgent job waits), yet it answers exactly what it recorded.
    const newer = `job_${randomUUID()}`;
    recordSubmitted(newer, 'shut', { priority: 9 });
    const retried = await scheduler.pickPoolWaiters({ ...request, minPosition: engine.eventStore.lastPosition() });
    expect(retried.picks).toEqual(first.picks);
    expect(retried.undelivered!.sort()).toEqual([gone, waiting].sort()); // the job has ended since
    expect(engine.eventStore.readStream('pool:shut').filter((e) => e.type === 'PoolSlotsGranted')).toHaveLength(1);
    // A new pick reads the line again.
    const next = await scheduler.pickPoolWaiters({ ...request, grantId: `${grantId}:next`, limit: 1 });
    expect(next.picks.map((p) => p.jobId)).toEqual([newer]);
  });
});

describe('a job in line whose workflow is gone (closed before its end was recorded, or never there)', () => {
  it('is not picked again and again: the pool serves the job behind it, and records one grant to it, not thousands', async () => {
    // First in line (urgent) in a one-slot pool, its JobSubmitted recorded, no workflow to tell.
    // Submitted a minute ago (Temporal lost its workflow since): a job recorded moments ago cannot be
    // missing from Temporal, whose start came first, and is not recorded terminated.
    const ghost = `job_${randomUUID()}`;
    recordSubmitted(ghost, 'ghost', { priority: 4, at: new Date(Date.now() - 60_000).toISOString() });
    const behind = await engine.api('POST', '/api/v1/jobs/submit', {
      name: 'behind a ghost',
      type: 'noop',
      pool: 'ghost',
      priority: 1,
    });
    expect(behind.status, JSON.stringify(behind.body)).toBe(201);
    await eventually(
      async () => (await engine.api('GET', `/api/v1/jobs/${behind.body.job_id}`)).body?.status === 'completed',
      15_000,
      'the job behind the gone one to run',
    );
    const grantsToGhost = () =>
      engine.eventStore
        .readStream('pool:ghost')
        .filter((e) => e.type === 'PoolSlotsGranted' && (e.data.picks as { jobId: string }[]).some((p) => p.jobId === ghost));
    // (Picked once, found gone, left out of the line since: the pool's picks went on without it.)
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(grantsToGhost()).toHaveLength(1);
    // Temporal has no execution of it: the reconciler records its end (nothing else ever would), once.
    await eventually(
      async () => (await engine.api('GET', `/api/v1/jobs/${ghost}`)).body?.status === 'terminated',
      10_000,
      'the gone job recorded terminated',
    );
    const ended = engine.eventStore.readStream(ghost).filter((e) => e.type === 'JobTerminated');
    expect(ended).toHaveLength(1);
    expect(ended[0]!.metadata).toMatchObject({ actor: 'system:reconciler' });
    expect(ended[0]!.data.reason).toContain('not in Temporal');
    expect(await engine.reconciler.recordMissing(ghost)).toBe(0); // again: nothing more
  });

  it('a job recorded moments ago is looked at again once it is old enough, and recorded then', async () => {
    const reconciler = new Reconciler({
      client: engine.client,
      eventStore: engine.eventStore,
      taskQueue: engine.taskQueue,
      missingAfterMs: 800,
    });
    try {
      const young = `job_${randomUUID()}`;
      recordSubmitted(young, 'shut'); // (a pool that never grants)
      expect(await reconciler.recordMissing(young)).toBe(0);
      expect(engine.eventStore.readStream(young).map((e) => e.type)).toEqual(['JobSubmitted']);
      await eventually(
        async () => engine.eventStore.readStream(young).some((e) => e.type === 'JobTerminated'),
        5_000,
        'the later look to record it',
      );
    } finally {
      await reconciler.stop();
    }
  });

  it('a job whose workflow is there, or that was recorded moments ago, is not recorded as missing', async () => {
    const young = `job_${randomUUID()}`;
    recordSubmitted(young, 'shut'); // (a pool that never grants)
    expect(await engine.reconciler.recordMissing(young)).toBe(0);
    const r = await engine.api('POST', '/api/v1/jobs/submit', { name: 'present', type: 'noop', pool: 'ghost' });
    expect(r.status).toBe(201);
    expect(await engine.reconciler.recordMissing(r.body.job_id)).toBe(0);
    await engine.client.workflow.getHandle(r.body.job_id).result();
    expect(await engine.reconciler.recordMissing(r.body.job_id)).toBe(0);
    expect(engine.eventStore.readStream(r.body.job_id).map((e) => e.type)).not.toContain('JobTerminated');
  });
});
