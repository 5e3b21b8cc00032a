import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jwtAppOptions, testUsers, type AuthHeaders } from '../support/users.js';
import { JobTypeRegistry } from '../../src/jobs/registry.js';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { probeJob } from '../support/probeJobType.js';

const secret = 'deps-test-secret';
let engine: TestEngine;
let log: string;
let alice: AuthHeaders;
let bob: AuthHeaders;

beforeAll(async () => {
  const registry = new JobTypeRegistry();
  registry.register(probeJob);
  engine = await startTestEngine({ registry, appOptions: jwtAppOptions(secret) });
  log = path.join(engine.dir, 'probe.log');
  ({ alice, bob } = await testUsers(secret));
});
afterAll(async () => {
  await engine?.dispose();
});

type Dep = { job_id: string; condition?: string };
async function submit(dependsOn: Dep[] = [], input: Record<string, unknown> = {}, headers = alice): Promise<string> {
  const r = await engine.api(
    'POST',
    '/api/v1/jobs/submit',
    { name: 'd', type: 'probe', depends_on: dependsOn, input: { log, steps: 1, step_ms: 150, ...input } },
    headers,
  );
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.job_id;
}
const job = async (id: string) => (await engine.api('GET', `/api/v1/jobs/${id}`, undefined, alice)).body;
const types = (id: string) => engine.eventStore.readStream(id).map((e) => e.type);
const position = (id: string, type: string) =>
  engine.eventStore.readStream(id).find((e) => e.type === type)?.globalPosition ?? Infinity;
const ended = (id: string) =>
  engine.eventStore.readStream(id).find((e) => e.type === 'JobCompleted' || e.type === 'JobFailed')!.globalPosition;
const settle = (ids: string[], timeout = 30_000) =>
  eventually(
    async () => (await Promise.all(ids.map(job))).every((j) => ['completed', 'failed', 'cancelled'].includes(j.status)),
    timeout,
  );

describe('dependencies', () => {
  it('a chain runs in order; while it waits a job is blocked, with its unmet dependencies in GET', async () => {
    const a = await submit([], { step_ms: 800 });
    const b = await submit([{ job_id: a }]);
    const c = await submit([{ job_id: b }]);
    const blocked = await eventually(async () => {
      const j = await job(c);
      return j.status === 'blocked' ? j : undefined;
    });
    expect(blocked.blocked_by).toEqual([b]);
    expect(blocked.depends_on).toEqual([{ job_id: b, condition: 'succeeded', state: 'waiting' }]);
    await settle([a, b, c]);
    expect((await job(c)).status).toBe('completed');
    expect(position(b, 'JobStarted')).toBeGreaterThan(ended(a));
    expect(position(c, 'JobStarted')).toBeGreaterThan(ended(b));
    expect((await job(c)).depends_on[0].state).toBe('met');
    expect(types(c).slice(0, 3)).toEqual(['JobSubmitted', 'JobBlocked', 'JobDependencyMet']);
  });

  it('a diamond: d starts only after b and c, which start after a', async () => {
    const a = await submit([], { step_ms: 400 });
    const b = await submit([{ job_id: a }], { step_ms: 300 });
    const c = await submit([{ job_id: a }], { step_ms: 600 });
    const d = await submit([{ job_id: b }, { job_id: c }]);
    await settle([a, b, c, d]);
    for (const id of [b, c]) expect(position(id, 'JobStarted')).toBeGreaterThan(ended(a));
    expect(position(d, 'JobStarted')).toBeGreaterThan(Math.max(ended(b), ended(c)));
    expect((await job(d)).status).toBe('completed');
  });

  it('a failed dependency cancels its dependents transitively; `failed` and `finished` conditions run; retry re-arms them', async () => {
    const a = await submit([], { fail: true, step_ms: 300 });
    const b = await submit([{ job_id: a }]);
    const c = await submit([{ job_id: b }]);
    const onFailure = await submit([{ job_id: a, condition: 'failed' }]);
    const either = await submit([{ job_id: a, condition: 'finished' }]);
    await settle([a, b, c, onFailure, either]).catch(async (e) => {
      for (const id of [a, b, c, onFailure, either]) console.log(id, (await job(id)).status, types(id).join(' '));
      throw e;
    });
    expect((await job(a)).status).toBe('failed');
    const [jb, jc] = [await job(b), await job(c)];
    expect([jb.status, jb.error_type]).toEqual(['cancelled', 'DependencyFailed']);
    expect(jb.error_message).toContain(a);
    expect([jc.status, jc.error_type]).toEqual(['cancelled', 'DependencyFailed']);
    expect(jc.error_message).toContain(b);
    expect((await job(onFailure)).status).toBe('completed');
    expect((await job(either)).status).toBe('completed');

    // Retrying the failed job retries the jobs it cancelled: they wait for it again.
    const retried = await engine.api('POST', `/api/v1/jobs/${a}/retry`, undefined, alice);
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    await eventually(async () => (await job(b)).status !== 'cancelled' && (await job(c)).status !== 'cancelled', 15_000);
    expect(['blocked', 'pending']).toContain((await job(b)).status);
    await settle([a, b, c]);
    expect(types(b).filter((t) => t === 'JobRetried')).toHaveLength(1);
    expect(types(c).filter((t) => t === 'JobRetried')).toHaveLength(1);
  });

  it('a dependency that finished before the dependent was submitted counts (no missed wake-up)', async () => {
    const a = await submit([], { step_ms: 10 });
    await eventually(async () => (await job(a)).status === 'completed');
    await eventually(async () => (await engine.client.workflow.getHandle(a).describe()).status.name === 'COMPLETED');
    const b = await submit([{ job_id: a }]);
    await settle([b], 15_000);
    expect((await job(b)).status).toBe('completed');
    // Many dependents racing one dependency's end: every one of them is released.
    const x = await submit([], { step_ms: 200 });
    const racers = await Promise.all(Array.from({ length: 8 }, () => submit([{ job_id: x }])));
    await settle([x, ...racers]);
    for (const id of racers) expect((await job(id)).status).toBe('completed');
  });

  it('a dependency terminated from outside: its dependents hear of it from the reconciler at once', async () => {
    const a = await submit([], { steps: 1, step_ms: 60_000 });
    const b = await submit([{ job_id: a }]);
    await eventually(async () => (await job(b)).status === 'blocked');
    expect((await engine.api('POST', `/api/v1/jobs/${a}/terminate`, { reason: 'stop' }, alice)).status).toBe(200);
    const cancelled = await eventually(async () => {
      const j = await job(b);
      return j.status === 'cancelled' ? j : undefined;
    }, 15_000);
    expect(cancelled.error_type).toBe('DependencyFailed');
    expect(cancelled.error_message).toContain('terminated');
  });

  it('submit refuses unknown ids (400), other owners’ jobs (403) and a job named twice', async () => {
    const before = engine.eventStore.lastPosition();
    const unknown = await engine.api(
      'POST',
      '/api/v1/jobs/submit',
      { name: 'x', type: 'probe', input: { log }, depends_on: [{ job_id: 'job_nope' }] },
      alice,
    );
    expect(unknown.status).toBe(400);
    expect(unknown.body.details).toContain('job_nope');
    const mine = await submit([], { step_ms: 10 });
    const other = await engine.api(
      'POST',
      '/api/v1/jobs/submit',
      { name: 'x', type: 'probe', input: { log }, depends_on: [{ job_id: mine }] },
      bob,
    );
    expect(other.status).toBe(403);
    const twice = await engine.api(
      'POST',
      '/api/v1/jobs/submit',
      { name: 'x', type: 'probe', input: { log }, depends_on: [{ job_id: mine }, { job_id: mine }] },
      alice,
    );
    expect(twice.status).toBe(400);
    const badCondition = await engine.api(
      'POST',
      '/api/v1/jobs/submit',
      { name: 'x', type: 'probe', input: { log }, depends_on: [{ job_id: mine, condition: 'sometimes' }] },
      alice,
    );
    expect(badCondition.status).toBe(400);
    expect(engine.eventStore.lastPosition()).toBeGreaterThan(before); // only `mine` was recorded
    expect(engine.eventStore.readStream(mine)[0]!.type).toBe('JobSubmitted');
  });
});

describe('a DAG batch', () => {
  const item = (key: string, deps: string[] = [], step_ms = 150) => ({
    key,
    name: key,
    type: 'probe',
    input: { log, steps: 1, step_ms },
    depends_on: deps.map((k) => ({ key: k })),
  });

  it('runs its items in dependency order, whatever order they are given in, within its window', async () => {
    // Given out of order: d first. The window of 2 must not fill with jobs waiting for unstarted ones.
    const r = await engine.api(
      'POST',
      '/api/v1/batches',
      { name: 'dag', concurrency: 2, jobs: [item('d', ['b', 'c']), item('c', ['a'], 300), item('b', ['a']), item('a', [], 300)] },
      alice,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const batchId = r.body.batch_id;
    const batch = await eventually(async () => {
      const b = (await engine.api('GET', `/api/v1/batches/${batchId}`, undefined, alice)).body;
      return b.status === 'completed' ? b : undefined;
    }, 40_000);
    expect(batch.status).toBe('completed');
    const jobs = (await engine.api('GET', `/api/v1/jobs/list?batch_id=${batchId}`, undefined, alice)).body as {
      id: string;
      name: string;
    }[];
    const id = (name: string) => jobs.find((j) => j.name === name)!.id;
    expect(position(id('b'), 'JobStarted')).toBeGreaterThan(ended(id('a')));
    expect(position(id('c'), 'JobStarted')).toBeGreaterThan(ended(id('a')));
    expect(position(id('d'), 'JobStarted')).toBeGreaterThan(Math.max(ended(id('b')), ended(id('c'))));
  });

  it('refuses a cycle, naming it, and an unknown key; nothing is started', async () => {
    const before = engine.eventStore.lastPosition();
    const cycle = await engine.api(
      'POST',
      '/api/v1/batches',
      { name: 'loop', jobs: [item('a', ['c']), item('b', ['a']), item('c', ['b']), item('free')] },
      alice,
    );
    expect(cycle.status).toBe(400);
    expect(cycle.body.details).toMatch(/cycle: (a → c → b → a|a → b → c → a|[abc] → [abc] → [abc] → [abc])/);
    const unknown = await engine.api('POST', '/api/v1/batches', { name: 'x', jobs: [item('a', ['nope'])] }, alice);
    expect(unknown.status).toBe(400);
    expect(unknown.body.details).toContain('no item has key "nope"');
    expect(engine.eventStore.lastPosition()).toBe(before);
  });
});
