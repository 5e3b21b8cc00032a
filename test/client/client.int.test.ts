import { createHash } from 'node:crypto';
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobEngineClient, JobEngineError } from '../../src/client/index.js';
import { startTestEngine, type TestEngine } from '../support/testEngine.js';

/** The client against the real API over real HTTP (the engine's app served on a free port). */
let engine: TestEngine;
let server: ServerType;
let baseUrl: string;
const requests: string[] = [];
/** A fetch that records what it is asked, and can fail the next N calls as a dropped connection. */
let failNext = 0;
const recordingFetch: typeof fetch = async (input, init) => {
  const url = String(input instanceof Request ? input.url : input);
  requests.push(`${init?.method ?? 'GET'} ${new URL(url).pathname}${new URL(url).search}`);
  if (failNext > 0) {
    failNext--;
    // The request reaches the server (a job may start), but the answer is lost on the way back.
    await fetch(input, init).then((r) => r.text());
    throw new TypeError('fetch failed (simulated: connection reset)');
  }
  return fetch(input, init);
};

beforeAll(async () => {
  engine = await startTestEngine();
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: engine.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server?.close();
  await engine?.dispose();
});

const client = () => new JobEngineClient({ baseUrl, fetch: recordingFetch, retryBaseMs: 20 });

describe('JobEngineClient', () => {
  it('submits and waits for completion by following the SSE stream, not by polling', async () => {
    const c = client();
    const { job_id } = await c.submitJob({ name: 'c', type: 'sleep', input: { steps: 4, step_ms: 300 } });
    requests.length = 0;
    const seen: number[] = [];
    const job = await c.waitForCompletion(job_id, { timeoutMs: 30_000, onProgress: (j) => seen.push(j.progress) });
    expect(job.status).toBe('completed');
    expect(job.progress).toBe(100);
    expect(seen.length).toBeGreaterThan(1);
    // One stream, no repeated polling of the job in a loop before the end.
    expect(requests.filter((r) => r.startsWith('GET /api/v1/jobs/events'))).toHaveLength(1);
    expect(requests.filter((r) => r === `GET /api/v1/jobs/${job_id}`).length).toBeLessThanOrEqual(seen.length + 2);
    // A job that has ended already resolves at once.
    expect((await c.waitForCompletion(job_id, { timeoutMs: 5_000 })).status).toBe('completed');
  });

  it('a submit whose answer is lost is retried with the same Idempotency-Key: one job, not two', async () => {
    const c = client();
    const before = (await c.stats()).total_jobs;
    failNext = 1;
    const { job_id } = await c.submitJob({ name: 'once', type: 'noop' });
    expect(job_id).toMatch(/^job_/);
    const submits = requests.filter((r) => r === 'POST /api/v1/jobs/submit');
    expect(submits.length).toBeGreaterThanOrEqual(2);
    expect((await c.stats()).total_jobs).toBe(before + 1);
  });

  it('typed errors: 404, 400 naming the field, 409; controls and priority; list paging as an iterator', async () => {
    const c = client();
    const missing = await c.getJob('job_nope').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(JobEngineError);
    expect(missing).toMatchObject({ status: 404, kind: 'not_found' });
    const bad = await c.submitJob({ name: 'x', priority: 9 }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 400, kind: 'invalid' });
    expect((bad as JobEngineError).details).toContain('priority');

    const { job_id } = await c.submitJob({ name: 'steer', type: 'sleep', input: { steps: 20, step_ms: 200 } });
    expect((await c.pauseJob(job_id, { reason: 'client test' })).job?.status).toBe('paused');
    expect((await c.setJobPriority(job_id, 4)).job?.priority).toBe(4);
    expect((await c.resumeJob(job_id)).job?.status).not.toBe('paused');
    expect((await c.cancelJob(job_id)).job?.status).toBe('cancelled');
    const again = await c.cancelJob(job_id).catch((e: unknown) => e);
    expect(again).toMatchObject({ status: 409, kind: 'conflict' });
    expect((await c.jobEvents(job_id)).map((e) => e.type)).toContain('JobPaused');

    for (let i = 0; i < 5; i++) await c.submitJob({ name: `page-${i}`, type: 'noop', tags: ['paging'] });
    const names: string[] = [];
    for await (const job of c.iterateJobs({ tag: 'paging', limit: 2 })) names.push(job.name);
    expect(names.sort()).toEqual(['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
  });

  it('pools, batches and files', async () => {
    const c = client();
    expect(await c.putPool('client-pool', { limit: 3 })).toMatchObject({ name: 'client-pool', limit: 3 });
    expect((await c.listPools()).map((p) => p.name)).toContain('client-pool');
    const { batch_id } = await c.createBatch({
      name: 'b',
      jobs: [
        { name: 'one', type: 'noop' },
        { name: 'two', type: 'noop' },
      ],
    });
    const jobs = await c.batchJobs(batch_id);
    const done = await Promise.all(jobs.map((j) => c.waitForCompletion(j.id, { timeoutMs: 30_000 })));
    expect(done.every((j) => j.status === 'completed')).toBe(true);
    const file = await c.uploadFile('a.csv', 'id,name\n1,Ann\n');
    expect(file).toMatchObject({
      name: 'a.csv',
      size: 14,
      sha256: createHash('sha256').update('id,name\n1,Ann\n').digest('hex'),
    });
    expect((await c.listFiles()).map((f) => f.file_id)).toContain(file.file_id);
    await c.deleteFile(file.file_id);
    await expect(c.getFile(file.file_id)).rejects.toMatchObject({ status: 404 });
  });
});
