import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jwtAppOptions, testUsers, type AuthHeaders } from '../support/users.js';
import { JobTypeRegistry } from '../../src/jobs/registry.js';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { poolWorkflowId } from '../../src/domain/index.js';
import { poolStateQuery, setPoolLimitSignal, setPoolLimitUpdate } from '../../src/workflows/poolContract.js';
import { maxConcurrentSteps, probeJob } from '../support/probeJobType.js';

const secret = 'pools-test-secret';
let engine: TestEngine;
let log: string;
let alice: AuthHeaders;
let bob: AuthHeaders;
let admin: AuthHeaders;

beforeAll(async () => {
  const registry = new JobTypeRegistry();
  registry.register(probeJob);
  engine = await startTestEngine({
    registry,
    pools: { narrow: 2, single: 1 },
    appOptions: jwtAppOptions(secret),
  });
  log = path.join(engine.dir, 'probe.log');
  ({ alice, bob, admin } = await testUsers(secret));
});
afterAll(async () => {
  await engine?.dispose();
});

async function submit(headers: Record<string, string>, body: Record<string, unknown>): Promise<string> {
  const r = await engine.api('POST', '/api/v1/jobs/submit', { name: 'p', type: 'probe', ...body }, headers);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.job_id;
}
const job = async (id: string) => (await engine.api('GET', `/api/v1/jobs/${id}`, undefined, admin)).body;
const startedAt = (id: string) =>
  engine.eventStore.readStream(id).find((e) => e.type === 'JobStarted')?.globalPosition ?? Infinity;

describe('resource pools', () => {
  it('a full pool: 2 running, the rest queued (in stats and filters); the urgent job goes first', async () => {
    const low: string[] = [];
    for (let i = 0; i < 6; i++)
      low.push(await submit(alice, { pool: 'narrow', priority: 1, input: { log, steps: 2, step_ms: 400 } }));
    const urgent = await submit(alice, { pool: 'narrow', priority: 4, input: { log, steps: 1, step_ms: 100 } });
    const all = [...low, urgent];
    const states = await eventually(
      async () => {
        const s = await Promise.all(all.map(job));
        const running = s.filter((j) => j.status === 'running').length;
        const queued = s.filter((j) => j.status === 'queued').length;
        return running === 2 && queued === 5 ? s : undefined;
      },
      20_000,
      '2 running and 5 queued',
    );
    expect(states.every((j) => j.pool === 'narrow')).toBe(true);
    const stats = (await engine.api('GET', '/api/v1/jobs/stats', undefined, admin)).body;
    expect(stats.queued_by_pool.narrow).toBe(5);
    expect(stats.running).toBe(2);
    expect(stats.waiting).toBeGreaterThanOrEqual(5);
    const queuedList = (await engine.api('GET', '/api/v1/jobs/list?status=queued&pool=narrow', undefined, admin)).body;
    expect(queuedList).toHaveLength(5);
    const pool = (await engine.api('GET', '/api/v1/pools/narrow', undefined, admin)).body;
    expect(pool).toMatchObject({ name: 'narrow', limit: 2, used: 2, running: 2, queued: 5 });

    await eventually(
      async () => (await Promise.all(all.map(job))).every((j) => j.status === 'completed'),
      60_000,
      'all completed',
    );
    // Priority first: the urgent job started before every low job that was still queued when it came.
    const lowStartedAfterUrgent = low.filter((id) => startedAt(id) > startedAt(urgent));
    expect(lowStartedAfterUrgent.length).toBeGreaterThanOrEqual(3);
    // FIFO among equals (two jobs granted by one pick may record their start in either order).
    const lowOrder = [...low].sort((a, b) => startedAt(a) - startedAt(b));
    lowOrder.forEach((id, i) => expect(Math.abs(low.indexOf(id) - i)).toBeLessThanOrEqual(1));
    expect(maxConcurrentSteps(log)).toBeLessThanOrEqual(2);
    // A job that was queued shows it in its history.
    expect(engine.eventStore.readStream(low[5]!).map((e) => e.type)).toEqual([
      'JobSubmitted',
      'JobQueued',
      'JobStarted',
      'JobProgress',
      'JobCompleted',
    ]);
  });

  it('fair between owners: one owner’s many jobs do not starve another owner’s one job', async () => {
    const many: string[] = [];
    for (let i = 0; i < 6; i++) many.push(await submit(alice, { pool: 'single', input: { log, steps: 1, step_ms: 300 } }));
    const one = await submit(bob, { pool: 'single', input: { log, steps: 1, step_ms: 100 } });
    await eventually(async () => (await job(one)).status === 'completed', 30_000, "bob's job completed");
    const aliceBefore = many.filter((id) => startedAt(id) < startedAt(one)).length;
    // Round-robin: bob's job is at most second in line after the job alice already runs.
    expect(aliceBefore).toBeLessThanOrEqual(2);
    await eventually(async () => (await Promise.all(many.map(job))).every((j) => j.status === 'completed'), 30_000);
  });

  it('PUT /pools/{name} creates a pool or changes its limit, recorded as an event; bad input is a 400; users may not', async () => {
    const created = await engine.api('PUT', '/api/v1/pools/gpu', { limit: 1, reason: 'one card' }, admin);
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    expect(created.body).toMatchObject({ name: 'gpu', limit: 1 });
    const jobs: string[] = [];
    for (let i = 0; i < 3; i++) jobs.push(await submit(alice, { pool: 'gpu', input: { log, steps: 1, step_ms: 1500 } }));
    await eventually(async () => (await Promise.all(jobs.map(job))).filter((j) => j.status === 'running').length === 1);
    const raised = await engine.api('PUT', '/api/v1/pools/gpu', { limit: 3, reason: 'more cards' }, admin);
    expect(raised.status).toBe(200);
    // The waiting jobs get the new slots at once.
    await eventually(async () => (await Promise.all(jobs.map(job))).filter((j) => j.status === 'running').length === 3, 5_000);
    const stream = engine.eventStore.readStream('pool:gpu');
    const events = stream.filter((e) => e.type !== 'PoolSlotsGranted');
    expect(events.map((e) => e.type)).toEqual(['PoolCreated', 'PoolLimitChanged']);
    expect(events[1]!.data).toMatchObject({ limit: 3, from: 1 });
    expect(events[1]!.metadata).toMatchObject({ actor: 'user:root', reason: 'more cards' });
    // Each grant is recorded once, by the pick that gave it: one slot before the limit was raised, two after.
    const granted = stream.filter((e) => e.type === 'PoolSlotsGranted');
    const grantedJobs = granted.flatMap((e) => (e.data as { picks: { jobId: string }[] }).picks.map((p) => p.jobId));
    expect(grantedJobs.sort()).toEqual([...jobs].sort());
    expect(stream.findIndex((e) => e.type === 'PoolSlotsGranted')).toBeLessThan(stream.indexOf(events[1]!));

    expect((await engine.api('PUT', '/api/v1/pools/gpu', { limit: -1 }, admin)).status).toBe(400);
    expect((await engine.api('PUT', '/api/v1/pools/Bad%20Name', { limit: 1 }, admin)).status).toBe(400);
    expect((await engine.api('PUT', '/api/v1/pools/gpu', { limit: 5 }, alice)).status).toBe(403);
    const unknown = await engine.api(
      'POST',
      '/api/v1/jobs/submit',
      { name: 'x', type: 'probe', pool: 'nope', input: { log } },
      alice,
    );
    expect(unknown.status).toBe(400);
    expect(unknown.body.details).toContain('no pool named "nope"');
    expect((await engine.api('GET', '/api/v1/pools/nope', undefined, alice)).status).toBe(404);
    const list = (await engine.api('GET', '/api/v1/pools', undefined, alice)).body.map((p: { name: string }) => p.name);
    expect(list).toEqual(expect.arrayContaining(['default', 'gpu', 'narrow', 'single']));
  });

  it('a pool whose workflow was terminated starts again with the limit recorded for it, not the default', async () => {
    expect((await engine.api('PUT', '/api/v1/pools/relaunch', { limit: 1 }, admin)).status).toBe(200);
    const pool = engine.client.workflow.getHandle(poolWorkflowId(engine.taskQueue, 'relaunch'));
    await pool.terminate('test: an operator terminated the pool');
    const jobs: string[] = [];
    for (let i = 0; i < 3; i++) jobs.push(await submit(alice, { pool: 'relaunch', input: { log, steps: 1, step_ms: 600 } }));
    // The first wake-up that found it not running started it again (the engine's PoolWaker).
    let mostRunning = 0;
    await eventually(
      async () => {
        const statuses = (await Promise.all(jobs.map(job))).map((j) => j.status);
        mostRunning = Math.max(mostRunning, statuses.filter((s) => s === 'running').length);
        return statuses.every((s) => s === 'completed');
      },
      30_000,
      'the three jobs to complete',
    );
    expect(mostRunning).toBe(1);
    expect((await pool.query(poolStateQuery)).limit).toBe(1);
    expect((await engine.api('GET', '/api/v1/pools/relaunch', undefined, alice)).body).toMatchObject({ limit: 1 });
  });

  it('the setLimit signal (what a PUT not taken in time sends, or the CLI): taken once per requestId, an invalid one changes nothing', async () => {
    expect((await engine.api('PUT', '/api/v1/pools/sig', { limit: 1 }, admin)).status).toBe(200);
    const pool = engine.client.workflow.getHandle(poolWorkflowId(engine.taskQueue, 'sig'));
    const changes = () =>
      engine.eventStore
        .readStream('pool:sig')
        .filter((e) => e.type === 'PoolLimitChanged')
        .map((e) => e.data.limit);
    const limitIs = (n: number) => async () => (await engine.api('GET', '/api/v1/pools/sig', undefined, admin)).body.limit === n;

    const cli = { limit: 4, actor: 'user:ops', reason: 'from the CLI', requestId: 'ops-1' };
    await pool.signal(setPoolLimitSignal, cli);
    await pool.signal(setPoolLimitSignal, cli);
    await pool.signal(setPoolLimitSignal, { limit: -3, requestId: 'bad' });
    await pool.signal(setPoolLimitSignal, { limit: 2, requestId: 'ops-2' });
    await eventually(limitIs(2), 10_000, 'the second change');
    expect(changes()).toEqual([4, 2]);
    const byCli = engine.eventStore.readStream('pool:sig').find((e) => e.type === 'PoolLimitChanged')!;
    expect(byCli.metadata).toMatchObject({ actor: 'user:ops', reason: 'from the CLI' });
    // An Update whose id was taken as a signal's requestId answers with the state, changing nothing.
    const answer = await pool.executeUpdate(setPoolLimitUpdate, { args: [{ limit: 9 }], updateId: 'ops-2' });
    expect(answer.state.limit).toBe(2);
    expect(changes()).toEqual([4, 2]);
  });

  it('a job of weight 2 takes two slots', async () => {
    await engine.api('PUT', '/api/v1/pools/wide', { limit: 2 }, admin);
    const heavy = await submit(alice, { pool: 'wide', weight: 2, input: { log, steps: 1, step_ms: 800 } });
    await eventually(async () => (await job(heavy)).status === 'running');
    const light = await submit(alice, { pool: 'wide', input: { log, steps: 1, step_ms: 100 } });
    await new Promise((r) => setTimeout(r, 300));
    expect((await job(light)).status).toBe('queued');
    expect((await engine.api('GET', '/api/v1/pools/wide', undefined, admin)).body).toMatchObject({ used: 2, queued: 1 });
    await eventually(async () => (await job(light)).status === 'completed', 15_000);
  });
});
