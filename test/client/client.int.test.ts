/**
 * The typed client against the real API: the engine's app served over real HTTP (port 0), a real
 * Temporal dev server, the client driving it through a wrapped fetch that records (and breaks) calls.
 */
import { createHash, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BadRequestError,
  ConflictError,
  ForbiddenError,
  JobEngineClient,
  JobEngineError,
  JobEngineNetworkError,
  NotFoundError,
  PayloadTooLargeError,
  UnauthorizedError,
  UnavailableError,
  type BulkRequest,
  type BulkResult,
  type Job,
  type ResultFiles,
  type StoredFileInfo,
} from '../../src/client/index.js';
import { jwtAuthenticator, mintToken } from '../../src/api/auth.js';
import { serveOverHttp } from '../support/http.js';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';

let engine: TestEngine;
let baseUrl: string;

interface Call {
  method: string;
  path: string;
  search: string;
  headers: Headers;
}
let calls: Call[] = [];
/** Per test: a fault to inject before (or instead of) the real fetch. */
let fault: ((call: Call, real: () => Promise<Response>) => Promise<Response | undefined> | undefined) | undefined;

const recordingFetch: typeof fetch = async (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  const call: Call = {
    method: init?.method ?? 'GET',
    path: url.pathname,
    search: url.search,
    headers: new Headers(init?.headers),
  };
  calls.push(call);
  const real = () => fetch(input, init);
  return (await fault?.(call, real)) ?? real();
};

const client = () => new JobEngineClient({ baseUrl, fetch: recordingFetch, retryBaseDelayMs: 20, timeoutMs: 10_000 });
const callsTo = (method: string, p: string | RegExp) =>
  calls.filter((c) => c.method === method && (typeof p === 'string' ? c.path === `/api/v1${p}` : p.test(c.path)));

let closeServer: (() => Promise<void>) | undefined;

beforeAll(async () => {
  engine = await startTestEngine();
  const served = await serveOverHttp(engine.app);
  baseUrl = served.url;
  closeServer = served.close;
});
afterAll(async () => {
  await closeServer?.();
  await engine?.dispose();
});
beforeEach(() => {
  calls = [];
  fault = undefined;
});

describe('JobEngineClient', () => {
  it('submits a job and waits for it over SSE (one stream, no polling), reporting progress', async () => {
    const c = client();
    const submitted = await c.submit({ name: 'client wait', type: 'sleep', input: { steps: 3, step_ms: 300 } });
    expect(submitted.status).toBe(201);
    const progress: number[] = [];
    const job = await c.waitForCompletion(submitted.job_id, {
      timeoutMs: 30_000,
      onProgress: (p) => p.progress !== undefined && progress.push(p.progress),
    });
    expect(job.id).toBe(submitted.job_id);
    expect(job.status).toBe('completed');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress).toEqual(progress.slice().sort((a, b) => a - b));
    expect(job.progress).toBe(100);
    expect(callsTo('GET', '/jobs/events')).toHaveLength(1);
    expect(callsTo('GET', '/jobs/events')[0]!.search).toBe(`?job_id=${submitted.job_id}`);
    // One read before following the stream, one after the final event (plus a few while the projection catches up); polling would be dozens.
    expect(callsTo('GET', `/jobs/${submitted.job_id}`).length).toBeLessThanOrEqual(6);
    // The submit carried a generated Idempotency-Key.
    expect(callsTo('POST', '/jobs/submit')[0]!.headers.get('idempotency-key')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('resolves at once for a job that already finished', async () => {
    const c = client();
    const { job_id } = await c.submit({ name: 'client done', type: 'noop' });
    await eventually(async () => (await c.getJob(job_id)).status === 'completed', 30_000);
    calls = [];
    const job = await c.waitForCompletion(job_id, { timeoutMs: 5_000 });
    expect(job.status).toBe('completed');
    expect(callsTo('GET', `/jobs/${job_id}`)).toHaveLength(1);
  });

  it('resumes a dropped SSE stream with Last-Event-ID', async () => {
    const c = client();
    const { job_id } = await c.submit({ name: 'client resume', type: 'sleep', input: { steps: 4, step_ms: 300 } });
    // The first stream is cut after its first message.
    let firstId: string | undefined;
    fault = async (call, real) => {
      if (call.path !== '/api/v1/jobs/events' || callsTo('GET', '/jobs/events').length > 1) return undefined;
      const response = await real();
      const reader = response.body!.getReader();
      let seen = '';
      const cut = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const { value, done } = await reader.read();
          if (done) return controller.close();
          controller.enqueue(value);
          seen += new TextDecoder().decode(value);
          const match = /^id: ?(\d+)$/m.exec(seen);
          if (match && seen.includes('\n\n')) {
            firstId = match[1];
            await reader.cancel();
            controller.close();
          }
        },
      });
      return new Response(cut, { status: response.status, headers: response.headers });
    };
    const job = await c.waitForCompletion(job_id, { timeoutMs: 30_000 });
    expect(job.status).toBe('completed');
    const streams = callsTo('GET', '/jobs/events');
    expect(streams.length).toBeGreaterThanOrEqual(2);
    expect(firstId).toBeDefined();
    expect(streams[0]!.headers.get('last-event-id')).toBeNull();
    expect(streams[1]!.headers.get('last-event-id')).toBe(firstId);
  });

  it('times out waiting with a typed error', async () => {
    const c = client();
    const { job_id } = await c.submit({ name: 'client slow', type: 'sleep', input: { steps: 10, step_ms: 1000 } });
    const error = await c.waitForCompletion(job_id, { timeoutMs: 300 }).catch((e) => e);
    expect(error).toBeInstanceOf(JobEngineError);
    expect(error.kind).toBe('timeout');
    await c.cancel(job_id);
  });

  it('pauses, resumes and cancels a job', async () => {
    const c = client();
    const { job_id } = await c.submit({ name: 'client control', type: 'sleep', input: { steps: 20, step_ms: 500 } });
    await eventually(async () => (await c.getJob(job_id)).status === 'running', 30_000, 'running');
    const paused = await c.pause(job_id, { reason: 'client test' });
    expect(paused.success).toBe(true);
    expect(paused.job?.status).toBe('paused');
    const resumed = await c.resume(job_id);
    expect(resumed.job?.status).not.toBe('paused');
    await c.setPriority(job_id, 4, 'urgent now');
    expect((await c.getJob(job_id)).priority).toBe(4);
    const cancelled = await c.cancel(job_id, { reason: 'done testing' });
    expect(cancelled.message).toBe('Job cancelled successfully');
    const final = await c.waitForCompletion(job_id, { timeoutMs: 30_000 });
    expect(final.status).toBe('cancelled');
    const history = await c.jobHistory(job_id);
    expect(history.map((e) => e.type)).toEqual(expect.arrayContaining(['JobPaused', 'JobResumed', 'JobCancelled']));
    // A second cancel of a cancelled job is a 409, typed.
    await expect(c.cancel(job_id)).rejects.toBeInstanceOf(ConflictError);
    await c.deleteJob(job_id);
    await expect(c.getJob(job_id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('lists jobs page after page with the async iterator', async () => {
    const c = client();
    const tag = `paging-${randomUUID().slice(0, 8)}`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await c.submit({ name: `page ${i}`, type: 'noop', tags: [tag] })).job_id);
    await eventually(async () => (await c.listJobsPage({ tag, limit: 10 })).items.length === 5, 20_000, 'all listed');
    calls = [];
    const seen: Job[] = [];
    for await (const job of c.listJobs({ tag, limit: 2 })) seen.push(job);
    expect(seen.map((j) => j.id).sort()).toEqual(ids.slice().sort());
    const pages = callsTo('GET', '/jobs/list');
    expect(pages).toHaveLength(3);
    expect(new URLSearchParams(pages[0]!.search).get('cursor')).toBeNull();
    expect(new URLSearchParams(pages[1]!.search).get('cursor')).toBeTruthy();
    const first = await c.listJobsPage({ tag, limit: 2 });
    expect(first.items).toHaveLength(2);
    expect(first.nextCursor).toBeTruthy();
  });

  it('throws typed errors: 404 and 400 with the API body, not retried', async () => {
    const c = client();
    const missing = await c.getJob('job_does-not-exist').catch((e) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toBeInstanceOf(JobEngineError);
    expect(missing).toMatchObject({
      status: 404,
      kind: 'not_found',
      error: 'Not Found',
      details: 'Job not found: job_does-not-exist',
    });
    expect(callsTo('GET', '/jobs/job_does-not-exist')).toHaveLength(1);

    const invalid = await c.submit({ name: 'bad', type: 'sleep', priority: 9 }).catch((e) => e);
    expect(invalid).toBeInstanceOf(BadRequestError);
    expect(invalid.status).toBe(400);
    expect(invalid.kind).toBe('bad_request');
    expect(invalid.details).toMatch(/priority/);
    expect(callsTo('POST', '/jobs/submit')).toHaveLength(1);
  });

  it('retries a submit whose answer was lost and creates one job only (same Idempotency-Key)', async () => {
    const c = client();
    const tag = `retry-${randomUUID().slice(0, 8)}`;
    // The first submit reaches the server, then the connection "drops" before the answer.
    fault = async (call, real) => {
      if (call.path !== '/api/v1/jobs/submit' || callsTo('POST', '/jobs/submit').length > 1) return undefined;
      await real();
      throw new TypeError('fetch failed (simulated connection reset)');
    };
    const submitted = await c.submit({ name: 'client retried', type: 'noop', tags: [tag] });
    const submits = callsTo('POST', '/jobs/submit');
    expect(submits).toHaveLength(2);
    expect(submits[1]!.headers.get('idempotency-key')).toBe(submits[0]!.headers.get('idempotency-key'));
    expect(submitted.status).toBe(200); // the job the first call created
    await c.waitForCompletion(submitted.job_id, { timeoutMs: 30_000 });
    const jobs: Job[] = [];
    for await (const job of c.listJobs({ tag })) jobs.push(job);
    expect(jobs.map((j) => j.id)).toEqual([submitted.job_id]);
  });

  it('uses the caller’s Idempotency-Key: the same key returns the same job', async () => {
    const c = client();
    const key = `key-${randomUUID()}`;
    const a = await c.submit({ name: 'keyed', type: 'noop' }, { idempotencyKey: key });
    const b = await c.submit({ name: 'keyed', type: 'noop' }, { idempotencyKey: key });
    expect(b.job_id).toBe(a.job_id);
    expect(b.status).toBe(200);
  });

  it('retries 503 and connection errors on GET, never on a control POST', async () => {
    const c = client();
    const { job_id } = await c.submit({ name: 'client 503', type: 'noop' });
    let failed = 0;
    fault = async (call) => {
      if (call.method === 'GET' && failed < 2) {
        failed++;
        if (failed === 1) throw new TypeError('fetch failed');
        return new Response(JSON.stringify({ error: 'Service Unavailable', details: 'busy', timestamp: '' }), { status: 503 });
      }
      if (call.method === 'POST' && call.path.endsWith('/pause')) {
        return new Response(JSON.stringify({ error: 'Service Unavailable', details: 'busy', timestamp: '' }), { status: 503 });
      }
      return undefined;
    };
    expect((await c.getJob(job_id)).id).toBe(job_id);
    expect(callsTo('GET', `/jobs/${job_id}`)).toHaveLength(3);
    const error = await c.pause(job_id).catch((e) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(callsTo('POST', `/jobs/${job_id}/pause`)).toHaveLength(1);
    // Out of retries: the network error surfaces, typed.
    fault = async () => {
      throw new TypeError('fetch failed');
    };
    const down = await new JobEngineClient({ baseUrl, fetch: recordingFetch, retries: 1, retryBaseDelayMs: 1 })
      .stats()
      .catch((e) => e);
    expect(down).toBeInstanceOf(JobEngineNetworkError);
    expect(down.kind).toBe('network');
  });

  it('puts and gets pools', async () => {
    const c = client();
    const name = `client-${randomUUID().slice(0, 8)}`;
    const put = await c.putPool(name, { limit: 3, reason: 'client test' });
    expect(put).toMatchObject({ name, limit: 3 });
    expect(await c.getPool(name)).toMatchObject({ name, limit: 3, running: 0 });
    expect((await c.listPools()).map((p) => p.name)).toContain(name);
    await expect(c.putPool(name, { limit: -1 })).rejects.toBeInstanceOf(BadRequestError);
    await expect(c.getPool('no-such-pool')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('creates a batch and waits for it', async () => {
    const c = client();
    const created = await c.createBatch({
      name: 'client batch',
      type: 'sleep',
      items: [1, 2, 3].map(() => ({ steps: 1, step_ms: 50 })),
    });
    expect(created.total).toBe(3);
    const batch = await c.waitForBatch(created.batch_id, { timeoutMs: 60_000 });
    expect(batch.status).toBe('completed');
    expect(batch.progress.completed).toBe(3);
    expect(callsTo('GET', '/jobs/events').length).toBeGreaterThanOrEqual(1);
    const jobs: Job[] = [];
    for await (const job of c.batchJobs(created.batch_id, { limit: 2 })) jobs.push(job);
    expect(jobs).toHaveLength(3);
    expect(jobs.every((j) => j.batch_id === created.batch_id && j.status === 'completed')).toBe(true);
    const report = await c.batchReport(created.batch_id);
    expect(report.durations.jobs).toBe(3);
    expect((await c.listBatches()).map((b) => b.id)).toContain(created.batch_id);
  });

  it('uploads files from bytes, a path and a stream; downloads result files as a stream', async () => {
    const c = client();
    const bytes = Buffer.from('a,b\n1,2\n');
    const sha = createHash('sha256').update(bytes).digest('hex');
    const fromBytes = await c.uploadFile(bytes, { name: 'bytes.csv' });
    expect(fromBytes).toMatchObject({ name: 'bytes.csv', size: bytes.length, sha256: sha });
    const file = path.join(engine.dir, 'upload.csv');
    writeFileSync(file, bytes);
    expect(await c.uploadFile(file)).toMatchObject({ name: 'upload.csv', sha256: sha });
    expect(await c.uploadFile(Readable.from([bytes.subarray(0, 3), bytes.subarray(3)]), { name: 's.csv' })).toMatchObject({
      sha256: sha,
    });
    expect(await c.getFile(fromBytes.file_id)).toEqual(fromBytes);
    expect(callsTo('POST', '/files')).toHaveLength(3);

    const { job_id } = await c.submit({ name: 'client report', type: 'report', input: { rows: 5, chunks: 1 } });
    const job = await c.waitForCompletion(job_id, { timeoutMs: 30_000 });
    expect(job.result_files.length).toBe(1);
    const listed = await c.listResultFiles(job_id);
    expect(listed.files[0]!.name).toBe(job.result_files[0]);
    const download = await c.downloadResultFile(job_id, listed.files[0]!.name);
    expect(download.contentType).toMatch(/text\/csv/);
    const text = await new Response(download.stream).text();
    expect(text.split('\n')[0]).toBe('row,value');
    expect(text.trim().split('\n')).toHaveLength(6);
  });
  it('answers 413 for an input over the limit, typed', async () => {
    const c = client();
    const error = await c.submit({ name: 'huge', type: 'noop', input: { blob: 'x'.repeat(1_200_000) } }).catch((e) => e);
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect(error).toMatchObject({ status: 413, kind: 'payload_too_large', error: 'Payload Too Large' });
  });

  it('reads stats, applies a bulk action and cleans up', async () => {
    const c = client();
    const tag = `bulk-${randomUUID().slice(0, 8)}`;
    const ids = [];
    for (let i = 0; i < 2; i++)
      ids.push((await c.submit({ name: `bulk ${i}`, type: 'sleep', tags: [tag], input: { steps: 20, step_ms: 500 } })).job_id);
    const stats = await c.stats();
    expect(stats.total_jobs).toBeGreaterThanOrEqual(2);
    const bulk = await c.bulk({ action: 'cancel', ids: [...ids, 'job_nope'], reason: 'client bulk' });
    expect(bulk).toMatchObject({ action: 'cancel', matched: 3, succeeded: 2, failed: 1 });
    for (const id of ids) expect((await c.waitForCompletion(id, { timeoutMs: 30_000 })).status).toBe('cancelled');
    const cleaned = await c.cleanup({ max_age_hours: 1 });
    expect(cleaned.success).toBe(true);
    await expect(c.cleanup({ max_age_hours: 0 })).rejects.toBeInstanceOf(BadRequestError);
  });

  it('creates, reads, changes, triggers, pauses and deletes a schedule', async () => {
    const c = client();
    const scheduleId = `client-${randomUUID().slice(0, 8)}`;
    const created = await c.createSchedule({
      schedule_id: scheduleId,
      spec: { intervals: [{ every: '1h' }] },
      job: { name: 'client scheduled', type: 'noop' },
      paused: true,
    });
    expect('id' in created ? created.id : created.schedule_id).toBe(scheduleId);
    await expect(
      c.createSchedule({ schedule_id: scheduleId, spec: { intervals: [{ every: '1h' }] }, job: { name: 'again', type: 'noop' } }),
    ).rejects.toBeInstanceOf(ConflictError);
    const schedule = await eventually(() => c.getSchedule(scheduleId).catch(() => undefined), 10_000, 'schedule readable');
    expect(schedule).toMatchObject({ id: scheduleId, paused: true });
    const changed = await c.updateSchedule(scheduleId, { name: 'renamed', reason: 'client test' });
    expect(changed.name).toBe('renamed');
    const listed: string[] = [];
    for await (const s of c.listSchedules({ limit: 1 })) listed.push(s.id);
    expect(listed).toContain(scheduleId);
    expect((await c.unpauseSchedule(scheduleId)).success).toBe(true);
    expect((await c.pauseSchedule(scheduleId, { reason: 'quiet' })).schedule?.paused).toBe(true);
    await c.triggerSchedule(scheduleId);
    const runs = await eventually(
      async () => {
        const found: Job[] = [];
        for await (const run of c.scheduleRuns(scheduleId)) found.push(run);
        return found.length > 0 ? found : undefined;
      },
      20_000,
      'a run',
    );
    expect(runs[0]!.schedule_id).toBe(scheduleId);
    expect((await c.deleteSchedule(scheduleId, { reason: 'done' })).success).toBe(true);
    await expect(c.getSchedule(scheduleId)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('hand-written client types (routes that export no schema)', () => {
  // One object per type with every field: TypeScript rejects a missing or an extra key, the test
  // compares the keys with the OpenAPI document the routes generate. Either side drifting fails here.
  const samples = {
    File: { file_id: '', name: '', size: 0, sha256: '', created_at: '' } satisfies Required<StoredFileInfo>,
    ResultFiles: { job_id: '', files: [] } satisfies Required<ResultFiles>,
    ResultFile: { name: '', size: null, content_type: '', download_url: '' } satisfies Required<ResultFiles['files'][number]>,
    BulkRequest: { action: 'cancel', ids: [], filter: {}, priority: 1, reason: '', limit: 1 } satisfies Required<BulkRequest>,
    BulkResult: { action: '', matched: 0, succeeded: 0, failed: 0, results: [] } satisfies Required<BulkResult>,
  };
  it('match the OpenAPI components field for field', async () => {
    const document = (await engine.api('GET', '/api/v1/openapi.json')).body;
    for (const [name, sample] of Object.entries(samples)) {
      const properties = Object.keys(document.components.schemas[name]?.properties ?? {});
      expect({ name, keys: Object.keys(sample).sort() }).toEqual({ name, keys: properties.sort() });
    }
    const filter = document.components.schemas.BulkRequest.properties.filter.properties;
    expect(Object.keys(filter).sort()).toEqual(['batch_id', 'name', 'priority', 'status', 'type']);
  });
});

describe('JobEngineClient with auth', () => {
  const secret = 'client-test-secret';
  let secured: TestEngine;
  let url: string;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    secured = await startTestEngine({ appOptions: { authenticate: jwtAuthenticator({ secret }) } });
    const served = await serveOverHttp(secured.app);
    url = served.url;
    close = served.close;
  });
  afterAll(async () => {
    await close?.();
    await secured?.dispose();
  });

  it('sends the token as a Bearer; 401 without one, 403 on another user’s job and on a pool change', async () => {
    let refreshed = 0;
    const alice = new JobEngineClient({
      baseUrl: `${url}/api/v1`,
      fetch: recordingFetch,
      token: async () => {
        refreshed++;
        return mintToken(secret, 'alice');
      },
    });
    const bob = new JobEngineClient({ baseUrl: url, fetch: recordingFetch, token: await mintToken(secret, 'bob') });
    const { job_id } = await alice.submit({ name: 'alice’s', type: 'noop' });
    expect(refreshed).toBe(1);
    expect(callsTo('POST', '/jobs/submit')[0]!.headers.get('authorization')).toMatch(/^Bearer ey/);
    expect((await alice.waitForCompletion(job_id, { timeoutMs: 30_000 })).user_id).toBe('alice');
    const denied = await bob.getJob(job_id).catch((e) => e);
    expect(denied).toBeInstanceOf(ForbiddenError);
    expect(denied).toMatchObject({ status: 403, kind: 'forbidden', details: 'Access denied to this job' });
    await expect(bob.putPool('bobs', { limit: 1 })).rejects.toBeInstanceOf(ForbiddenError);
    const anonymous = new JobEngineClient({ baseUrl: url, fetch: recordingFetch });
    await expect(anonymous.stats()).rejects.toBeInstanceOf(UnauthorizedError);
  });
});
