import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rebuildReadModel } from '../../src/projections/rebuildReadModel.js';
import { openReadModelDb } from '../../src/projections/readModelDb.js';
import { batchStatusQuery } from '../../src/workflows/batchWorkflow.js';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { cliSignal, temporalCli } from '../support/temporalCli.js';

let engine: TestEngine;
beforeAll(async () => {
  engine = await startTestEngine();
});
afterAll(async () => {
  await engine?.dispose();
});

const create = async (body: Record<string, unknown>) => {
  const r = await engine.api('POST', '/api/v1/batches', { name: 'b', ...body });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.batch_id as string;
};
const batch = async (id: string) => (await engine.api('GET', `/api/v1/batches/${id}`)).body;
const jobsOf = async (id: string) => (await engine.api('GET', `/api/v1/batches/${id}/jobs?limit=1000`)).body as any[];
const untilBatch = (id: string, predicate: (b: any) => boolean, what: string, ms = 60_000) =>
  eventually(
    async () => {
      const b = await batch(id);
      return predicate(b) ? b : undefined;
    },
    ms,
    what,
  );
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sleepJob = (step_ms: number, steps = 1) => ({ name: 'sleep', type: 'sleep', input: { steps, step_ms } });
const failing = {
  name: 'bad',
  type: 'flaky',
  input: { steps: 1, step_ms: 1, fail_on_step: 0, permanent: true, message: 'broken input' },
};

describe('batches', () => {
  it('reports invalid jobs per index with a 400 and starts nothing', async () => {
    const before = engine.eventStore.lastPosition();
    const r = await engine.api('POST', '/api/v1/batches', {
      name: 'bad',
      jobs: [sleepJob(1), { name: 'x', type: 'nope' }, { name: 'y', type: 'sleep', input: { steps: -1 } }],
    });
    expect(r.status).toBe(400);
    expect(r.body.details).toContain('jobs[1].type');
    expect(r.body.details).toContain('jobs[2].input.steps');
    expect(engine.eventStore.lastPosition()).toBe(before);
  });

  it('continue: a mixed batch with permanent failures completes, with a correct report', async () => {
    const id = await create({ jobs: [sleepJob(20), failing, sleepJob(20), sleepJob(20), failing, sleepJob(20)], concurrency: 3 });
    const done = await untilBatch(id, (b) => b.status === 'completed', 'completed');
    expect(done.progress).toMatchObject({
      total: 6,
      completed: 4,
      failed: 2,
      cancelled: 0,
      pending: 0,
      running: 0,
      percentage: 100,
    });
    const report = (await engine.api('GET', `/api/v1/batches/${id}/report`)).body;
    expect(report.failed_jobs).toHaveLength(2);
    expect(report.failed_jobs.every((f: any) => f.error_message === 'broken input')).toBe(true);
    expect(report.durations.jobs).toBe(6);
    expect(report.slowest_jobs.length).toBeGreaterThan(0);
    const jobs = await jobsOf(id);
    expect(jobs).toHaveLength(6);
    expect(jobs.every((j) => j.batch_id === id)).toBe(true);
    const types = engine.eventStore.readStream(id).map((e) => e.type);
    expect(types[0]).toBe('BatchCreated');
    expect(types.at(-1)).toBe('BatchCompleted');
    expect(engine.eventStore.readStream(id).at(-1)!.data.counts).toMatchObject({ completed: 4, failed: 2 });
  });

  it('fail-fast: the first failure fails the batch and cancels what is left', async () => {
    const id = await create({
      jobs: [failing, sleepJob(3000), sleepJob(3000), sleepJob(3000), sleepJob(3000)],
      concurrency: 2,
      failure_policy: 'fail_fast',
    });
    const done = await untilBatch(id, (b) => b.status === 'failed', 'failed');
    expect(done.progress.failed).toBe(1);
    expect(done.progress.completed + done.progress.failed + done.progress.cancelled).toBe(5);
    expect(done.progress.cancelled).toBeGreaterThanOrEqual(3);
    const jobs = await jobsOf(id);
    expect(jobs.filter((j) => !['failed', 'cancelled', 'completed'].includes(j.status))).toEqual([]);
  });

  it('pause (temporal CLI): no job starts and running jobs pause; resume (API): all complete', async () => {
    const id = await create({ jobs: Array.from({ length: 5 }, () => sleepJob(400, 3)), concurrency: 2 });
    await eventually(async () => (await jobsOf(id)).filter((j) => j.status === 'running').length === 2, 20_000, 'two running');
    await cliSignal(id, 'pause', { reason: 'maintenance' });
    await untilBatch(id, (b) => b.status === 'paused', 'batch paused');
    await eventually(async () => (await jobsOf(id)).filter((j) => j.status === 'paused').length === 2, 20_000, 'jobs paused');
    const started = (await jobsOf(id)).length;
    await sleep(1500);
    expect((await jobsOf(id)).length).toBe(started); // nothing new started while paused
    expect((await jobsOf(id)).filter((j) => j.status === 'running')).toEqual([]);
    const resumed = await engine.api('POST', `/api/v1/batches/${id}/resume`);
    expect(resumed.status).toBe(200);
    // The API answered once its resume was in the read model (the event names its Update).
    expect(resumed.body.batch.status).not.toBe('paused');
    const done = await untilBatch(id, (b) => b.status === 'completed', 'completed');
    expect(done.progress.completed).toBe(5);
    const paused = engine.eventStore.readStream(id).find((e) => e.type === 'BatchPaused')!;
    expect(paused.metadata).toMatchObject({ actor: 'external', reason: 'maintenance' });
    expect(paused.metadata.updateId).toBeUndefined(); // a signal: no Update
    const resumedEvent = engine.eventStore.readStream(id).find((e) => e.type === 'BatchResumed')!;
    expect(resumedEvent.metadata.updateId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('cancel (API and temporal CLI): every unfinished job ends cancelled', async () => {
    for (const via of ['api', 'cli'] as const) {
      const id = await create({ jobs: Array.from({ length: 5 }, () => sleepJob(5000)), concurrency: 2 });
      await eventually(async () => (await jobsOf(id)).filter((j) => j.status === 'running').length === 2, 20_000, 'running');
      if (via === 'api') expect((await engine.api('POST', `/api/v1/batches/${id}/cancel`, { reason: 'stop' })).status).toBe(200);
      else await cliSignal(id, 'cancel', {});
      const done = await untilBatch(id, (b) => b.status === 'cancelled', `cancelled via ${via}`);
      expect(done.progress).toMatchObject({ total: 5, cancelled: 5, completed: 0, running: 0, pending: 0 });
      expect((await jobsOf(id)).every((j) => j.status === 'cancelled')).toBe(true);
    }
  });

  it('`temporal workflow cancel` on a batch cancels its jobs and records the end; terminate is recorded as failed', async () => {
    const id = await create({ jobs: Array.from({ length: 4 }, () => sleepJob(5000)), concurrency: 2 });
    await eventually(async () => (await jobsOf(id)).filter((j) => j.status === 'running').length === 2, 20_000, 'running');
    await temporalCli(['workflow', 'cancel', '--workflow-id', id]);
    const done = await untilBatch(id, (b) => b.status === 'cancelled', 'cancelled via temporal workflow cancel');
    expect(done.progress).toMatchObject({ cancelled: 4, running: 0 });

    const id2 = await create({ jobs: Array.from({ length: 3 }, () => sleepJob(5000)), concurrency: 1 });
    await eventually(async () => (await jobsOf(id2)).some((j) => j.status === 'running'), 20_000, 'running');
    await temporalCli(['workflow', 'terminate', '--workflow-id', id2, '--reason', 'emergency']);
    const failed = await untilBatch(id2, (b) => b.status === 'failed', 'terminated batch recorded', 20_000);
    expect(failed.completed_at).not.toBeNull();
    await eventually(async () => (await jobsOf(id2)).every((j) => j.status === 'terminated'), 20_000, 'its job terminated too');
  });

  it('reprioritize (temporal CLI): unfinished and not-yet-started jobs carry the new priority; a job stays controllable alone', async () => {
    const id = await create({ jobs: Array.from({ length: 4 }, () => sleepJob(700)), concurrency: 1, priority: 2 });
    const first = await eventually(async () => (await jobsOf(id)).find((j) => j.status === 'running'), 20_000, 'first running');
    await cliSignal(id, 'reprioritize', { priority: 4 });
    await untilBatch(id, (b) => b.priority === 4, 'batch reprioritized');
    // One job of the running batch paused on its own, then resumed.
    const own = await engine.api('POST', `/api/v1/jobs/${first.id}/pause`);
    expect([200, 409]).toContain(own.status); // 409 if it finished in between
    if (own.status === 200) await engine.api('POST', `/api/v1/jobs/${first.id}/resume`);
    await untilBatch(id, (b) => b.status === 'completed', 'completed');
    const jobs = await jobsOf(id);
    expect(jobs).toHaveLength(4);
    expect(jobs.filter((j) => j.id !== first.id).every((j) => j.priority === 4)).toBe(true);
  });

  it("sends its controls to its jobs from the engine's process: in the order taken, each once, no command per job in its history", async () => {
    const id = await create({ jobs: Array.from({ length: 4 }, () => sleepJob(400, 4)), concurrency: 4 });
    await eventually(async () => (await jobsOf(id)).filter((j) => j.status === 'running').length === 4, 20_000, 'four running');
    // Three controls back to back: every job must hear them in the order the batch took them.
    expect((await engine.api('POST', `/api/v1/batches/${id}/pause`, { reason: 'window' })).status).toBe(200);
    expect((await engine.api('PUT', `/api/v1/batches/${id}/priority`, { priority: 4 })).status).toBe(200);
    expect((await engine.api('POST', `/api/v1/batches/${id}/resume`)).status).toBe(200);
    await untilBatch(id, (b) => b.status === 'completed', 'completed');
    const history = (await engine.client.workflow.getHandle(id).fetchHistory()).events!;
    // One activity per fan-out (signalJobs, in this process: a local one), no SignalExternal per job.
    expect(history.filter((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes)).toEqual([]);
    const fanOuts = history.filter(
      (e) =>
        e.markerRecordedEventAttributes?.markerName === 'core_local_activity' &&
        Buffer.from(e.markerRecordedEventAttributes.details!.data!.payloads![0]!.data!).toString().includes('signalJobs'),
    );
    expect(fanOuts.length).toBeGreaterThanOrEqual(1);
    expect(fanOuts.length).toBeLessThanOrEqual(3);
    const batchPaused = engine.eventStore.readStream(id).find((e) => e.type === 'BatchPaused')!;
    const jobs = await jobsOf(id);
    expect(jobs).toHaveLength(4);
    for (const job of jobs) {
      expect(job).toMatchObject({ status: 'completed', priority: 4 });
      const controls = engine.eventStore
        .readStream(job.id)
        .filter((e) => ['JobPaused', 'JobReprioritized', 'JobResumed', 'JobSignalIgnored'].includes(e.type));
      expect(controls.map((e) => e.type)).toEqual(['JobPaused', 'JobReprioritized', 'JobResumed']);
      for (const e of controls) {
        // Who asked the batch, and a request id of the batch's own (a repeated send is taken once).
        expect(e.metadata.actor).toBe(batchPaused.metadata.actor);
        expect(e.metadata.requestId).toMatch(new RegExp(`^${id}/1/\\d+$`));
      }
    }
  });

  it("records each job's JobSubmitted once Temporal started it, as the job itself would: one event, no fork", async () => {
    const id = await create({ type: 'noop', items: Array.from({ length: 6 }, () => ({})), concurrency: 6 });
    await untilBatch(id, (b) => b.status === 'completed', 'completed');
    // The batch recorded them (a local activity of its own) …
    const history = await engine.client.workflow.getHandle(id).fetchHistory();
    const localActivities = history
      .events!.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
      .map((e) => Buffer.from(e.markerRecordedEventAttributes!.details!.data!.payloads![0]!.data!).toString());
    expect(localActivities.some((details) => details.includes('appendEventsToStreams'))).toBe(true);
    // … and each job's own record of it was the same fact (a no-op), not a second event or a fork.
    for (const job of await jobsOf(id)) {
      const stream = engine.eventStore.readStream(job.id);
      expect(stream.filter((e) => e.type === 'JobSubmitted')).toHaveLength(1);
      expect(stream.some((e) => e.eventId.endsWith(':fork'))).toBe(false);
      expect(stream.map((e) => e.type)).toEqual(['JobSubmitted', 'JobQueued', 'JobStarted', 'JobCompleted']);
    }
  });

  it('continues as new when large (small threshold): every job counted exactly once', async () => {
    const id = await create({ type: 'noop', items: Array.from({ length: 12 }, () => ({})), concurrency: 3, jobs_per_run: 4 });
    const done = await untilBatch(id, (b) => b.status === 'completed', 'completed');
    expect(done.progress).toMatchObject({ total: 12, completed: 12, failed: 0, cancelled: 0 });
    const jobs = await jobsOf(id);
    expect(new Set(jobs.map((j) => j.id)).size).toBe(12);
    const runs: string[] = [];
    for await (const execution of engine.client.workflow.list({ query: `WorkflowId = "${id}"` })) runs.push(execution.runId);
    expect(runs.length).toBeGreaterThanOrEqual(3);
    const query = await engine.client.workflow.getHandle(id).query(batchStatusQuery);
    expect(query.counts.completed).toBe(12);
    expect(query.run).toBeGreaterThanOrEqual(3);
  });

  it('retry-failed reruns only the failed jobs of a finished batch, in the same batch', async () => {
    const transient = { name: 'flaky', type: 'flaky', input: { steps: 1, step_ms: 1, fail_on_step: 0, fail_times: 1 } };
    const id = await create({ jobs: [sleepJob(10), transient, transient], concurrency: 3, retry: { max_attempts: 1 } });
    const first = await untilBatch(id, (b) => b.status === 'completed', 'first run');
    expect(first.progress).toMatchObject({ completed: 1, failed: 2 });
    const r = await engine.api('POST', `/api/v1/batches/${id}/retry-failed`);
    expect(r.status).toBe(200);
    expect(r.body.retried).toBe(2);
    const done = await untilBatch(id, (b) => b.status === 'completed' && b.progress.completed === 3, 'retried');
    expect(done.progress).toMatchObject({ total: 3, completed: 3, failed: 0 });
    expect(await jobsOf(id)).toHaveLength(3);
    expect((await engine.api('POST', `/api/v1/batches/${id}/retry-failed`)).status).toBe(409);
  });

  it('a rebuild of the read model equals the live one, batches included', async () => {
    await eventually(
      async () => {
        const stats = (await engine.api('GET', '/api/v1/batches/stats')).body;
        return stats.running + stats.paused + stats.queued === 0;
      },
      60_000,
      'batches finished',
    );
    await eventually(() => engine.projector.checkpoint() === engine.eventStore.lastPosition(), 10_000, 'projector caught up');
    const target = path.join(engine.dir, 'rebuilt.db');
    await rebuildReadModel(engine.eventStore, target);
    const rebuilt = openReadModelDb(target);
    for (const [table, order] of [
      ['jobs', 'id'],
      ['batches', 'id'],
      ['batch_job_counts', 'batch_id, status'],
      ['job_counts', 'owner, status'],
    ] as const) {
      const live = engine.readModelDb.prepare(`SELECT * FROM ${table} ORDER BY ${order}`).all();
      expect(rebuilt.prepare(`SELECT * FROM ${table} ORDER BY ${order}`).all(), table).toEqual(live);
    }
    rebuilt.close();
  });

  it('lists batches and batch stats', async () => {
    const list = await engine.api('GET', '/api/v1/batches');
    expect(list.status).toBe(200);
    expect(list.body.length).toBeGreaterThanOrEqual(5);
    const stats = await engine.api('GET', '/api/v1/batches/stats');
    expect(stats.body.total_batches).toBe(list.body.length);
    expect(stats.body.completed).toBeGreaterThanOrEqual(3);
  });
});
