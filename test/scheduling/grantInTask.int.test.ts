import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { recordSubmittedJob, schedulerOfEngine } from '../support/schedulerOfEngine.js';
import { jobStatusUpserts, workflowTasksOf, type HistoryEvents } from '../support/histories.js';
import { PoolGrantWaiters } from '../../src/activities/poolGrantWaiters.js';
import { poolWorkflowId } from '../../src/domain/index.js';
import { poolStateQuery } from '../../src/workflows/poolContract.js';

/**
 * Revision 9: a job that joins its pool's line waits for its grant within that workflow task, in the
 * process that runs the pools' picks (awaitPoolGrant). A pick tells it there instead of signalling it,
 * so the task goes on to record JobStarted and start its step: two workflow tasks per job, as a bare
 * workflow with one activity, instead of three with a grant signal and a timer.
 */
let engine: TestEngine;

beforeAll(async () => {
  // shut, closed: pools that never grant (limit 0), for the activity's own tests below.
  engine = await startTestEngine({ pools: { intask: 20, one: 1, shut: 0, closed: 0 } });
});
afterAll(async () => {
  await engine?.dispose();
});

async function historyOf(jobId: string): Promise<HistoryEvents> {
  await engine.client.workflow.getHandle(jobId).result(); // closed: its history is whole
  return (await engine.client.workflow.getHandle(jobId).fetchHistory()).events!;
}

const grantSignals = (events: HistoryEvents) =>
  events.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'poolSlotGranted').length;
/** The types of the local activities a history recorded (their markers' details). */
const localActivities = (events: HistoryEvents) =>
  events.flatMap((e) =>
    Object.values(e.markerRecordedEventAttributes?.details ?? {}).flatMap((detail) =>
      (detail.payloads ?? []).flatMap((p) => {
        const match = /"activity_type":"(\w+)"/.exec(Buffer.from(p.data ?? []).toString('utf8'));
        return match ? [match[1]!] : [];
      }),
    ),
  );
describe("a batch's jobs in a pool with free slots", () => {
  it('take their grant within the task that queued them: no grant signal, no timer, two workflow tasks', async () => {
    const created = await engine.api('POST', '/api/v1/batches', {
      name: 'in-task',
      jobs: Array.from({ length: 6 }, (_, i) => ({ name: `j${i}`, type: 'noop', pool: 'intask' })),
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const batchId: string = created.body.batch_id;
    await eventually(
      async () => (await engine.api('GET', `/api/v1/batches/${batchId}`)).body?.status === 'completed',
      60_000,
      'the batch to complete',
    );
    const jobs = (await engine.api('GET', `/api/v1/batches/${batchId}/jobs?limit=100`)).body as { id: string }[];
    expect(jobs).toHaveLength(6);
    const histories = await Promise.all(jobs.map((j) => historyOf(j.id)));
    for (const [i, events] of histories.entries()) {
      const types = engine.eventStore.readStream(jobs[i]!.id).map((e) => e.type);
      expect(types).toEqual(['JobSubmitted', 'JobQueued', 'JobStarted', 'JobCompleted']);
      // Never waited for a timer to ask the pool: granted in the task, or (a pick that came before the
      // task looked) found in the pool's record there.
      expect(events.filter((e) => e.timerStartedEventAttributes)).toEqual([]);
    }
    // A pick that comes before a job's task waits is told by signal (the task finds its record): the
    // race is the machine's; the in-task path is what a quiet pool takes.
    const inTask = histories.filter((events) => grantSignals(events) === 0);
    expect(inTask.length).toBeGreaterThan(0);
    for (const events of inTask) {
      expect(workflowTasksOf(events)).toBe(2);
      // One JobStatus upsert per task, with the status the task ended in (queued → running is one).
      expect(jobStatusUpserts(events)).toEqual(['running', 'completed']);
      expect(localActivities(events)).toContain('awaitPoolGrant');
    }
    // Every slot went back (freed through the read model as the jobs ended).
    await eventually(
      async () => {
        const pool = engine.client.workflow.getHandle(poolWorkflowId(engine.taskQueue, 'intask'));
        return Object.keys((await pool.query(poolStateQuery)).holders).length === 0;
      },
      10_000,
      'the slots freed',
    );
  });
});

describe('a pool with one slot', () => {
  it('runs one job at a time: those that wait behind it get their grant by signal and all complete', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await engine.api('POST', '/api/v1/jobs/submit', {
        name: `one ${i}`,
        type: 'sleep',
        pool: 'one',
        input: { steps: 1, step_ms: 400 },
      });
      expect(r.status).toBe(201);
      ids.push(r.body.job_id);
    }
    const histories = await Promise.all(ids.map((id) => historyOf(id)));
    await eventually(
      async () => {
        const rows = await Promise.all(ids.map(async (id) => (await engine.api('GET', `/api/v1/jobs/${id}`)).body));
        return rows.every((r) => r.status === 'completed');
      },
      10_000,
      'all three completed in the read model',
    );
    // At least one waited behind another: its grant came by signal, after its task had let it wait.
    expect(histories.some((events) => grantSignals(events) > 0)).toBe(true);
  });
});

describe('awaitPoolGrant', () => {
  /** The engine's scheduler activities, with a wait list of this test's own. */
  const schedulerWith = (poolGrants: PoolGrantWaiters) => schedulerOfEngine(engine, { poolGrants });
  const recordSubmitted = (jobId: string, pool: string) => recordSubmittedJob(engine, jobId, pool);

  it('is told by the pick (no signal: the job has no workflow to signal), and a later try finds that grant in the record', async () => {
    const scheduler = schedulerWith(new PoolGrantWaiters());
    // The engine's own pool never grants here (limit 0): only the test's pick below does.
    const pool = 'shut';
    const jobId = `job_${randomUUID()}`;
    const position = recordSubmitted(jobId, pool);
    const waiting = scheduler.awaitPoolGrant({ pool, jobId, position, waitMs: 2_000 });
    await new Promise((resolve) => setTimeout(resolve, 50)); // registered (it waits for nothing else)
    const pick = await scheduler.pickPoolWaiters({
      pool,
      capacity: 0,
      limit: 1,
      holders: {},
      served: {},
      minPosition: engine.eventStore.lastPosition(),
      grantId: `pool:${pool}:test:grant:${randomUUID()}`,
    });
    expect(pick.picks.map((p) => p.jobId)).toEqual([jobId]);
    expect(pick.undelivered).toEqual([]); // told in its task: not signalled, so not found gone
    await expect(waiting).resolves.toBe('granted');
    // The answer lost with its task (a worker restarted): the next try finds the recorded grant, with
    // no wait and even when too many wait to join them.
    await expect(scheduler.awaitPoolGrant({ pool, jobId, position, waitMs: 0 })).resolves.toBe('granted');
    const crowded = schedulerWith(new PoolGrantWaiters({ maxWaiting: 0 }));
    await expect(crowded.awaitPoolGrant({ pool, jobId, position, waitMs: 1_000 })).resolves.toBe('granted');

    // Paused and resumed into the line: a new place, which that grant does not cover.
    const moved = engine.eventStore.appendToStream(jobId, [
      { eventId: `${jobId}:queued`, type: 'JobQueued', data: { pool, weight: 1, priority: 5 } },
      { eventId: `${jobId}:paused`, type: 'JobPaused', data: { from: 'queued' } },
      { eventId: `${jobId}:resumed`, type: 'JobResumed', data: { to: 'queued', from: 'queued', pool, weight: 1, priority: 5 } },
    ]).lastGlobalPosition;
    await expect(scheduler.awaitPoolGrant({ pool, jobId, position: moved, waitMs: 0 })).resolves.toBe('timeout');
    await expect(crowded.awaitPoolGrant({ pool, jobId, position: moved, waitMs: 0 })).resolves.toBe('busy');
  });

  it('does not wait in a pool whose last pick left no slot free (a control by signal would wait for it)', async () => {
    const pool = 'closed';
    const jobId = `job_${randomUUID()}`;
    const position = recordSubmitted(jobId, pool);
    const waiters = new PoolGrantWaiters();
    waiters.notePick(pool, false, true);
    const started = Date.now();
    await expect(schedulerWith(waiters).awaitPoolGrant({ pool, jobId, position, waitMs: 1_500 })).resolves.toBe('timeout');
    expect(Date.now() - started).toBeLessThan(1_000);
    // A pick that leaves a slot free lets the next one wait its whole time.
    waiters.notePick(pool, false, false);
    const again = Date.now();
    await expect(schedulerWith(waiters).awaitPoolGrant({ pool, jobId, position, waitMs: 1_200 })).resolves.toBe('timeout');
    expect(Date.now() - again).toBeGreaterThanOrEqual(1_150);
  });

  it('answers unavailable where no pick runs (no wait list), and times out when no pick comes', async () => {
    const pool = 'closed';
    const jobId = `job_${randomUUID()}`;
    const position = recordSubmitted(jobId, pool);
    const without = schedulerOfEngine(engine);
    await expect(without.awaitPoolGrant({ pool, jobId, position, waitMs: 100 })).resolves.toBe('unavailable');
    const started = Date.now();
    await expect(schedulerWith(new PoolGrantWaiters()).awaitPoolGrant({ pool, jobId, position, waitMs: 200 })).resolves.toBe(
      'timeout',
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(180);
  });
});
