import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventStore, RecordedEvent } from '../../src/eventstore/index.js';
import type { ReadModelDb } from '../../src/projections/readModelDb.js';
import { JobReadModel } from '../../src/projections/jobReadModel.js';
import type { Projector } from '../../src/projections/projector.js';
import { WokenAtSubmit, wakePoolsOfEndedJobs, wakePoolsOfQueuedJobs } from '../../src/commands/poolWakes.js';
import { PoolWaker } from '../../src/commands/poolWaker.js';
import { poolWorkflowId } from '../../src/domain/index.js';
import { openProjectedStore, type ProjectedStore } from '../support/projectedStore.js';

let projected: ProjectedStore;
let store: EventStore;
let db: ReadModelDb;
let projector: Projector;

beforeEach(() => {
  projected = openProjectedStore('projector-wait');
  ({ store, db, projector } = projected);
});
afterEach(() => projected.dispose());

const submitted = (jobId: string, extra: Record<string, unknown> = {}) => ({
  eventId: `${jobId}:1`,
  type: 'JobSubmitted',
  data: {
    ...extra,
    jobId,
    at: new Date().toISOString(),
    name: 'n',
    type: 'noop',
    owner: 'o',
    batchId: null,
    totalSteps: 1,
    maxAttempts: 1,
    priority: 2,
  },
});

describe('Projector.waitUntil / waitFor: how commands wait for their effect', () => {
  it('resolves as soon as the projector applies the event that makes the predicate true', async () => {
    const jobs = new JobReadModel(db);
    const waiting = projector.waitUntil(() => jobs.getJob('job_w') !== undefined, 5_000);
    setTimeout(() => store.appendToStream('job_w', [submitted('job_w')]), 30);
    expect(await waiting).toBe(true);
    const position = store.appendToStream('job_x', [submitted('job_x')]).lastGlobalPosition;
    expect(await projector.waitFor(position, 5_000)).toBe(true);
    expect(jobs.getJob('job_x')).toBeDefined();
  });

  it('whenApplied: hands over the first applied event it matches once its batch is in the read model; nothing after cancel', async () => {
    const jobs = new JobReadModel(db);
    const paused = projector.whenApplied((e) => e.metadata?.updateId === 'u-1', 5_000);
    store.appendToStream('job_p', [submitted('job_p')]);
    setTimeout(
      () =>
        store.appendToStream('job_p', [
          { ...control('job_p', 2, 'JobPaused', { from: 'queued' }), metadata: { updateId: 'u-1' } },
        ]),
      30,
    );
    const event = await paused.promise;
    expect(event?.type).toBe('JobPaused');
    expect(jobs.getJob('job_p')?.status).toBe('paused');
    const never = projector.whenApplied(() => true, 5_000);
    never.cancel();
    expect(await never.promise).toBeUndefined();
    expect(projector.listenerCount('applied')).toBe(0); // nothing left behind
  });

  it('answers false after the timeout when the effect never shows', async () => {
    const started = Date.now();
    expect(await projector.waitUntil(() => false, 100)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(projector.listenerCount('projected')).toBe(0); // nothing left behind
  });
});

const queued = (jobId: string, pool?: string) => ({
  eventId: `${jobId}:2`,
  type: 'JobQueued',
  data: { ...(pool ? { pool } : {}), weight: 1, priority: 2 },
});
const control = (jobId: string, n: number, type: string, data: Record<string, unknown>) => ({
  eventId: `${jobId}:${n}`,
  type,
  data: { ...data, at: new Date().toISOString() },
});
const started = (jobId: string) => ({
  eventId: `${jobId}:3`,
  type: 'JobStarted',
  data: { attempt: 1, step: 0, startedAt: new Date().toISOString() },
});

describe('wakePoolsOfQueuedJobs: the read model owner wakes a pool once a job is in its line', () => {
  it('wakes the pool of each JobSubmitted straight into line, JobQueued and JobResumed into the line applied — after the row is in line, with its position — and nothing else', async () => {
    const jobs = new JobReadModel(db);
    const wakes: { pool: string; jobId: string; position: number; statusThen: string | undefined }[] = [];
    projector.on('applied', (events: RecordedEvent[]) =>
      wakePoolsOfQueuedJobs(events, {
        wake: (pool, jobId, position) => wakes.push({ pool, jobId, position, statusThen: jobs.getJob(jobId)?.status }),
      }),
    );
    // Recorded ahead of its workflow (a batch's job): in line from its JobSubmitted.
    const aSubmitted = store.appendToStream('job_a', [
      submitted('job_a', { pool: 'gpu', runAt: null, dependsOn: [] }),
    ]).lastGlobalPosition;
    // Its first JobQueued: the pool was woken for it at its JobSubmitted already — no second wake.
    store.appendToStream('job_a', [queued('job_a', 'gpu')]);
    // Waiting for its time or its dependencies first: not in line yet.
    store.appendToStream('job_b', [submitted('job_b', { pool: 'default', runAt: '2099-01-01T00:00:00.000Z' })]);
    store.appendToStream('job_c', [
      submitted('job_c', { pool: 'default', dependsOn: [{ jobId: 'job_a', condition: 'succeeded' }] }),
    ]);
    const b = store.appendToStream('job_b', [queued('job_b')]).lastGlobalPosition;
    store.appendToStream('job_a', [started('job_a')]);
    // Back into line later (a retry's JobQueued): woken again.
    const aAgain = store.appendToStream('job_a', [
      control('job_a', 4, 'JobQueued', { pool: 'gpu', weight: 1, priority: 2 }),
    ]).lastGlobalPosition;
    // Paused and resumed back into its pool's line: woken again; resumed into another wait: not.
    store.appendToStream('job_b', [control('job_b', 3, 'JobPaused', { from: 'queued' })]);
    const resumed = store.appendToStream('job_b', [
      control('job_b', 4, 'JobResumed', { from: 'queued', to: 'queued', pool: 'default', weight: 1, priority: 2 }),
    ]).lastGlobalPosition;
    store.appendToStream('job_b', [control('job_b', 5, 'JobPaused', { from: 'queued' })]);
    const last = store.appendToStream('job_b', [
      control('job_b', 6, 'JobResumed', { from: 'queued', to: 'blocked' }),
    ]).lastGlobalPosition;
    expect(await projector.waitFor(last, 5_000)).toBe(true);

    expect(wakes.map(({ pool, jobId, position }) => ({ pool, jobId, position }))).toEqual([
      { pool: 'gpu', jobId: 'job_a', position: aSubmitted },
      { pool: 'default', jobId: 'job_b', position: b },
      { pool: 'gpu', jobId: 'job_a', position: aAgain },
      { pool: 'default', jobId: 'job_b', position: resumed },
    ]);
    // The wake comes after its batch is applied: never a job the pool could not find (no row yet).
    expect(wakes.every((w) => w.statusThen !== undefined)).toBe(true);
  });

  it('does not wake the pool of a job resumed into its line while it still holds its slot', () => {
    const resumed = (streamId: string, globalPosition: number, data: Record<string, unknown>) =>
      ({
        streamId,
        type: 'JobResumed',
        data: { from: 'running', to: 'queued', pool: 'gpu', ...data },
        globalPosition,
      }) as unknown as RecordedEvent;
    const woken: string[] = [];
    wakePoolsOfQueuedJobs([resumed('job_held', 1, { holdingSlot: true }), resumed('job_let_go', 2, {})], {
      wake: (_pool, jobId) => woken.push(jobId),
    });
    expect(woken).toEqual(['job_let_go']);
  });

  it('remembers a job woken at its JobSubmitted only until its first JobQueued or its end, and only so many', () => {
    let position = 0;
    const event = (streamId: string, type: string, data: Record<string, unknown> = {}) =>
      ({ streamId, type, data, globalPosition: ++position }) as unknown as RecordedEvent;
    const intoLine = { pool: 'default', runAt: null, dependsOn: [] };
    const woken: string[] = [];
    const waker = { wake: (_pool: string, jobId: string) => woken.push(jobId) };
    const wokenAtSubmit = new WokenAtSubmit(2);
    wakePoolsOfQueuedJobs(
      [event('job_1', 'JobSubmitted', intoLine), event('job_2', 'JobSubmitted', intoLine), event('job_2', 'JobCancelled')],
      waker,
      wokenAtSubmit,
    );
    expect(wokenAtSubmit.size).toBe(1); // job_2 ended before it ever queued: forgotten
    // Two more: past the limit, the oldest (job_1) is forgotten, so its JobQueued wakes as any would.
    wakePoolsOfQueuedJobs(
      [event('job_3', 'JobSubmitted', intoLine), event('job_4', 'JobSubmitted', intoLine)],
      waker,
      wokenAtSubmit,
    );
    wakePoolsOfQueuedJobs(
      [event('job_1', 'JobQueued'), event('job_3', 'JobQueued'), event('job_4', 'JobQueued'), event('job_4', 'JobQueued')],
      waker,
      wokenAtSubmit,
    );
    expect(woken).toEqual(['job_1', 'job_2', 'job_3', 'job_4', 'job_1', 'job_4']);
    expect(wokenAtSubmit.size).toBe(0);
  });
});

describe('wakePoolsOfEndedJobs: a finished job frees its slot through the read model, not a signal', () => {
  it('wakes the pool of each job whose end is applied (looked up in the read model), asking it to look at its holders', async () => {
    const jobs = new JobReadModel(db);
    const wakes: { pool: string; jobId: string; position: number; holdersEnded?: boolean; statusThen?: string }[] = [];
    projector.on('applied', (events: RecordedEvent[]) =>
      wakePoolsOfEndedJobs(
        events,
        {
          wake: (pool, jobId, position, options) =>
            wakes.push({ pool, jobId, position, holdersEnded: options?.holdersEnded, statusThen: jobs.getJob(jobId)?.status }),
        },
        (jobId) => jobs.getJob(jobId)?.pool,
      ),
    );
    store.appendToStream('job_c', [submitted('job_c'), queued('job_c', 'gpu'), started('job_c')]);
    const completed = store.appendToStream('job_c', [
      control('job_c', 4, 'JobCompleted', {
        completedSteps: 1,
        totalSteps: 1,
        result: null,
        resultFiles: [],
        activeMs: 1,
        attempt: 1,
      }),
    ]).lastGlobalPosition;
    store.appendToStream('job_f', [submitted('job_f'), queued('job_f', 'default'), started('job_f')]);
    const failed = store.appendToStream('job_f', [
      control('job_f', 4, 'JobFailed', { error: 'x', errorType: 'Error', attempt: 1, completedSteps: 0, activeMs: 1 }),
    ]).lastGlobalPosition;
    // Paused: not an end (a paused job signals its release once its step stopped).
    const last = store.appendToStream('job_p', [
      submitted('job_p'),
      queued('job_p'),
      control('job_p', 3, 'JobPaused', { from: 'queued' }),
    ]).lastGlobalPosition;
    expect(await projector.waitFor(last, 5_000)).toBe(true);
    expect(wakes).toEqual([
      { pool: 'gpu', jobId: 'job_c', position: completed, holdersEnded: true, statusThen: 'completed' },
      { pool: 'default', jobId: 'job_f', position: failed, holdersEnded: true, statusThen: 'failed' },
    ]);
  });
});

describe('PoolWaker: at most one signal per pool on its way', () => {
  it('folds the wake-ups that come meanwhile into the next signal: the highest position, and holdersEnded if any asked', async () => {
    const sent: { workflowId: string; request: unknown }[] = [];
    let release: () => void = () => undefined;
    const client = {
      workflow: {
        getHandle: (workflowId: string) => ({
          signal: async (_signal: unknown, request: unknown) => {
            sent.push({ workflowId, request });
            if (sent.length === 1) await new Promise<void>((r) => (release = r));
          },
        }),
      },
    };
    const waker = new PoolWaker({ client: client as never, taskQueue: 'q' });
    waker.wake('gpu', 'job_1', 10);
    waker.wake('gpu', 'job_2', 12);
    waker.wake('gpu', 'job_3', 11, { holdersEnded: true });
    waker.wake('cpu', 'job_4', 5);
    await new Promise((r) => setTimeout(r, 10));
    release();
    await new Promise((r) => setTimeout(r, 10));
    expect(sent).toEqual([
      { workflowId: poolWorkflowId('q', 'gpu'), request: { jobId: 'job_1', position: 10 } },
      { workflowId: poolWorkflowId('q', 'cpu'), request: { jobId: 'job_4', position: 5 } },
      { workflowId: poolWorkflowId('q', 'gpu'), request: { jobId: 'job_1', position: 12, holdersEnded: true } },
    ]);
  });

  it('hold() keeps a pool’s wake-ups (folded) until release() or the hold’s end; other pools are not held', async () => {
    const sent: { workflowId: string; request: unknown }[] = [];
    const client = {
      workflow: {
        getHandle: (workflowId: string) => ({
          signal: async (_signal: unknown, request: unknown) => void sent.push({ workflowId, request }),
        }),
      },
    };
    const waker = new PoolWaker({ client: client as never, taskQueue: 'q' });
    const tick = () => new Promise((r) => setTimeout(r, 10));
    waker.hold('gpu', 60_000);
    waker.wake('gpu', 'job_1', 10);
    waker.wake('gpu', 'job_2', 12, { holdersEnded: true });
    waker.wake('cpu', 'job_3', 5);
    await tick();
    expect(sent).toEqual([{ workflowId: poolWorkflowId('q', 'cpu'), request: { jobId: 'job_3', position: 5 } }]);
    waker.release('gpu');
    await tick();
    expect(sent.slice(1)).toEqual([
      { workflowId: poolWorkflowId('q', 'gpu'), request: { jobId: 'pool-wakes-released', position: 12, holdersEnded: true } },
    ]);
    // Released: wake-ups go out again at once.
    waker.wake('gpu', 'job_4', 13);
    await tick();
    expect(sent.slice(2)).toEqual([{ workflowId: poolWorkflowId('q', 'gpu'), request: { jobId: 'job_4', position: 13 } }]);
    // A hold nobody releases ends by itself; a release with nothing kept sends nothing.
    waker.hold('gpu', 30);
    waker.wake('gpu', 'job_5', 14);
    await tick();
    expect(sent).toHaveLength(3);
    await new Promise((r) => setTimeout(r, 40));
    expect(sent.slice(3)).toEqual([
      { workflowId: poolWorkflowId('q', 'gpu'), request: { jobId: 'pool-wakes-released', position: 14 } },
    ]);
    waker.hold('cpu', 60_000);
    waker.release('cpu');
    await tick();
    expect(sent).toHaveLength(4);
    await waker.stop();
  });

  it('stop() waits for the signal on its way and sends nothing after (the connection closes next)', async () => {
    let release: () => void = () => undefined;
    const sent: unknown[] = [];
    let answered = false;
    const client = {
      workflow: {
        getHandle: () => ({
          signal: async (_signal: unknown, request: unknown) => {
            sent.push(request);
            await new Promise<void>((r) => (release = r));
            answered = true;
          },
        }),
      },
    };
    const waker = new PoolWaker({ client: client as never, taskQueue: 'q' });
    waker.wake('gpu', 'job_1', 1);
    waker.wake('gpu', 'job_2', 2); // would follow the first
    const stopped = waker.stop();
    waker.wake('cpu', 'job_3', 3);
    setTimeout(() => release(), 20);
    await stopped;
    expect(answered).toBe(true);
    expect(sent).toEqual([{ jobId: 'job_1', position: 1 }]);
  });
});
