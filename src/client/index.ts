/**
 * A typed client of the job engine's REST API (/api/v1): every endpoint, typed by the server's zod
 * schemas; retries with backoff and jitter on 503 and connection errors (idempotent requests only,
 * and submit, which sends an Idempotency-Key); `waitForCompletion` follows the SSE stream.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import {
  JobEngineError,
  JobEngineNetworkError,
  JobEngineTimeoutError,
  NotFoundError,
  errorFromResponse,
  type JobEngineErrorKind,
} from './errors.js';
import { readSse } from './sse.js';
import type {
  Batch,
  BatchControlResult,
  BatchJobsFilter,
  BatchReport,
  BulkRequest,
  BulkResult,
  CleanupOptions,
  CleanupResult,
  PendingResult,
  PoolPendingResult,
  ControlRequest,
  CreateBatchRequest,
  CreateBatchResult,
  CreateScheduleRequest,
  CreateScheduleResult,
  DeadJob,
  DeadJobsFilter,
  DeadJobsPage,
  DeadJobsPurgeResult,
  DeadJobsRequest,
  DeadJobsRetryResult,
  DeleteFileResult,
  Job,
  JobEvent,
  JobStatsResult,
  JobStatus,
  JobStreamEvent,
  ListBatchesOptions,
  ListJobsFilter,
  ListSchedulesOptions,
  Page,
  Pool,
  PutPoolRequest,
  ResultFiles,
  RetryFailedResult,
  Schedule,
  ScheduleRunsFilter,
  ScheduleSuccessResult,
  StoredFileInfo,
  SubmitJobRequest,
  SubmitJobResult,
  SuccessResult,
  TimeseriesOptions,
  TimeseriesResult,
  TriggerScheduleRequest,
  UpdateScheduleRequest,
  WorkersResult,
} from './types.js';

export * from './errors.js';
export * from './types.js';
export { readSse, type SseMessage } from './sse.js';

/** Options of a `JobEngineClient`. */
export interface JobEngineClientOptions {
  /** Where the engine listens, e.g. `http://localhost:3000` (a trailing `/api/v1` is accepted too). */
  baseUrl: string;
  /** A JWT sent as `Authorization: Bearer <token>`; a function is called before every request (token refresh). */
  token?: string | (() => string | Promise<string>);
  /** The fetch implementation; default the global `fetch`. Wrap it to add tracing, proxies or test faults. */
  fetch?: typeof fetch;
  /** Milliseconds a request may take until its response headers arrive (per attempt); default 30,000. 0: none. */
  timeoutMs?: number;
  /** Retries after a 503 or a connection error, for idempotent requests and submit; default 3. 0: none. */
  retries?: number;
  /** The first retry's ceiling in milliseconds; each further retry doubles it (full jitter); default 200. */
  retryBaseDelayMs?: number;
  /** The ceiling of any retry delay (and of an honoured Retry-After), in milliseconds; default 5,000. */
  retryMaxDelayMs?: number;
  /** Headers sent with every request (after the client's own, so they can override them). */
  headers?: Record<string, string>;
  /** SSE reconnects in a row (without a message between) before `events`/`waitForCompletion` give up; default 10. */
  maxReconnects?: number;
}

/** Per call: an abort signal and, for submit, the idempotency key. */
export interface CallOptions {
  /** Aborts the request (and its retries). */
  signal?: AbortSignal;
}

export interface SubmitOptions extends CallOptions {
  /** The Idempotency-Key header; default a random UUID per call (kept across that call's retries). */
  idempotencyKey?: string;
}

export interface WaitOptions extends CallOptions {
  /** Rejects with a JobEngineTimeoutError after this many milliseconds; default: no limit. */
  timeoutMs?: number;
  /** Called on every progress event of the job (JobProgress, JobStepProgress). */
  onProgress?: (progress: WaitProgress) => void;
  /** Called on every event of the job. */
  onEvent?: (event: JobStreamEvent) => void;
}

export interface WaitProgress {
  /** 0..100 when the event says (JobProgress); undefined for in-step progress without a percentage. */
  progress?: number;
  /** The step's message (JobStepProgress). */
  message?: string;
  event: JobStreamEvent;
}

export interface EventStreamOptions extends CallOptions {
  /** Resume after this global position (sent as Last-Event-ID); default: from now. */
  lastEventId?: string | number;
  /** Called each time the stream is (re)connected, with the Last-Event-ID it resumed from. */
  onConnect?: (lastEventId: string | undefined) => void;
}

/** A file to upload: a path on disk, bytes, or a stream (Node Readable or web ReadableStream). */
export type UploadSource =
  string | Uint8Array | ArrayBuffer | Blob | Readable | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

export interface UploadOptions extends CallOptions {
  /** The file's name (the multipart `name` field); default the path's base name, else `upload.bin`. */
  name?: string;
  /** The part's Content-Type; default application/octet-stream. */
  contentType?: string;
}

/** The statuses after which a job does not change by itself. */
export const FINAL_JOB_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled', 'terminated', 'timed_out'];
const FINAL_EVENT_TYPES = new Set(['JobCompleted', 'JobFailed', 'JobCancelled', 'JobTerminated', 'JobTimedOut']);
/** The statuses after which a batch does not change by itself. */
export const FINAL_BATCH_STATUSES: readonly string[] = ['completed', 'failed', 'cancelled'];

type Query = Record<string, string | number | boolean | undefined | null>;

interface RequestSpec {
  query?: Query;
  /** JSON body. */
  json?: unknown;
  /** A raw body (uploads): sent as is, never retried. */
  body?: ReadableStream<Uint8Array>;
  headers?: Record<string, string>;
  /** Retry on 503 and connection errors. Default: GET, PUT, DELETE. */
  retry?: boolean;
  /** Return as soon as the headers arrive (the body is the caller's to read). */
  stream?: boolean;
  signal?: AbortSignal;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

const enc = encodeURIComponent;

/** The typed client. One instance per base URL and token; safe to share. */
export class JobEngineClient {
  readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly options: Required<
    Pick<JobEngineClientOptions, 'timeoutMs' | 'retries' | 'retryBaseDelayMs' | 'retryMaxDelayMs' | 'maxReconnects'>
  >;

  constructor(private readonly config: JobEngineClientOptions) {
    this.baseUrl = config.baseUrl.replace(/\/+$/, '').replace(/\/api\/v1$/, '') + '/api/v1';
    this.fetchImpl = config.fetch ?? ((...args) => fetch(...args));
    this.options = {
      timeoutMs: config.timeoutMs ?? 30_000,
      retries: config.retries ?? 3,
      retryBaseDelayMs: config.retryBaseDelayMs ?? 200,
      retryMaxDelayMs: config.retryMaxDelayMs ?? 5_000,
      maxReconnects: config.maxReconnects ?? 10,
    };
  }

  // ---------------------------------------------------------------- jobs

  /** POST /jobs/submit, with an Idempotency-Key (random unless given), retried safely. */
  async submit(job: SubmitJobRequest, options: SubmitOptions = {}): Promise<SubmitJobResult & { status: number }> {
    const key = options.idempotencyKey ?? randomUUID();
    const { response, text } = await this.request('POST', '/jobs/submit', {
      json: job,
      headers: { 'idempotency-key': key },
      retry: true,
      signal: options.signal,
    });
    return { ...(JSON.parse(text) as SubmitJobResult), status: response.status };
  }

  /** GET /jobs/{id}. */
  getJob(jobId: string, options: CallOptions = {}): Promise<Job> {
    return this.json('GET', `/jobs/${enc(jobId)}`, { signal: options.signal });
  }

  /** One page of GET /jobs/list. */
  listJobsPage(filter: ListJobsFilter & { cursor?: string } = {}, options: CallOptions = {}): Promise<Page<Job>> {
    return this.page('/jobs/list', filter, options);
  }

  /** Every job matching the filter, newest first, page after page (X-Next-Cursor). `limit` is the page size. */
  listJobs(filter: ListJobsFilter = {}, options: CallOptions = {}): AsyncGenerator<Job> {
    return this.iterate((cursor) => this.listJobsPage({ ...filter, cursor }, options));
  }

  /** GET /jobs/stats. */
  stats(options: CallOptions = {}): Promise<JobStatsResult> {
    return this.json('GET', '/jobs/stats', options);
  }

  /** GET /jobs/{id}/events: the job's recorded events (its audit trail). */
  jobHistory(jobId: string, options: CallOptions = {}): Promise<JobEvent[]> {
    return this.json('GET', `/jobs/${enc(jobId)}/events`, options);
  }

  /** POST /jobs/{id}/pause. `pending: true` in the answer (a 202): sent, and the job's workflow has
   * not taken it within the engine's CONTROL_WAIT_MS (no worker ran it); it takes effect when one does.
   * The same holds for resume, cancel, setPriority and controlBatch. */
  pause(jobId: string, body: ControlRequest = {}, options: CallOptions = {}): Promise<SuccessResult> {
    return this.json('POST', `/jobs/${enc(jobId)}/pause`, { json: body, signal: options.signal });
  }
  /** POST /jobs/{id}/resume. */
  resume(jobId: string, body: ControlRequest = {}, options: CallOptions = {}): Promise<SuccessResult> {
    return this.json('POST', `/jobs/${enc(jobId)}/resume`, { json: body, signal: options.signal });
  }
  /** POST /jobs/{id}/cancel. */
  cancel(jobId: string, body: ControlRequest = {}, options: CallOptions = {}): Promise<SuccessResult> {
    return this.json('POST', `/jobs/${enc(jobId)}/cancel`, { json: body, signal: options.signal });
  }
  /** POST /jobs/{id}/terminate. */
  terminate(jobId: string, body: ControlRequest = {}, options: CallOptions = {}): Promise<SuccessResult> {
    return this.json('POST', `/jobs/${enc(jobId)}/terminate`, { json: body, signal: options.signal });
  }
  /** POST /jobs/{id}/retry: run a failed or cancelled job again. */
  retry(jobId: string, options: CallOptions = {}): Promise<SuccessResult> {
    return this.json('POST', `/jobs/${enc(jobId)}/retry`, { signal: options.signal });
  }
  /** PUT /jobs/{id}/priority. */
  setPriority(jobId: string, priority: number, reason?: string, options: CallOptions = {}): Promise<SuccessResult> {
    return this.json('PUT', `/jobs/${enc(jobId)}/priority`, { json: { priority, reason }, signal: options.signal });
  }
  /** DELETE /jobs/{id}: a finished job, with its result files. */
  deleteJob(jobId: string, options: CallOptions = {}): Promise<SuccessResult> {
    return this.json('DELETE', `/jobs/${enc(jobId)}`, options);
  }
  /** POST /jobs/cleanup?max_age_hours=. */
  cleanup(query: CleanupOptions = {}, options: CallOptions = {}): Promise<CleanupResult | PendingResult> {
    return this.json('POST', '/jobs/cleanup', { query: { max_age_hours: query.max_age_hours }, signal: options.signal });
  }
  /** POST /jobs/bulk: one action on many jobs. */
  bulk(request: BulkRequest, options: CallOptions = {}): Promise<BulkResult> {
    return this.json('POST', '/jobs/bulk', { json: request, signal: options.signal });
  }

  /**
   * GET /jobs/events?job_id=&batch_id=: live job events, reconnecting with Last-Event-ID after a dropped
   * connection (none missed, none twice). Ends only when `signal` aborts or reconnecting fails.
   */
  async *events(
    filter: { job_id?: string; batch_id?: string } = {},
    options: EventStreamOptions = {},
  ): AsyncGenerator<JobStreamEvent> {
    let lastEventId = options.lastEventId === undefined ? undefined : String(options.lastEventId);
    // Connections in a row that brought no message: each waits longer; too many and the stream gives up.
    let failures = 0;
    for (;;) {
      let failure: unknown = new JobEngineNetworkError(0, 'Stream ended', 'the event stream ended', { kind: 'network' });
      try {
        const { response } = await this.request('GET', '/jobs/events', {
          query: filter,
          headers: { accept: 'text/event-stream', ...(lastEventId !== undefined ? { 'last-event-id': lastEventId } : {}) },
          stream: true,
          signal: options.signal,
        });
        options.onConnect?.(lastEventId);
        if (response.body) {
          for await (const message of readSse(response.body)) {
            failures = 0;
            if (message.id !== undefined) lastEventId = message.id;
            const data = JSON.parse(message.data) as Omit<JobStreamEvent, 'position'>;
            yield { position: Number(message.id), ...data };
          }
        }
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason ?? error;
        if (error instanceof JobEngineError && error.status >= 400 && error.status < 500) throw error;
        failure = error;
      }
      if (options.signal?.aborted) throw options.signal.reason;
      // The stream ended or broke: reconnect from lastEventId, at once after a stream that brought
      // messages, with a growing pause after one that did not.
      if (++failures > this.options.maxReconnects) throw failure;
      await sleep(failures === 1 ? 0 : this.backoff(failures - 2), options.signal);
    }
  }

  /**
   * Resolves with the job once it is completed, failed, cancelled, terminated or timed out, following
   * the SSE stream (GET /jobs/events?job_id=) rather than polling; a dropped stream is resumed with
   * Last-Event-ID. Rejects with NotFoundError for an unknown (or deleted) job and JobEngineTimeoutError
   * after `timeoutMs`.
   */
  async waitForCompletion(jobId: string, options: WaitOptions = {}): Promise<Job> {
    return this.followEvents(`job ${jobId}`, { job_id: jobId }, options, async ({ signal, nextEvent }) => {
      const job = await this.getJob(jobId, { signal });
      if (isFinal(job.status)) return job;
      for (;;) {
        const event = await nextEvent();
        options.onEvent?.(event);
        if (event.type === 'JobProgress' || event.type === 'JobStepProgress') {
          options.onProgress?.({
            progress: typeof event.data?.progress === 'number' ? event.data.progress : undefined,
            message: typeof event.data?.message === 'string' ? event.data.message : undefined,
            event,
          });
        }
        if (event.type === 'JobDeleted') throw new NotFoundError(404, 'Not Found', `Job ${jobId} was deleted`);
        if (FINAL_EVENT_TYPES.has(event.type)) return await this.finalJob(jobId, signal);
      }
    });
  }

  /**
   * Runs `body` while following the SSE stream of `filter`: the stream is subscribed before `body`
   * starts (it begins at the log's end, so whatever `body` reads first, nothing falls in between);
   * `timeoutMs` and the caller's signal end it with their reason. Shared by the waits for a job and a
   * batch.
   */
  private async followEvents<T>(
    what: string,
    filter: { job_id?: string; batch_id?: string },
    options: { timeoutMs?: number; signal?: AbortSignal },
    body: (stream: { signal: AbortSignal; nextEvent: () => Promise<JobStreamEvent> }) => Promise<T>,
  ): Promise<T> {
    const controller = new AbortController();
    const onOuterAbort = () => controller.abort(options.signal!.reason);
    options.signal?.addEventListener('abort', onOuterAbort, { once: true });
    const timeout =
      options.timeoutMs !== undefined
        ? setTimeout(
            () =>
              controller.abort(
                new JobEngineTimeoutError(0, 'Timeout', `${what} did not finish within ${options.timeoutMs} ms`, {
                  kind: 'timeout',
                }),
              ),
            options.timeoutMs,
          )
        : undefined;
    const signal = controller.signal;
    const aborted = abortPromise(signal);
    aborted.catch(() => undefined);
    let connected!: () => void;
    const firstConnect = new Promise<void>((resolve) => (connected = resolve));
    const stream = this.events(filter, { signal, onConnect: () => connected() });
    let next = stream.next();
    next.catch(() => undefined);
    const nextEvent = async (): Promise<JobStreamEvent> => {
      const result = await Promise.race([next, aborted]);
      if (result.done) throw new JobEngineError(0, 'Stream ended', `the event stream of ${what} ended`, { kind: 'network' });
      next = stream.next();
      next.catch(() => undefined);
      return result.value;
    };
    try {
      await Promise.race([firstConnect, next, aborted]);
      return await body({ signal, nextEvent });
    } catch (error) {
      if (signal.aborted && signal.reason instanceof Error) throw signal.reason;
      throw error;
    } finally {
      clearTimeout(timeout);
      options.signal?.removeEventListener('abort', onOuterAbort);
      controller.abort();
    }
  }

  /** After its final event: the job as the read model shows it, once the projection caught up. */
  private async finalJob(jobId: string, signal: AbortSignal): Promise<Job> {
    for (let attempt = 0; ; attempt++) {
      const job = await this.getJob(jobId, { signal });
      if (isFinal(job.status) || attempt >= 50) return job;
      await sleep(Math.min(50 * (attempt + 1), 500), signal);
    }
  }

  // ---------------------------------------------------------------- result files

  /** GET /jobs/{id}/files: the job's result files. */
  listResultFiles(jobId: string, options: CallOptions = {}): Promise<ResultFiles> {
    return this.json('GET', `/jobs/${enc(jobId)}/files`, options);
  }

  /** GET /jobs/{id}/files/{name}: the file as a web ReadableStream (with its Response for headers). */
  async downloadResultFile(
    jobId: string,
    name: string,
    options: CallOptions = {},
  ): Promise<{ stream: ReadableStream<Uint8Array>; contentType: string | null; size: number | null; response: Response }> {
    const { response } = await this.request('GET', `/jobs/${enc(jobId)}/files/${enc(name)}`, {
      stream: true,
      signal: options.signal,
    });
    const length = response.headers.get('content-length');
    return {
      stream: response.body ?? new ReadableStream({ start: (c) => c.close() }),
      contentType: response.headers.get('content-type'),
      size: length === null ? null : Number(length),
      response,
    };
  }

  // ---------------------------------------------------------------- uploaded files

  /** POST /files: multipart upload, streamed (from a path, bytes or a stream); never retried. */
  async uploadFile(source: UploadSource, options: UploadOptions = {}): Promise<StoredFileInfo> {
    const name = options.name ?? (typeof source === 'string' ? path.basename(source) : 'upload.bin');
    const boundary = `----job-engine-client-${randomUUID()}`;
    const body = multipartBody(boundary, source, name, options.contentType ?? 'application/octet-stream');
    return this.json('POST', '/files', {
      body,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      signal: options.signal,
    });
  }
  /** GET /files/{id}: an uploaded file's metadata. */
  getFile(fileId: string, options: CallOptions = {}): Promise<StoredFileInfo> {
    return this.json('GET', `/files/${enc(fileId)}`, options);
  }
  /** GET /files: your uploads, newest first. */
  listFiles(options: CallOptions = {}): Promise<StoredFileInfo[]> {
    return this.json('GET', '/files', options);
  }
  /** DELETE /files/{id}. */
  deleteFile(fileId: string, options: CallOptions = {}): Promise<DeleteFileResult> {
    return this.json('DELETE', `/files/${enc(fileId)}`, options);
  }

  // ---------------------------------------------------------------- pools

  /** GET /pools. */
  listPools(options: CallOptions = {}): Promise<Pool[]> {
    return this.json('GET', '/pools', options);
  }
  /** GET /pools/{name}. */
  getPool(name: string, options: CallOptions = {}): Promise<Pool> {
    return this.json('GET', `/pools/${enc(name)}`, options);
  }
  /** PUT /pools/{name} (admins): create a pool or change its limit. The pool with its new limit, or (a
   * 202) `{pending: true, message, pool}` when the pool's workflow did not take the change within the
   * engine's CONTROL_WAIT_MS: sent again as its setLimit signal, it takes effect when the pool runs next. */
  putPool(name: string, body: PutPoolRequest, options: CallOptions = {}): Promise<Pool | PoolPendingResult> {
    return this.json('PUT', `/pools/${enc(name)}`, { json: body, signal: options.signal });
  }

  // ---------------------------------------------------------------- batches

  /** POST /batches (not retried: a second create would make a second batch). */
  createBatch(batch: CreateBatchRequest, options: CallOptions = {}): Promise<CreateBatchResult> {
    return this.json('POST', '/batches', { json: batch, signal: options.signal });
  }
  /** GET /batches: newest first. */
  listBatches(query: ListBatchesOptions = {}, options: CallOptions = {}): Promise<Batch[]> {
    return this.json('GET', '/batches', { query: { ...query }, signal: options.signal });
  }
  /** GET /batches/stats. */
  batchStats(options: CallOptions = {}): Promise<Record<string, number>> {
    return this.json('GET', '/batches/stats', options);
  }
  /** GET /batches/{id}. */
  getBatch(batchId: string, options: CallOptions = {}): Promise<Batch> {
    return this.json('GET', `/batches/${enc(batchId)}`, options);
  }
  /** One page of GET /batches/{id}/jobs. */
  batchJobsPage(
    batchId: string,
    filter: BatchJobsFilter & { cursor?: string } = {},
    options: CallOptions = {},
  ): Promise<Page<Job>> {
    return this.page(`/batches/${enc(batchId)}/jobs`, filter, options);
  }
  /** Every job of the batch, page after page. */
  batchJobs(batchId: string, filter: BatchJobsFilter = {}, options: CallOptions = {}): AsyncGenerator<Job> {
    return this.iterate((cursor) => this.batchJobsPage(batchId, { ...filter, cursor }, options));
  }
  /** GET /batches/{id}/report. */
  batchReport(batchId: string, options: CallOptions = {}): Promise<BatchReport> {
    return this.json('GET', `/batches/${enc(batchId)}/report`, options);
  }
  /** POST /batches/{id}/pause|resume|cancel. */
  controlBatch(
    batchId: string,
    action: 'pause' | 'resume' | 'cancel',
    body: ControlRequest = {},
    options: CallOptions = {},
  ): Promise<BatchControlResult> {
    return this.json('POST', `/batches/${enc(batchId)}/${action}`, { json: body, signal: options.signal });
  }
  /** POST /batches/{id}/retry-failed. */
  retryFailedBatchJobs(batchId: string, options: CallOptions = {}): Promise<RetryFailedResult> {
    return this.json('POST', `/batches/${enc(batchId)}/retry-failed`, { signal: options.signal });
  }
  /** PUT /batches/{id}/priority. */
  setBatchPriority(batchId: string, priority: number, reason?: string, options: CallOptions = {}): Promise<BatchControlResult> {
    return this.json('PUT', `/batches/${enc(batchId)}/priority`, { json: { priority, reason }, signal: options.signal });
  }
  /**
   * Resolves with the batch once it is completed, failed or cancelled. Follows the SSE stream of the
   * batch's job events (GET /jobs/events?batch_id=) and reads the batch after each job's final event.
   */
  async waitForBatch(
    batchId: string,
    options: Omit<WaitOptions, 'onProgress'> & { onProgress?: (batch: Batch) => void } = {},
  ): Promise<Batch> {
    return this.followEvents(`batch ${batchId}`, { batch_id: batchId }, options, async ({ signal, nextEvent }) => {
      for (;;) {
        // The batch's own status is set by its workflow after its last job ended: read it until final.
        const batch = await this.getBatch(batchId, { signal });
        options.onProgress?.(batch);
        if (FINAL_BATCH_STATUSES.includes(batch.status)) return batch;
        if (batch.progress.pending + batch.progress.running + batch.progress.paused === 0) {
          // Every job ended: the batch's own final event follows shortly (it is not a job event).
          await sleep(100, signal);
          continue;
        }
        for (;;) {
          const event = await nextEvent();
          options.onEvent?.(event);
          if (FINAL_EVENT_TYPES.has(event.type)) break;
        }
      }
    });
  }

  // ---------------------------------------------------------------- schedules

  /** POST /schedules (not retried; give `schedule_id` to make a repeat a 409 instead of a twin). */
  createSchedule(schedule: CreateScheduleRequest, options: CallOptions = {}): Promise<CreateScheduleResult> {
    return this.json('POST', '/schedules', { json: schedule, signal: options.signal });
  }
  /** One page of GET /schedules. */
  listSchedulesPage(query: ListSchedulesOptions & { cursor?: string } = {}, options: CallOptions = {}): Promise<Page<Schedule>> {
    return this.page('/schedules', query, options);
  }
  /** Every schedule, page after page. */
  listSchedules(query: ListSchedulesOptions = {}, options: CallOptions = {}): AsyncGenerator<Schedule> {
    return this.iterate((cursor) => this.listSchedulesPage({ ...query, cursor }, options));
  }
  /** GET /schedules/{id}: with Temporal's live info. */
  getSchedule(scheduleId: string, options: CallOptions = {}): Promise<Schedule> {
    return this.json('GET', `/schedules/${enc(scheduleId)}`, options);
  }
  /** PATCH /schedules/{id}. */
  updateSchedule(scheduleId: string, change: UpdateScheduleRequest, options: CallOptions = {}): Promise<Schedule> {
    return this.json('PATCH', `/schedules/${enc(scheduleId)}`, { json: change, signal: options.signal });
  }
  /** DELETE /schedules/{id}. */
  deleteSchedule(scheduleId: string, body: ControlRequest = {}, options: CallOptions = {}): Promise<ScheduleSuccessResult> {
    return this.json('DELETE', `/schedules/${enc(scheduleId)}`, { json: body, signal: options.signal });
  }
  /** POST /schedules/{id}/pause. */
  pauseSchedule(scheduleId: string, body: ControlRequest = {}, options: CallOptions = {}): Promise<ScheduleSuccessResult> {
    return this.json('POST', `/schedules/${enc(scheduleId)}/pause`, { json: body, signal: options.signal });
  }
  /** POST /schedules/{id}/unpause. */
  unpauseSchedule(scheduleId: string, body: ControlRequest = {}, options: CallOptions = {}): Promise<ScheduleSuccessResult> {
    return this.json('POST', `/schedules/${enc(scheduleId)}/unpause`, { json: body, signal: options.signal });
  }
  /** POST /schedules/{id}/trigger: a run now. */
  triggerSchedule(
    scheduleId: string,
    body: TriggerScheduleRequest = {},
    options: CallOptions = {},
  ): Promise<ScheduleSuccessResult> {
    return this.json('POST', `/schedules/${enc(scheduleId)}/trigger`, { json: body, signal: options.signal });
  }
  /** One page of GET /schedules/{id}/runs. */
  scheduleRunsPage(
    scheduleId: string,
    filter: ScheduleRunsFilter & { cursor?: string } = {},
    options: CallOptions = {},
  ): Promise<Page<Job>> {
    return this.page(`/schedules/${enc(scheduleId)}/runs`, filter, options);
  }
  /** Every run of the schedule (jobs), newest first. */
  scheduleRuns(scheduleId: string, filter: ScheduleRunsFilter = {}, options: CallOptions = {}): AsyncGenerator<Job> {
    return this.iterate((cursor) => this.scheduleRunsPage(scheduleId, { ...filter, cursor }, options));
  }

  // ---------------------------------------------------------------- operations

  /** One page of GET /jobs/dead: failed jobs with last_error, attempts, failed_at; `total` counts every page. */
  deadJobsPage(filter: DeadJobsFilter & { cursor?: string } = {}, options: CallOptions = {}): Promise<DeadJobsPage> {
    return this.json('GET', '/jobs/dead', { query: filter as Query, signal: options.signal });
  }
  /** Every failed job matching the filter, newest first, page after page. */
  deadJobs(filter: DeadJobsFilter = {}, options: CallOptions = {}): AsyncGenerator<DeadJob> {
    return this.iterate(async (cursor) => {
      const page = await this.deadJobsPage({ ...filter, cursor }, options);
      return { items: page.jobs, nextCursor: page.next_cursor };
    });
  }
  /** POST /jobs/dead/retry: the failed jobs named or matching the filter, each as a new run. */
  retryDeadJobs(request: DeadJobsRequest, options: CallOptions = {}): Promise<DeadJobsRetryResult> {
    return this.json('POST', '/jobs/dead/retry', { json: request, signal: options.signal });
  }
  /** POST /jobs/dead/purge: deletes the failed jobs named or matching the filter (tombstones in the log). */
  purgeDeadJobs(request: DeadJobsRequest, options: CallOptions = {}): Promise<DeadJobsPurgeResult | PendingResult> {
    return this.json('POST', '/jobs/dead/purge', { json: request, signal: options.signal });
  }
  /** GET /workers (admins): the worker processes of the engine's task queues. */
  workers(options: CallOptions = {}): Promise<WorkersResult> {
    return this.json('GET', '/workers', options);
  }
  /** GET /stats/timeseries: jobs submitted, completed, failed … per bucket. */
  timeseries(query: TimeseriesOptions = {}, options: CallOptions = {}): Promise<TimeseriesResult> {
    return this.json('GET', '/stats/timeseries', { query: query as Query, signal: options.signal });
  }

  // ---------------------------------------------------------------- plumbing

  private async json<T>(method: string, path: string, spec: RequestSpec = {}): Promise<T> {
    const { text } = await this.request(method, path, spec);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private async page<T>(path: string, query: object, options: CallOptions): Promise<Page<T>> {
    const { response, text } = await this.request('GET', path, { query: query as Query, signal: options.signal });
    return { items: JSON.parse(text) as T[], nextCursor: response.headers.get('x-next-cursor') };
  }

  private async *iterate<T>(load: (cursor: string | undefined) => Promise<Page<T>>): AsyncGenerator<T> {
    let cursor: string | undefined;
    do {
      const page = await load(cursor);
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  /** Full-jitter exponential backoff: a random delay up to base·2^attempt, capped. */
  private backoff(attempt: number): number {
    const ceiling = Math.min(this.options.retryMaxDelayMs, this.options.retryBaseDelayMs * 2 ** attempt);
    return Math.round(Math.random() * ceiling);
  }

  /**
   * One API call with its retries. Throws JobEngineError (a subclass per status) for a non-2xx answer,
   * JobEngineNetworkError / JobEngineTimeoutError when no answer came.
   */
  private async request(method: string, path: string, spec: RequestSpec): Promise<{ response: Response; text: string }> {
    const url = new URL(this.baseUrl + path);
    for (const [key, value] of Object.entries(spec.query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    }
    const retryable = spec.body === undefined && (spec.retry ?? ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'].includes(method));
    const maxAttempts = retryable ? this.options.retries + 1 : 1;
    const where = { method, url: url.toString() };
    for (let attempt = 0; ; attempt++) {
      const token = typeof this.config.token === 'function' ? await this.config.token() : this.config.token;
      const headers: Record<string, string> = {
        accept: 'application/json',
        ...(spec.json !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...this.config.headers,
        ...spec.headers,
      };
      const timer = new AbortController();
      const timeout =
        this.options.timeoutMs > 0
          ? setTimeout(
              () =>
                timer.abort(
                  new JobEngineTimeoutError(0, 'Timeout', `no answer within ${this.options.timeoutMs} ms`, {
                    kind: 'timeout',
                    ...where,
                  }),
                ),
              this.options.timeoutMs,
            )
          : undefined;
      const signal = spec.signal ? AbortSignal.any([spec.signal, timer.signal]) : timer.signal;
      let failure: JobEngineError;
      let retryAfterMs: number | undefined;
      try {
        const init: RequestInit & { duplex?: 'half' } = {
          method,
          headers,
          signal,
          body: spec.json !== undefined ? JSON.stringify(spec.json) : spec.body,
        };
        if (spec.body instanceof ReadableStream) init.duplex = 'half';
        const response = await this.fetchImpl(url, init);
        if (response.ok && spec.stream) {
          clearTimeout(timeout);
          return { response, text: '' };
        }
        const text = await response.text();
        clearTimeout(timeout);
        if (response.ok) return { response, text };
        failure = errorFromResponse(response.status, response.statusText, text, where);
        if (response.status !== 503) throw failure;
        const retryAfter = Number(response.headers.get('retry-after'));
        if (Number.isFinite(retryAfter) && retryAfter > 0)
          retryAfterMs = Math.min(retryAfter * 1000, this.options.retryMaxDelayMs);
      } catch (error) {
        clearTimeout(timeout);
        if (error instanceof JobEngineError && error.status !== 0 && error.status !== 503) throw error;
        if (spec.signal?.aborted) throw spec.signal.reason ?? error;
        failure =
          error instanceof JobEngineError
            ? error
            : timer.signal.aborted
              ? (timer.signal.reason as JobEngineError)
              : new JobEngineNetworkError(0, 'Network error', (error as Error)?.message ?? String(error), {
                  kind: 'network' satisfies JobEngineErrorKind,
                  cause: error,
                  ...where,
                });
      }
      if (attempt + 1 >= maxAttempts) throw failure;
      await sleep(retryAfterMs ?? this.backoff(attempt), spec.signal);
    }
  }
}

const isFinal = (status: string) => (FINAL_JOB_STATUSES as readonly string[]).includes(status);

/** A promise that rejects when the signal aborts (never resolves). */
function abortPromise(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** A multipart/form-data body with one file part (field `file`) and a `name` field, streamed. */
function multipartBody(boundary: string, source: UploadSource, name: string, contentType: string): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const quoted = name.replace(/["\r\n\\]/g, '_');
  const head = encoder.encode(
    `--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\n${name}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${quoted}"\r\nContent-Type: ${contentType}\r\n\r\n`,
  );
  const tail = encoder.encode(`\r\n--${boundary}--\r\n`);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    yield head;
    if (typeof source === 'string') yield* createReadStream(source) as AsyncIterable<Uint8Array>;
    else if (source instanceof Uint8Array) yield source;
    else if (source instanceof ArrayBuffer) yield new Uint8Array(source);
    else if (typeof Blob !== 'undefined' && source instanceof Blob)
      yield* source.stream() as unknown as AsyncIterable<Uint8Array>;
    else yield* source as AsyncIterable<Uint8Array>;
    yield tail;
  }
  const iterator = chunks();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await iterator.next();
      if (done) controller.close();
      else controller.enqueue(typeof value === 'string' ? encoder.encode(value) : value);
    },
    async cancel(reason) {
      await iterator.throw?.(reason).catch(() => undefined);
    },
  });
}
