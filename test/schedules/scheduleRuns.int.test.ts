import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScheduleNotFoundError } from '@temporalio/client';
import { jwtAuthenticator, mintToken } from '../../src/api/auth.js';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { temporalCli } from '../support/temporalCli.js';

/**
 * Recurring jobs on a real dev server, in real time (Temporal's time-skipping test server has no
 * Schedules): a 1-second interval schedule, its runs as ordinary jobs, pause, trigger, unpause, delete.
 */
const secret = 'schedule-runs-secret';
let engine: TestEngine;
let alice: Record<string, string>;
const created: string[] = [];

beforeAll(async () => {
  engine = await startTestEngine({ appOptions: { authenticate: jwtAuthenticator({ secret }) } });
  alice = { authorization: `Bearer ${await mintToken(secret, 'alice')}` };
});
afterAll(async () => {
  // A schedule outlives its engine in the shared dev server: never leave one firing.
  for (const id of created)
    await engine?.client.schedule
      .getHandle(id)
      .delete()
      .catch(() => {});
  await engine?.dispose();
});

const api = (method: string, url: string, body?: unknown) => engine.api(method, url, body, alice);

async function createEverySecond(paused = false) {
  const id = `tick-${randomUUID().slice(0, 8)}`;
  const r = await api('POST', '/api/v1/schedules', {
    schedule_id: id,
    spec: { intervals: [{ every: '1s' }] },
    job: { name: 'tick', type: 'sleep', input: { steps: 1, step_ms: 10 } },
    paused,
  });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  created.push(id);
  return { id, body: r.body };
}

const runs = async (id: string) => {
  const r = await api('GET', `/api/v1/schedules/${id}/runs?limit=1000`);
  expect(r.status).toBe(200);
  return r.body as any[];
};
const completedRuns = async (id: string) => (await runs(id)).filter((j) => j.status === 'completed');
/** Waits until no run of the schedule is still going and every run Temporal started is a finished job
 * (a run started just before a pause may not be in the read model yet when the pause returns). */
const settled = (id: string) =>
  eventually(
    async () => {
      const info = (await api('GET', `/api/v1/schedules/${id}`)).body.info;
      const list = await runs(id);
      return (
        info.running_job_ids.length === 0 &&
        list.length === info.actions_taken &&
        list.every((j) => ['completed', 'failed'].includes(j.status))
      );
    },
    20_000,
    'runs settled',
  );
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a schedule with a 1-second interval', () => {
  it('creates runs that complete as ordinary jobs carrying schedule_id, visible to the temporal CLI', async () => {
    const { id, body } = await createEverySecond();
    expect(body).toMatchObject({ id, user_id: 'alice', paused: false, spec_summary: 'every 1s' });
    expect(body.info.next_action_times.length).toBeGreaterThan(0);

    const done = await eventually(
      async () => {
        const list = await completedRuns(id);
        return list.length >= 5 ? list : undefined;
      },
      30_000,
      '5 completed runs',
    );
    for (const job of done) {
      expect(job.id.startsWith(`${id}-`)).toBe(true); // Temporal's workflow id: <schedule id>-<time>
      expect(job).toMatchObject({ schedule_id: id, user_id: 'alice', type: 'sleep', name: 'tick', batch_id: null });
    }
    // The same jobs through GET /jobs/list, and nothing of another schedule.
    const listed = await api('GET', `/api/v1/jobs/list?schedule_id=${id}&status=completed&limit=1000`);
    expect(listed.body.map((j: any) => j.id)).toEqual(expect.arrayContaining(done.map((j) => j.id)));
    expect(listed.body.every((j: any) => j.schedule_id === id)).toBe(true);

    // Each run's record says who started it; its workflow carries the job's search attributes and
    // Temporal's TemporalScheduledById.
    const first = done.at(-1)!;
    const submitted = engine.eventStore.readStream(first.id)[0]!;
    expect(submitted.type).toBe('JobSubmitted');
    expect(submitted.data).toMatchObject({ jobId: first.id, scheduleId: id, owner: 'alice' });
    expect(submitted.metadata.actor).toBe(`schedule:${id}`);
    const execution = await engine.client.workflow.getHandle(first.id).describe();
    expect(execution.searchAttributes).toMatchObject({
      JobStatus: ['completed'],
      Owner: ['alice'],
      JobType: ['sleep'],
      TemporalScheduledById: [id],
    });
    expect(execution.taskQueue).toBe(engine.taskQueue);

    // Start lateness against the scheduled time: Temporal's own (taken − scheduled), until the job
    // recorded its submit and its start, and the engine's part (recorded − taken).
    const live = (await api('GET', `/api/v1/schedules/${id}`)).body.info;
    const byId = new Map(done.map((j) => [j.id, j]));
    const ours = live.recent_actions.filter((a: any) => byId.has(a.job_id));
    const ms = (a: string, b: string) => Date.parse(a) - Date.parse(b);
    const stats = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return `n=${s.length} min=${s[0]} median=${s[Math.floor(s.length / 2)]} max=${s.at(-1)}`;
    };
    const recorded = ours.map((a: any) => ms(byId.get(a.job_id).created_at, a.scheduled_at));
    console.log(
      [
        '[schedule lateness ms]',
        `taken: ${stats(live.recent_actions.map((a: any) => ms(a.taken_at, a.scheduled_at)))}`,
        `recorded: ${stats(recorded)}`,
        `started: ${stats(ours.map((a: any) => ms(byId.get(a.job_id).started_at, a.scheduled_at)))}`,
        `engine (recorded - taken): ${stats(ours.map((a: any) => ms(byId.get(a.job_id).created_at, a.taken_at)))}`,
      ].join(' | '),
    );
    expect(recorded.length).toBeGreaterThan(0);
    expect(Math.max(...recorded)).toBeLessThan(5000);

    // What the README's CLI equivalents show.
    const described = JSON.parse(await temporalCli(['schedule', 'describe', '--schedule-id', id, '-o', 'json']));
    expect(JSON.stringify(described)).toContain(engine.taskQueue);
    expect(await temporalCli(['schedule', 'list'])).toContain(id);
    const workflows = await temporalCli(['workflow', 'list', '--query', `TemporalScheduledById = "${id}"`, '-o', 'json']);
    expect(workflows).toContain(first.id);

    await api('DELETE', `/api/v1/schedules/${id}`);
  });

  it('pause stops new runs, trigger starts one at once (also paused), unpause resumes', async () => {
    const { id } = await createEverySecond();
    await eventually(async () => (await completedRuns(id)).length >= 1, 30_000, 'a first run');

    const paused = await api('POST', `/api/v1/schedules/${id}/pause`, { reason: 'maintenance window' });
    expect(paused.status).toBe(200);
    expect(paused.body.schedule).toMatchObject({ paused: true, note: 'maintenance window' });
    expect(paused.body.schedule.info).toMatchObject({ paused: true, note: 'maintenance window' });
    expect((await engine.client.schedule.getHandle(id).describe()).state).toMatchObject({ paused: true });
    expect((await api('POST', `/api/v1/schedules/${id}/pause`)).status).toBe(409); // already paused

    await settled(id);
    const before = (await runs(id)).length;
    await sleep(4000);
    expect((await runs(id)).length).toBe(before); // no new run for 4 s

    const t0 = Date.now();
    const triggered = await api('POST', `/api/v1/schedules/${id}/trigger`, { reason: 'now please' });
    expect(triggered.status).toBe(200);
    expect(triggered.body.job_id).toMatch(new RegExp(`^${id}-`));
    const run = await eventually(
      async () => (await runs(id)).find((j) => j.id === triggered.body.job_id && j.status === 'completed'),
      15_000,
      'the triggered run completed',
    );
    console.log(`[schedule trigger] request → run completed in ${Date.now() - t0} ms; created ${run.created_at}`);
    expect((await runs(id)).length).toBe(before + 1);

    const unpaused = await api('POST', `/api/v1/schedules/${id}/unpause`, { reason: 'window over' });
    expect(unpaused.status).toBe(200);
    expect(unpaused.body.schedule).toMatchObject({ paused: false, note: 'window over' });
    await eventually(async () => (await runs(id)).length >= before + 3, 15_000, 'runs resumed');

    const types = engine.eventStore.readStream(`schedule-${id}`).map((e) => e.type);
    expect(types).toEqual(['ScheduleCreated', 'SchedulePaused', 'ScheduleTriggered', 'ScheduleUnpaused']);
    const trigger = engine.eventStore.readStream(`schedule-${id}`)[2]!;
    expect(trigger.data).toMatchObject({ jobId: triggered.body.job_id, overlap: null });
    expect(trigger.metadata).toMatchObject({ actor: 'user:alice', reason: 'now please' });
    await api('DELETE', `/api/v1/schedules/${id}`);
  });

  it('delete removes the schedule from Temporal and the API, records ScheduleDeleted, keeps its runs', async () => {
    const { id } = await createEverySecond();
    await eventually(async () => (await completedRuns(id)).length >= 1, 30_000, 'a first run');
    const del = await api('DELETE', `/api/v1/schedules/${id}`, { reason: 'no longer needed' });
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ success: true, message: 'Schedule deleted successfully' });
    expect((await api('GET', `/api/v1/schedules/${id}`)).status).toBe(404);
    expect((await api('GET', '/api/v1/schedules')).body.map((s: any) => s.id)).not.toContain(id);
    await expect(engine.client.schedule.getHandle(id).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
    const last = engine.eventStore.readStream(`schedule-${id}`).at(-1)!;
    expect(last).toMatchObject({ type: 'ScheduleDeleted', metadata: { actor: 'user:alice', reason: 'no longer needed' } });
    expect(last.data.alreadyGone).toBeUndefined();
    // Its runs are jobs; they stay.
    const left = await api('GET', `/api/v1/jobs/list?schedule_id=${id}`);
    expect(left.body.length).toBeGreaterThanOrEqual(1);
    // The id can be used again: the same stream goes on with a new ScheduleCreated.
    const again = await api('POST', '/api/v1/schedules', {
      schedule_id: id,
      spec: { cron_expressions: ['0 0 1 1 *'] },
      job: { name: 'yearly', type: 'noop' },
    });
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ id, name: 'yearly', spec_summary: 'cron "0 0 1 1 *"' });
    expect(engine.eventStore.readStream(`schedule-${id}`).map((e) => e.type)).toEqual([
      'ScheduleCreated',
      'ScheduleDeleted',
      'ScheduleCreated',
    ]);
    // Deleted outside the API (`temporal schedule delete`): the reconciler records it.
    await temporalCli(['schedule', 'delete', '--schedule-id', id]);
    await eventually(async () => (await api('GET', `/api/v1/schedules/${id}`)).status === 404, 10_000, 'deletion recorded');
    expect(engine.eventStore.readStream(`schedule-${id}`).at(-1)!).toMatchObject({
      type: 'ScheduleDeleted',
      data: { alreadyGone: true },
      metadata: { actor: 'external', reason: 'deleted outside the API' },
    });
  });
});
