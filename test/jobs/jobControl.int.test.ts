import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobTypeRegistry } from '../../src/jobs/registry.js';
import { statusQuery } from '../../src/workflows/jobWorkflow.js';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { countingJobType } from '../support/counterJobType.js';
import { cliSignal, temporalCli } from '../support/temporalCli.js';
import { poolWorkflowId } from '../../src/domain/index.js';
import { poolRequestsOf } from '../support/poolRequests.js';

const counting = countingJobType();
let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine({ registry: new JobTypeRegistry().register(counting.type) });
});
afterAll(async () => {
  await engine?.dispose();
});

const submit = async (input: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
  const r = await engine.api('POST', '/api/v1/jobs/submit', { name: 'ctl', type: 'counting', input, ...extra });
  expect(r.status).toBe(201);
  return r.body.job_id as string;
};
const job = async (id: string) => (await engine.api('GET', `/api/v1/jobs/${id}`)).body;
const until = (id: string, predicate: (j: any) => boolean, what: string) =>
  eventually(
    async () => {
      const j = await job(id);
      return predicate(j) ? j : undefined;
    },
    30_000,
    what,
  );
const eventTypes = (id: string) => engine.eventStore.readStream(id).map((e) => e.type);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Pause mid-job, resume, complete: once through `control`, the events it leaves and the final row. */
async function pauseResumeScenario(control: (id: string, op: 'pause' | 'resume' | 'priority', arg?: unknown) => Promise<void>) {
  const id = await submit({ steps: 4, step_ms: 400 });
  await until(id, (j) => j.status === 'running' && j.completed_steps >= 1, 'first step done');
  await control(id, 'pause');
  await until(id, (j) => j.status === 'paused', 'paused');
  // A step that finished just as the pause arrived still counts; then nothing moves while paused.
  const live = await eventually(
    async () => {
      const s = await engine.client.workflow.getHandle(id).query(statusQuery);
      return s.status === 'paused' && !s.stepInFlight ? s : undefined;
    },
    10_000,
    'the step to stop',
  );
  await until(id, (j) => j.completed_steps === live.completedSteps, 'read model agrees with the query');
  await sleep(800);
  expect((await job(id)).completed_steps).toBe(live.completedSteps);
  expect((await engine.client.workflow.getHandle(id).query(statusQuery)).completedSteps).toBe(live.completedSteps);
  await control(id, 'priority', 4);
  await until(id, (j) => j.priority === 4, 'reprioritized');
  await control(id, 'resume');
  const done = await until(id, (j) => j.status === 'completed', 'completed');
  // No completed step ran again; an interrupted step resumed from its checkpoint, never from scratch.
  expect(counting.freshStarts.get(id)).toEqual([1, 1, 1, 1]);
  return { id, done };
}

describe('job control', () => {
  it('a job resumed before its paused step stopped keeps its slot and runs on: no JobStarted, no pool wake-up', async () => {
    const id = await submit({ steps: 1, step_ms: 5000 });
    await until(id, (j) => j.status === 'running', 'running');
    // Resumed at once, the step (which hears of the pause at its next heartbeat, within 2 s) is
    // nearly always still running; should it have stopped first, the job let its slot go: try again.
    let resumedRunning: { globalPosition: number } | undefined;
    for (let attempt = 0; attempt < 5 && !resumedRunning; attempt++) {
      expect((await engine.api('POST', `/api/v1/jobs/${id}/pause`, { reason: 'test' })).status).toBe(200);
      const answer = await engine.api('POST', `/api/v1/jobs/${id}/resume`, { reason: 'test' });
      expect(answer.status).toBe(200);
      const resumed = engine.eventStore.readStream(id).filter((e) => e.type === 'JobResumed');
      const last = resumed[resumed.length - 1]!;
      if (last.data.to === 'running') {
        resumedRunning = last;
        // Running again at once, in the answer (the read model) and in Temporal's view of it.
        expect(answer.body.job.status).toBe('running');
        expect(last.data.holdingSlot).toBeUndefined();
      } else await until(id, (j) => j.status === 'running', 'running again');
    }
    expect(resumedRunning).toBeDefined();
    await until(id, (j) => j.status === 'completed', 'completed');
    // The step that heard of the pause stopped, the next one ran from its checkpoint: nothing between
    // the JobResumed and the end but progress.
    const after = engine.eventStore
      .readStream(id)
      .filter((e) => e.globalPosition > resumedRunning!.globalPosition)
      .map((e) => e.type);
    expect(after).not.toContain('JobStarted');
    expect(after).not.toContain('JobQueued');
    expect(after[after.length - 1]).toBe('JobCompleted');
    // Its pool heard of it only when it first joined the line and at its end: no wake-up carried the
    // position of that JobResumed.
    const pool = engine.client.workflow.getHandle(poolWorkflowId(engine.taskQueue, 'default'));
    const wakePositions = (await poolRequestsOf(pool)).map((r) => r.position);
    expect(wakePositions.length).toBeGreaterThan(0);
    expect(wakePositions).not.toContain(resumedRunning!.globalPosition);
  });

  it('pause → reprioritize → resume through the API and through the temporal CLI end alike (actor differs)', async () => {
    const viaApi = await pauseResumeScenario(async (id, op, arg) => {
      const r =
        op === 'priority'
          ? await engine.api('PUT', `/api/v1/jobs/${id}/priority`, { priority: arg })
          : await engine.api('POST', `/api/v1/jobs/${id}/${op}`, { reason: 'test' });
      expect(r.status).toBe(200);
      // The API answers after the change is in the read model.
      const expected = op === 'pause' ? 'paused' : op === 'resume' ? undefined : undefined;
      if (expected) expect(r.body.job.status).toBe(expected);
      if (op === 'priority') expect(r.body.job.priority).toBe(arg);
    });
    const viaCli = await pauseResumeScenario(async (id, op, arg) => {
      if (op === 'priority') await cliSignal(id, 'reprioritize', { priority: arg });
      else await cliSignal(id, op, { reason: 'test' });
    });

    const shape = (j: any) => ({
      status: j.status,
      progress: j.progress,
      priority: j.priority,
      completed_steps: j.completed_steps,
      attempts: j.attempts,
      error_message: j.error_message,
    });
    expect(shape(viaCli.done)).toEqual(shape(viaApi.done));
    const controlEvents = (id: string) => eventTypes(id).filter((t) => t !== 'JobProgress');
    expect(controlEvents(viaCli.id)).toEqual(controlEvents(viaApi.id));

    const actors = (id: string) =>
      engine.eventStore
        .readStream(id)
        .filter((e) => ['JobPaused', 'JobResumed', 'JobReprioritized'].includes(e.type))
        .map((e) => e.metadata.actor);
    expect(new Set(actors(viaApi.id))).toEqual(new Set(['user:local']));
    expect(new Set(actors(viaCli.id))).toEqual(new Set(['external']));
    // The API's controls are Updates: each event names its Update (the API answers once that event is
    // in the read model); the CLI's signals name none.
    const updateIds = (id: string) =>
      engine.eventStore
        .readStream(id)
        .filter((e) => ['JobPaused', 'JobResumed', 'JobReprioritized'].includes(e.type))
        .map((e) => e.metadata.updateId);
    const apiUpdateIds = updateIds(viaApi.id);
    expect(apiUpdateIds.length).toBeGreaterThanOrEqual(3);
    expect(apiUpdateIds.every((u) => typeof u === 'string' && /^[0-9a-f-]{36}$/.test(u))).toBe(true);
    expect(new Set(apiUpdateIds).size).toBe(apiUpdateIds.length);
    expect(updateIds(viaCli.id).every((u) => u === undefined)).toBe(true);
    const reprioritized = engine.eventStore.readStream(viaApi.id).find((e) => e.type === 'JobReprioritized')!;
    expect(reprioritized.data).toMatchObject({ from: 2, to: 4 });
  });

  it('pauses a scheduled job (it does not start until resumed) and cancels a paused one, running its cleanup', async () => {
    const id = await submit({ steps: 2, step_ms: 50 }, { delay_seconds: 2 });
    expect(['pending', 'scheduled']).toContain((await job(id)).status);
    const paused = await engine.api('POST', `/api/v1/jobs/${id}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.body.job.status).toBe('paused');
    await sleep(2500); // past the delay: still paused, never started
    const still = await job(id);
    expect(still.status).toBe('paused');
    expect(still.started_at).toBeNull();
    expect(counting.invocations.get(id)).toBeUndefined();

    const cancelled = await engine.api('POST', `/api/v1/jobs/${id}/cancel`, { reason: 'not needed' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ success: true, message: 'Job cancelled successfully' });
    expect(cancelled.body.job.status).toBe('cancelled');
    await eventually(() => counting.cleanups.includes(id), 10_000, 'cleanup');
    const event = engine.eventStore.readStream(id).find((e) => e.type === 'JobCancelled')!;
    expect(event.metadata).toMatchObject({ actor: 'user:local', reason: 'not needed' });

    // A pending job that is resumed starts.
    const id2 = await submit({ steps: 1, step_ms: 10 }, { delay_seconds: 1.5 });
    expect((await engine.api('POST', `/api/v1/jobs/${id2}/pause`)).status).toBe(200);
    await sleep(2000);
    expect((await job(id2)).status).toBe('paused');
    expect((await engine.api('POST', `/api/v1/jobs/${id2}/resume`)).status).toBe(200);
    await until(id2, (j) => j.status === 'completed', 'resumed pending job completes');
  });

  it('cancels a running job: the step receives cancellation and the job type cleanup runs', async () => {
    const id = await submit({ steps: 3, step_ms: 2000 });
    await until(id, (j) => j.status === 'running', 'running');
    await sleep(300);
    const r = await engine.api('POST', `/api/v1/jobs/${id}/cancel`);
    expect(r.status).toBe(200);
    expect(r.body.job.status).toBe('cancelled');
    await eventually(() => counting.cleanups.includes(id), 10_000, 'cleanup');
    const description = await eventually(async () => {
      const d = await engine.client.workflow.getHandle(id).describe();
      return d.status.name !== 'RUNNING' ? d : undefined;
    });
    // Cancelled through the API: the execution closes as Canceled (Web UI, `temporal workflow list`).
    expect(description.status.name).toBe('CANCELLED');
  });

  it('treats `temporal workflow cancel` exactly like the cancel signal', async () => {
    const id = await submit({ steps: 3, step_ms: 2000 });
    await until(id, (j) => j.status === 'running', 'running');
    await temporalCli(['workflow', 'cancel', '--workflow-id', id]);
    const cancelled = await until(id, (j) => j.status === 'cancelled', 'cancelled via CLI');
    expect(cancelled.completed_at).not.toBeNull();
    await eventually(() => counting.cleanups.includes(id), 10_000, 'cleanup');
    const event = engine.eventStore.readStream(id).find((e) => e.type === 'JobCancelled')!;
    expect(event.metadata.actor).toBe('external');
    const d = await eventually(async () => {
      const x = await engine.client.workflow.getHandle(id).describe();
      return x.status.name !== 'RUNNING' ? x : undefined;
    });
    expect(d.status.name).toBe('CANCELLED');
  });

  it('refuses what makes no sense with 400/409 and writes nothing; a nonsensical signal is recorded as ignored', async () => {
    const id = await submit({ steps: 2, step_ms: 1500 });
    await until(id, (j) => j.status === 'running', 'running');
    const before = engine.eventStore.readStream(id).length;

    const badPriority = await engine.api('PUT', `/api/v1/jobs/${id}/priority`, { priority: 7 });
    expect(badPriority.status).toBe(400);
    expect(badPriority.body.details).toContain('Priority must be between 1 (low) and 4 (urgent)');
    const resumeRunning = await engine.api('POST', `/api/v1/jobs/${id}/resume`);
    expect(resumeRunning.status).toBe(409);
    expect(resumeRunning.body.error).toBe('Conflict');
    const samePriority = await engine.api('PATCH', `/api/v1/jobs/${id}/priority`, { priority: 2 });
    expect(samePriority.status).toBe(409);
    expect(engine.eventStore.readStream(id).filter((e) => e.type !== 'JobProgress').length).toBe(
      engine.eventStore
        .readStream(id)
        .slice(0, before)
        .filter((e) => e.type !== 'JobProgress').length,
    );

    await cliSignal(id, 'resume');
    await cliSignal(id, 'reprioritize', { priority: 9 });
    await eventually(
      () => engine.eventStore.readStream(id).filter((e) => e.type === 'JobSignalIgnored').length === 2,
      10_000,
      'ignored signals',
    );
    expect((await job(id)).status).toBe('running');

    await engine.api('POST', `/api/v1/jobs/${id}/cancel`);
    const pauseDone = await engine.api('POST', `/api/v1/jobs/${id}/pause`);
    expect(pauseDone.status).toBe(409);
    expect(pauseDone.body.details).toContain('cancelled');
  });

  it('records the actor and reason of every change and serves the stream at /jobs/{id}/events', async () => {
    const id = await submit({ steps: 2, step_ms: 100 });
    await until(id, (j) => j.status === 'completed', 'completed');
    const r = await engine.api('GET', `/api/v1/jobs/${id}/events`);
    expect(r.status).toBe(200);
    expect(r.body[0]).toMatchObject({ type: 'JobSubmitted', version: 1, metadata: { actor: 'user:local' } });
    expect(r.body.every((e: any) => typeof e.metadata.actor === 'string')).toBe(true);
    expect(r.body[r.body.length - 1].type).toBe('JobCompleted');
  });
});
