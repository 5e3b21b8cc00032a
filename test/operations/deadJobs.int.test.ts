import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { jwtAppOptions, testUsers, type AuthHeaders } from '../support/users.js';
import { rebuildReadModel } from '../../src/projections/rebuildReadModel.js';
import { openReadModelDb } from '../../src/projections/readModelDb.js';
import { ForbiddenError, JobEngineClient } from '../../src/client/index.js';

/** The operators' views on a real dev server: failed jobs (list, retry, purge, gauge), workers, throughput. */
let engine: TestEngine;
let alice: AuthHeaders, bob: AuthHeaders, admin: AuthHeaders;

beforeAll(async () => {
  const secret = 'ops-test-secret';
  [engine, { alice, bob, admin }] = await Promise.all([
    startTestEngine({ appOptions: jwtAppOptions(secret) }),
    testUsers(secret),
  ]);
});
afterAll(() => engine?.dispose());

const submit = async (who: AuthHeaders, body: Record<string, unknown>) => {
  const r = await engine.api('POST', '/api/v1/jobs/submit', { name: 'ops', ...body }, who);
  expect(r.status).toBe(201);
  return r.body.job_id as string;
};
const statusOf = async (id: string) => (await engine.api('GET', `/api/v1/jobs/${id}`, undefined, admin)).body.status;
const until = (id: string, status: string) => eventually(async () => (await statusOf(id)) === status, 60_000, `${id} ${status}`);
/** Fails at once, for good (a permanent error). */
const permanent = { type: 'flaky', input: { steps: 1, step_ms: 1, fail_on_step: 0, permanent: true, message: 'bad input' } };
/** Fails every attempt (transient), so it fails when its 2 attempts are spent. */
const exhausting = {
  type: 'flaky',
  input: { steps: 1, step_ms: 1, fail_on_step: 0, fail_times: 100, message: 'flaky service' },
  retry: { max_attempts: 2, initial_interval_ms: 10, max_interval_ms: 10 },
};
const dead = async (who: AuthHeaders, query = '') => engine.api('GET', `/api/v1/jobs/dead${query}`, undefined, who);
const sum = (buckets: Record<string, unknown>[], key: string) => buckets.reduce((a, b) => a + Number(b[key]), 0);
const timeseries = async (who: AuthHeaders) =>
  (await engine.api('GET', '/api/v1/stats/timeseries?minutes=30&bucket_seconds=60', undefined, who)).body;

let alicePermanent: string;
let aliceExhausted: string;
let aliceCompleted: string;
let bobPermanent: string;

describe('failed jobs: the dead-letter view', () => {
  it('lists permanent and exhausted failures with their last error and attempts; not completed ones; owners see their own', async () => {
    alicePermanent = await submit(alice, { ...permanent, tags: ['nightly'] });
    aliceExhausted = await submit(alice, { ...exhausting, tags: ['hourly'] });
    aliceCompleted = await submit(alice, { type: 'noop' });
    bobPermanent = await submit(bob, { ...permanent, tags: ['nightly'] });
    await Promise.all([
      until(alicePermanent, 'failed'),
      until(aliceExhausted, 'failed'),
      until(aliceCompleted, 'completed'),
      until(bobPermanent, 'failed'),
    ]);

    const mine = await dead(alice);
    expect(mine.status).toBe(200);
    expect(mine.body.total).toBe(2);
    expect(mine.body.next_cursor).toBeNull();
    const byId = new Map(mine.body.jobs.map((j: any) => [j.id, j]));
    expect([...byId.keys()].sort()).toEqual([alicePermanent, aliceExhausted].sort());
    expect(byId.get(alicePermanent)).toMatchObject({
      status: 'failed',
      last_error: 'bad input',
      error_type: 'PermanentJobError',
      attempts: 1,
      user_id: 'alice',
    });
    expect(byId.get(aliceExhausted)).toMatchObject({ status: 'failed', attempts: 2, max_attempts: 2 });
    expect((byId.get(aliceExhausted) as any).last_error).toContain('flaky service (attempt 2)');
    for (const job of byId.values() as Iterable<any>) expect(Date.parse(job.failed_at)).toBeGreaterThan(0);

    // Bob sees only his; asking for Alice's is refused; an admin sees all, or one owner's.
    expect((await dead(bob)).body.jobs.map((j: any) => j.id)).toEqual([bobPermanent]);
    expect((await dead(bob, '?owner=alice')).status).toBe(403);
    expect((await dead(admin)).body.total).toBe(3);
    expect((await dead(admin, '?owner=alice')).body.total).toBe(2);
    // Filters and paging as /jobs/list.
    expect((await dead(admin, '?tag=nightly')).body.jobs.map((j: any) => j.id).sort()).toEqual(
      [alicePermanent, bobPermanent].sort(),
    );
    const first = await dead(admin, '?limit=2');
    expect(first.body.jobs).toHaveLength(2);
    expect(first.headers.get('x-next-cursor')).toBe(first.body.next_cursor);
    const second = await dead(admin, `?limit=2&cursor=${encodeURIComponent(first.body.next_cursor)}`);
    expect(second.body.jobs).toHaveLength(1);
    expect(second.body.total).toBe(3);
    expect(new Set([...first.body.jobs, ...second.body.jobs].map((j: any) => j.id)).size).toBe(3);
    expect((await dead(admin, '?cursor=nonsense')).status).toBe(400);
  });

  it('exports the number of failed jobs as the gauge jobs_dead', async () => {
    const metrics = await engine.app.request('/metrics');
    const text = await metrics.text();
    const value = Number(/^jobs_dead (\d+)$/m.exec(text)?.[1]);
    expect(value).toBe((await dead(admin)).body.total);
    expect(value).toBe(3);
  });

  it('retries the failed jobs a filter selects (each through the retry command, recorded with actor and reason)', async () => {
    // Bob may not retry Alice's job by id; the filter is his own jobs only.
    const refused = await engine.api('POST', '/api/v1/jobs/dead/retry', { job_ids: [alicePermanent, aliceCompleted] }, bob);
    expect(refused.status).toBe(200);
    expect(refused.body.retried).toBe(0);
    expect(refused.body.skipped.map((s: any) => s.error)).toEqual(['Access denied to this job', 'Access denied to this job']);

    const before = engine.eventStore.readStream(aliceExhausted).length;
    const r = await engine.api('POST', '/api/v1/jobs/dead/retry', { tag: 'nightly', reason: 'input fixed' }, admin);
    expect(r.status).toBe(200);
    expect(r.body.retried).toBe(2);
    expect(r.body.job_ids.sort()).toEqual([alicePermanent, bobPermanent].sort());
    for (const id of [alicePermanent, bobPermanent]) {
      const retried = engine.eventStore.readStream(id).filter((e) => e.type === 'JobRetried');
      expect(retried).toHaveLength(1);
      expect(retried[0]!.metadata).toMatchObject({ actor: 'user:root', reason: 'input fixed' });
    }
    // Outside the filter: untouched.
    expect(engine.eventStore.readStream(aliceExhausted)).toHaveLength(before);
    expect(engine.eventStore.readStream(aliceExhausted).some((e) => e.type === 'JobRetried')).toBe(false);
    // They fail again (the input is still bad) and are back in the view.
    await Promise.all([until(alicePermanent, 'failed'), until(bobPermanent, 'failed')]);
    expect((await dead(admin)).body.total).toBe(3);
  });

  it('purges failed jobs through the delete workflow: tombstones in the log, rows gone; other states are skipped', async () => {
    const r = await engine.api(
      'POST',
      '/api/v1/jobs/dead/purge',
      { job_ids: [aliceExhausted, aliceCompleted, 'job_nope'], reason: 'given up' },
      alice,
    );
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ deleted: 1, job_ids: [aliceExhausted] });
    expect(r.body.skipped).toEqual([
      { job_id: aliceCompleted, error: 'Job is completed, not failed' },
      { job_id: 'job_nope', error: 'Job not found' },
    ]);
    expect((await engine.api('GET', `/api/v1/jobs/${aliceExhausted}`, undefined, alice)).status).toBe(404);
    const tombstone = engine.eventStore.readStream(aliceExhausted).at(-1)!;
    expect(tombstone.type).toBe('JobDeleted');
    expect(tombstone.metadata).toMatchObject({ actor: 'user:alice', reason: 'given up' });
    expect((await dead(alice)).body.total).toBe(1);
    expect(await statusOf(aliceCompleted)).toBe('completed');
  });

  it('refuses bad requests with 400 in the error format', async () => {
    expect((await engine.api('POST', '/api/v1/jobs/dead/retry', { job_ids: [] }, admin)).status).toBe(400);
    const unknown = await engine.api('POST', '/api/v1/jobs/dead/purge', { status: 'completed' }, admin);
    expect(unknown.status).toBe(400);
    expect(Object.keys(unknown.body).sort()).toEqual(['details', 'error', 'timestamp']);
    expect((await dead(admin, '?limit=0')).status).toBe(400);
  });
});

describe('workers', () => {
  it("lists the engine's own worker process with its task queues, job types and slots; stats agree", async () => {
    const identity = `${process.pid}@${os.hostname()}`;
    // Slots come with the SDK worker's heartbeat (every 10 s).
    const view = await eventually(
      async () => {
        const r = await engine.api('GET', '/api/v1/workers', undefined, admin);
        const me = r.body.workers?.find((w: any) => w.identity === identity);
        return me?.slots ? r.body : undefined;
      },
      60_000,
      'a heartbeat with slots',
    );
    const me = view.workers.find((w: any) => w.identity === identity);
    expect(me).toMatchObject({ host: os.hostname(), pid: process.pid, active: true, status: 'running' });
    const queues = me.task_queues.map((q: any) => `${q.name}:${q.type}`);
    for (const q of [
      `${engine.taskQueue}:workflow`,
      `${engine.taskQueue}:activity`,
      `${engine.taskQueue}-store:activity`,
      `${engine.taskQueue}-scheduler:activity`,
    ])
      expect(queues).toContain(q);
    expect(me.job_types).toEqual(expect.arrayContaining(['sleep', 'noop', 'flaky', 'match']));
    // The default worker runs 100 steps at once.
    expect(me.slots.used + me.slots.free).toBe(100);
    expect(view.total).toBeGreaterThanOrEqual(1);
    expect(view.active).toBe(view.workers.filter((w: any) => w.active).length);
    const stats = (await engine.api('GET', '/api/v1/jobs/stats', undefined, admin)).body;
    expect(stats.total_workers).toBe(view.total);
    expect(stats.active_workers).toBe(view.active);
    // Hosts and pids are the operators' business.
    expect((await engine.api('GET', '/api/v1/workers', undefined, alice)).status).toBe(403);
  });
});

describe('throughput over time', () => {
  it('counts submitted, completed and failed jobs per bucket, per owner for users; a rebuild gives the same table', async () => {
    const before = await timeseries(admin);
    expect(before.bucket_seconds).toBe(60);
    expect(before.buckets).toHaveLength(30);
    const aliceBefore = await timeseries(alice);
    const ok = [await submit(alice, { type: 'noop' }), await submit(bob, { type: 'noop' })];
    const bad = await submit(alice, permanent);
    await Promise.all([...ok.map((id) => until(id, 'completed')), until(bad, 'failed')]);
    await eventually(() => engine.projector.checkpoint() === engine.eventStore.lastPosition(), 10_000, 'caught up');

    const after = await timeseries(admin);
    const delta = (key: string) => sum(after.buckets, key) - sum(before.buckets, key);
    // A job that completes right at a minute boundary can move the window's first bucket out: tolerate none here,
    // the window is 30 minutes and everything in this file happened within it.
    expect(delta('submitted')).toBe(3);
    expect(delta('completed')).toBe(2);
    expect(delta('failed')).toBe(1);
    const aliceAfter = await timeseries(alice);
    expect(sum(aliceAfter.buckets, 'submitted') - sum(aliceBefore.buckets, 'submitted')).toBe(2);
    expect(sum(aliceAfter.buckets, 'completed') - sum(aliceBefore.buckets, 'completed')).toBe(1);
    // Every job of this file: 4 + 3 submitted, 2 retries recorded.
    expect(sum(after.buckets, 'submitted')).toBe(7);
    expect(sum(after.buckets, 'retried')).toBe(2);
    for (let i = 1; i < after.buckets.length; i++)
      expect(Date.parse(after.buckets[i].start) - Date.parse(after.buckets[i - 1].start)).toBe(60_000);
    const wide = (await engine.api('GET', '/api/v1/stats/timeseries?minutes=30&bucket_seconds=600', undefined, admin)).body;
    expect(wide.buckets).toHaveLength(3);
    expect(sum(wide.buckets, 'submitted')).toBeGreaterThanOrEqual(7);
    expect((await engine.api('GET', '/api/v1/stats/timeseries?bucket_seconds=90', undefined, admin)).status).toBe(400);

    const target = path.join(engine.dir, 'rebuilt.db');
    await rebuildReadModel(engine.eventStore, target);
    const rebuilt = openReadModelDb(target);
    try {
      const dump = (db: typeof rebuilt) => db.prepare('SELECT * FROM job_throughput ORDER BY minute, owner').all();
      expect(dump(engine.readModelDb).length).toBeGreaterThan(0);
      expect(dump(rebuilt)).toEqual(dump(engine.readModelDb));
    } finally {
      rebuilt.close();
    }
  });
});

describe('the typed client', () => {
  const client = (who: AuthHeaders) =>
    new JobEngineClient({
      baseUrl: 'http://engine.test',
      token: who.authorization!.slice('Bearer '.length),
      fetch: (input, init) => Promise.resolve(engine.app.request(input instanceof Request ? input : String(input), init)),
    });

  it('pages failed jobs, retries and purges them, lists workers and reads the timeseries', async () => {
    const id = await submit(bob, permanent);
    await until(id, 'failed');
    const seen: string[] = [];
    for await (const job of client(admin).deadJobs({ limit: 1 })) seen.push(job.id);
    expect(seen).toContain(id);
    expect(seen.length).toBe((await client(admin).deadJobsPage()).total);
    expect((await client(bob).deadJobsPage({ owner: 'bob' })).jobs.every((j) => j.user_id === 'bob')).toBe(true);
    const retried = await client(bob).retryDeadJobs({ job_ids: [id], reason: 'from the client' });
    expect(retried).toMatchObject({ retried: 1, job_ids: [id], skipped: [] });
    await until(id, 'failed');
    expect(await client(bob).purgeDeadJobs({ job_ids: [id] })).toMatchObject({ deleted: 1 });
    expect((await client(admin).workers()).total).toBeGreaterThanOrEqual(1);
    await expect(client(bob).workers()).rejects.toBeInstanceOf(ForbiddenError);
    const series = await client(bob).timeseries({ minutes: 5 });
    expect(series.buckets).toHaveLength(5);
    expect(sum(series.buckets, 'submitted')).toBeGreaterThanOrEqual(1);
  });
});
