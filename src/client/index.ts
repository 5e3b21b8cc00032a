/**
 * A typed client of the job engine's REST API (`/api/v1`). Request and response types come from the
 * API's own zod schemas (type-only imports: nothing of the server is loaded). Retries 503s and
 * connection errors with backoff and jitter; a submit carries an Idempotency-Key (one per call, kept
 * across its retries), so a retried submit never makes a second job. `waitForCompletion` follows the
 * job's Server-Sent Events instead of polling.
 *
 *   const client = new JobEngineClient({ baseUrl: 'http://localhost:3000', token });
 *   const { job_id } = await client.submitJob({ name: 'report', type: 'sleep', input: { steps: 3 } });
 *   const job = await client.waitForCompletion(job_id, { onProgress: (j) => console.log(j.progress) });
 */
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type {
  ControlBody,
  JobEventResource,
  JobResource,
  JobStats,
  ListJobsQuery,
  PoolResource,
  PutPoolBody,
  SubmitJobBody,
  SubmitJobResponse,
} from '../api/schemas.js';
import type { BatchResource, CreateBatchBody } from '../api/routes/batches.js';
import type { BulkBody, BulkResponse } from '../api/routes/bulk.js';
import type { FileResource, ResultFiles } from '../api/routes/files.js';
import type {
  CreateScheduleBody,
  ScheduleCreatedResponse,
  ScheduleResource,
  TriggerScheduleBody,
  UpdateScheduleBody,
} from '../api/scheduleSchemas.js';
import { JobEngineError } from './errors.js';

export { JobEngineError, type JobEngineErrorKind } from './errors.js';

export type Job = z.infer<typeof JobResource>;
export type JobStatus = Job['status'];
export type SubmitJobRequest = z.input<typeof SubmitJobBody>;
export type SubmitJobResult = z.infer<typeof SubmitJobResponse>;
export type JobListFilter = Partial<z.input<typeof ListJobsQuery>>;
export type JobStatsResult = z.infer<typeof JobStats>;
export type JobEvent = z.infer<typeof JobEventResource>;
export type Pool = z.infer<typeof PoolResource>;
export type PutPoolRequest = z.input<typeof PutPoolBody>;
export type Batch = z.infer<typeof BatchResource>;
export type CreateBatchRequest = z.input<typeof CreateBatchBody>;
export type BulkRequest = z.input<typeof BulkBody>;
export type BulkResult = z.infer<typeof BulkResponse>;
export type UploadedFile = z.infer<typeof FileResource>;
export type JobResultFiles = z.infer<typeof ResultFiles>;
export type Schedule = z.infer<typeof ScheduleResource>;
export type CreateScheduleRequest = z.input<typeof CreateScheduleBody>;
export type UpdateScheduleRequest = z.input<typeof UpdateScheduleBody>;
export type TriggerScheduleRequest = z.input<typeof TriggerScheduleBody>;
type Reason = z.input<typeof ControlBody>;

export const FINAL_JOB_STATUSES: readonly string[] = ['completed', 'failed', 'cancelled', 'terminated', 'timed_out'];

export interface JobEngineClientOptions {
  /** Where the engine listens, e.g. `http://localhost:3000` (the client adds `/api/v1`). */
  baseUrl: string;
  /** A bearer token (`npm run token -- --user alice`); leave it out when the engine has no JWT_SECRET. */
  token?: string;
  /** The fetch to use (default: the global one); tests and proxies pass their own. */
  fetch?: typeof fetch;
  /** Attempts of a request that met a 503 or a connection error, the first included; default 4. */
  maxAttempts?: number;
  /** First wait before a retry, ms (doubled each time, ±25 % jitter); default 200. */
  retryBaseMs?: number;
  /** Longest a single request may take, ms; default 30,000. */
  requestTimeoutMs?: number;
}

export interface WaitOptions {
  /** Give up after this long (a JobEngineError of kind `timeout`); default: wait for ever. */
  timeoutMs?: number;
  /** Called with the job after each change the stream reports (progress, status, message). */
  onProgress?: (job: Job) => void;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export class JobEngineClient {
  private readonly base: string;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: JobEngineClientOptions) {
    this.base = `${options.baseUrl.replace(/\/+$/, '')}/api/v1`;
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  // ---- jobs ----------------------------------------------------------------------------------------

  /** Submits a job. Idempotent: the same `idempotencyKey` (default: a new one per call, kept across
   * this call's retries) returns the same job. */
  submitJob(body: SubmitJobRequest, options: { idempotencyKey?: string } = {}): Promise<SubmitJobResult> {
    const key = options.idempotencyKey ?? randomUUID();
    return this.request('POST', '/jobs/submit', { body, headers: { 'idempotency-key': key }, retry: true });
  }
  getJob(jobId: string): Promise<Job> {
    return this.request('GET', `/jobs/${enc(jobId)}`);
  }
  /** One page of jobs, newest first, and the cursor of the next page (null on the last). */
  async listJobs(filter: JobListFilter = {}): Promise<{ jobs: Job[]; nextCursor: string | null }> {
    const response = await this.send('GET', `/jobs/list${query(filter)}`, { retry: true });
    return { jobs: (await response.json()) as Job[], nextCursor: response.headers.get('x-next-cursor') };
  }
  /** Every job matching `filter`, page after page. */
  async *iterateJobs(filter: JobListFilter = {}): AsyncGenerator<Job> {
    let cursor: string | undefined = filter.cursor;
    do {
      const page = await this.listJobs({ ...filter, ...(cursor ? { cursor } : {}) });
      yield* page.jobs;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }
  stats(): Promise<JobStatsResult> {
    return this.request('GET', '/jobs/stats');
  }
  jobEvents(jobId: string): Promise<JobEvent[]> {
    return this.request('GET', `/jobs/${enc(jobId)}/events`);
  }
  pauseJob(jobId: string, body: Reason = {}): Promise<{ job?: Job }> {
    return this.request('POST', `/jobs/${enc(jobId)}/pause`, { body });
  }
  resumeJob(jobId: string, body: Reason = {}): Promise<{ job?: Job }> {
    return this.request('POST', `/jobs/${enc(jobId)}/resume`, { body });
  }
  cancelJob(jobId: string, body: Reason = {}): Promise<{ job?: Job }> {
    return this.request('POST', `/jobs/${enc(jobId)}/cancel`, { body });
  }
  terminateJob(jobId: string, body: Reason = {}): Promise<{ job?: Job }> {
    return this.request('POST', `/jobs/${enc(jobId)}/terminate`, { body });
  }
  retryJob(jobId: string, body: Reason = {}): Promise<{ job?: Job }> {
    return this.request('POST', `/jobs/${enc(jobId)}/retry`, { body });
  }
  setJobPriority(jobId: string, priority: number, reason?: string): Promise<{ job?: Job }> {
    return this.request('PUT', `/jobs/${enc(jobId)}/priority`, { body: { priority, ...(reason ? { reason } : {}) } });
  }
  deleteJob(jobId: string): Promise<unknown> {
    return this.request('DELETE', `/jobs/${enc(jobId)}`);
  }
  cleanupJobs(maxAgeHours: number): Promise<{ cleaned_jobs: number; freed_space_mb: number }> {
    return this.request('POST', `/jobs/cleanup${query({ max_age_hours: maxAgeHours })}`);
  }
  bulk(body: BulkRequest): Promise<BulkResult> {
    return this.request('POST', '/jobs/bulk', { body });
  }
  /** The job's result files with their download URLs. */
  jobFiles(jobId: string): Promise<JobResultFiles> {
    return this.request('GET', `/jobs/${enc(jobId)}/files`);
  }
  /** One result file, as a stream of bytes. */
  async downloadJobFile(jobId: string, name: string): Promise<ReadableStream<Uint8Array>> {
    const response = await this.send('GET', `/jobs/${enc(jobId)}/files/${enc(name)}`, { retry: true });
    return response.body!;
  }

  /**
   * Resolves with the job once it is final (completed, failed, cancelled, terminated, timed out),
   * following its Server-Sent Events (resumed with Last-Event-ID if the connection drops) — no polling.
   */
  async waitForCompletion(jobId: string, options: WaitOptions = {}): Promise<Job> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    let lastEventId: string | undefined;
    for (let attempt = 1; ; attempt++) {
      const abort = new AbortController();
      const timer = Number.isFinite(deadline) ? setTimeout(() => abort.abort(), Math.max(0, deadline - Date.now())) : undefined;
      try {
        const response = await this.fetch(`${this.base}/jobs/events${query({ job_id: jobId })}`, {
          headers: { ...this.auth(), accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
          signal: abort.signal,
        });
        if (!response.ok) throw await errorOf(response);
        // Opened first, then the job read: whatever ends it after this is in the stream.
        if (lastEventId === undefined) {
          const job = await this.getJob(jobId);
          options.onProgress?.(job);
          if (FINAL_JOB_STATUSES.includes(job.status) || (await this.endedInLog(jobId))) return await this.finalJob(jobId);
        }
        for await (const message of serverSentEvents(response.body!)) {
          if (message.id) lastEventId = message.id;
          if (!message.event?.startsWith('Job')) continue;
          const ends = ['JobCompleted', 'JobFailed', 'JobCancelled', 'JobTerminated', 'JobTimedOut'].includes(message.event);
          if (ends) return await this.finalJob(jobId);
          if (options.onProgress) options.onProgress(await this.getJob(jobId));
        }
      } catch (error) {
        if (error instanceof JobEngineError && error.status !== 503) throw error;
        if (Date.now() >= deadline) throw new JobEngineError(0, 'Timeout', `job ${jobId} did not end in time`, 'timeout');
        await sleep(this.backoff(Math.min(attempt, 6)));
      } finally {
        clearTimeout(timer);
        abort.abort();
      }
      if (Date.now() >= deadline) throw new JobEngineError(0, 'Timeout', `job ${jobId} did not end in time`, 'timeout');
    }
  }

  // ---- batches -------------------------------------------------------------------------------------

  createBatch(body: CreateBatchRequest): Promise<{ batch_id: string; total: number; message: string }> {
    return this.request('POST', '/batches', { body });
  }
  getBatch(batchId: string): Promise<Batch> {
    return this.request('GET', `/batches/${enc(batchId)}`);
  }
  listBatches(filter: Record<string, string | number | undefined> = {}): Promise<Batch[]> {
    return this.request('GET', `/batches${query(filter)}`);
  }
  batchJobs(batchId: string, filter: Record<string, string | number | undefined> = {}): Promise<Job[]> {
    return this.request('GET', `/batches/${enc(batchId)}/jobs${query(filter)}`);
  }
  batchReport(batchId: string): Promise<Record<string, unknown>> {
    return this.request('GET', `/batches/${enc(batchId)}/report`);
  }
  batchStats(): Promise<Record<string, number>> {
    return this.request('GET', '/batches/stats');
  }
  controlBatch(batchId: string, action: 'pause' | 'resume' | 'cancel', body: Reason = {}): Promise<unknown> {
    return this.request('POST', `/batches/${enc(batchId)}/${action}`, { body });
  }
  setBatchPriority(batchId: string, priority: number, reason?: string): Promise<unknown> {
    return this.request('PUT', `/batches/${enc(batchId)}/priority`, { body: { priority, ...(reason ? { reason } : {}) } });
  }
  retryFailedInBatch(batchId: string): Promise<unknown> {
    return this.request('POST', `/batches/${enc(batchId)}/retry-failed`, { body: {} });
  }

  // ---- pools ---------------------------------------------------------------------------------------

  listPools(): Promise<Pool[]> {
    return this.request('GET', '/pools');
  }
  getPool(name: string): Promise<Pool> {
    return this.request('GET', `/pools/${enc(name)}`);
  }
  /** Creates a pool or changes its limit (admins). Idempotent, so it is retried. */
  putPool(name: string, body: PutPoolRequest): Promise<Pool> {
    return this.request('PUT', `/pools/${enc(name)}`, { body, retry: true });
  }

  // ---- schedules -----------------------------------------------------------------------------------

  createSchedule(body: CreateScheduleRequest): Promise<z.infer<typeof ScheduleCreatedResponse>> {
    return this.request('POST', '/schedules', { body });
  }
  listSchedules(filter: { limit?: number; cursor?: string } = {}): Promise<Schedule[]> {
    return this.request('GET', `/schedules${query(filter)}`);
  }
  getSchedule(id: string): Promise<Schedule> {
    return this.request('GET', `/schedules/${enc(id)}`);
  }
  updateSchedule(id: string, body: UpdateScheduleRequest): Promise<unknown> {
    return this.request('PATCH', `/schedules/${enc(id)}`, { body });
  }
  deleteSchedule(id: string, body: Reason = {}): Promise<unknown> {
    return this.request('DELETE', `/schedules/${enc(id)}`, { body });
  }
  pauseSchedule(id: string, body: Reason = {}): Promise<unknown> {
    return this.request('POST', `/schedules/${enc(id)}/pause`, { body });
  }
  unpauseSchedule(id: string, body: Reason = {}): Promise<unknown> {
    return this.request('POST', `/schedules/${enc(id)}/unpause`, { body });
  }
  triggerSchedule(id: string, body: TriggerScheduleRequest = {}): Promise<unknown> {
    return this.request('POST', `/schedules/${enc(id)}/trigger`, { body });
  }
  scheduleRuns(id: string, filter: Record<string, string | number | undefined> = {}): Promise<Job[]> {
    return this.request('GET', `/schedules/${enc(id)}/runs${query(filter)}`);
  }

  // ---- files ---------------------------------------------------------------------------------------

  /** Uploads a file (multipart) for jobs to read (`config.file1`, …). */
  async uploadFile(name: string, content: Blob | Uint8Array | string): Promise<UploadedFile> {
    const form = new FormData();
    const blob = content instanceof Blob ? content : new Blob([content as string]);
    form.append('file', blob, name);
    const response = await this.send('POST', '/files', { form });
    return (await response.json()) as UploadedFile;
  }
  listFiles(): Promise<UploadedFile[]> {
    return this.request('GET', '/files');
  }
  getFile(fileId: string): Promise<UploadedFile> {
    return this.request('GET', `/files/${enc(fileId)}`);
  }
  deleteFile(fileId: string): Promise<unknown> {
    return this.request('DELETE', `/files/${enc(fileId)}`);
  }

  // ---- the transport -------------------------------------------------------------------------------

  private async request<T>(
    method: Method,
    path: string,
    options: { body?: unknown; headers?: Record<string, string>; retry?: boolean } = {},
  ): Promise<T> {
    const response = await this.send(method, path, options);
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * One request, retried on 503 and connection errors when it is safe: reads, PUTs, and POSTs marked
   * `retry` (a submit carries its Idempotency-Key). Any other answer ≥ 400 is a JobEngineError.
   */
  private async send(
    method: Method,
    path: string,
    options: { body?: unknown; form?: FormData; headers?: Record<string, string>; retry?: boolean } = {},
  ): Promise<Response> {
    const retryable = method === 'GET' || method === 'PUT' || options.retry === true;
    const attempts = retryable ? (this.options.maxAttempts ?? 4) : 1;
    for (let attempt = 1; ; attempt++) {
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), this.options.requestTimeoutMs ?? 30_000);
      try {
        const response = await this.fetch(`${this.base}${path}`, {
          method,
          headers: {
            ...this.auth(),
            ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...options.headers,
          },
          body: options.form ?? (options.body !== undefined ? JSON.stringify(options.body) : undefined),
          signal: abort.signal,
        });
        if (response.ok) return response;
        if (response.status === 503 && attempt < attempts) {
          await response.body?.cancel();
          await sleep(this.backoff(attempt));
          continue;
        }
        throw await errorOf(response);
      } catch (error) {
        if (error instanceof JobEngineError) throw error;
        if (attempt >= attempts)
          throw new JobEngineError(0, 'Connection error', `${method} ${path}: ${(error as Error).message}`, 'unavailable');
        await sleep(this.backoff(attempt));
      } finally {
        clearTimeout(timer);
      }
    }
  }

  private auth(): Record<string, string> {
    return this.options.token ? { authorization: `Bearer ${this.options.token}` } : {};
  }

  private backoff(attempt: number): number {
    const base = (this.options.retryBaseMs ?? 200) * 2 ** (attempt - 1);
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }

  /** Whether the job's own stream already holds its end (the read model may trail the log). */
  private async endedInLog(jobId: string): Promise<boolean> {
    const events = await this.jobEvents(jobId);
    return events.some((e) => ['JobCompleted', 'JobFailed', 'JobCancelled', 'JobTerminated', 'JobTimedOut'].includes(e.type));
  }

  /** The job once GET shows it final (the read model follows the log within moments). */
  private async finalJob(jobId: string): Promise<Job> {
    for (let i = 0; ; i++) {
      const job = await this.getJob(jobId);
      if (FINAL_JOB_STATUSES.includes(job.status) || i >= 100) return job;
      await sleep(20);
    }
  }
}

const enc = encodeURIComponent;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function query(params: Record<string, unknown>): string {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined && v !== null);
  return entries.length ? `?${new URLSearchParams(entries.map(([k, v]): [string, string] => [k, String(v)])).toString()}` : '';
}

async function errorOf(response: Response): Promise<JobEngineError> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: string; details?: string };
    return new JobEngineError(response.status, body.error ?? response.statusText, body.details ?? text);
  } catch {
    return new JobEngineError(response.status, response.statusText, text);
  }
}

/** The messages of a text/event-stream body. */
async function* serverSentEvents(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<{ id?: string; event?: string; data: string }> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const message: { id?: string; event?: string; data: string } = { data: '' };
      for (const line of block.split('\n')) {
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        const field = line.slice(0, colon);
        const value = line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') message.id = value;
        else if (field === 'event') message.event = value;
        else if (field === 'data') message.data += value;
      }
      if (message.event || message.data) yield message;
    }
  }
}
