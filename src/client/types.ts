/**
 * The API's shapes, as TypeScript types inferred from the zod schemas the server validates with
 * (type-only imports: the client loads none of the server's code). Request bodies use `z.input` (fields
 * with a server default are optional), queries `Partial<z.infer>` (their numbers are coerced from
 * text), responses `z.infer`. The few shapes the server does not export
 * a schema for are written out below, each noting its route.
 */
import type { z } from 'zod';
import type {
  CleanupQuery,
  CleanupResponse,
  ControlBody,
  JobEventResource,
  JobResource,
  JobStats,
  JobStatusEnum,
  ListJobsQuery,
  PoolPendingResponse,
  PoolResource,
  PriorityBody,
  PutPoolBody,
  SubmitJobBody,
  SubmitJobResponse,
  SuccessResponse,
  PendingResponse,
} from '../api/schemas.js';
import type {
  CreateScheduleBody,
  ListSchedulesQuery,
  ScheduleCreatedResponse,
  ScheduleResource,
  ScheduleRunsQuery,
  ScheduleSuccess,
  TriggerScheduleBody,
  UpdateScheduleBody,
} from '../api/scheduleSchemas.js';
import type { BatchResource, CreateBatchBody } from '../api/routes/batches.js';
import type { BulkBody, BulkResponse } from '../api/routes/bulk.js';
import type { FileResource, ResultFiles as ResultFilesSchema } from '../api/routes/files.js';
import type {
  DeadJob as DeadJobSchema,
  DeadJobsAction,
  DeadJobsPage as DeadJobsPageSchema,
  DeadJobsPurged,
  DeadJobsQuery,
  DeadJobsRetried,
  TimeseriesQuery,
  TimeseriesResponse,
  WorkersResponse,
} from '../api/operationsSchemas.js';

export type Job = z.infer<typeof JobResource>;
export type JobStatus = z.infer<typeof JobStatusEnum>;
export type SubmitJobRequest = z.input<typeof SubmitJobBody>;
export type SubmitJobResult = z.infer<typeof SubmitJobResponse>;
/** Filters of GET /jobs/list (without the cursor, which the iterator follows). */
export type ListJobsFilter = Omit<Partial<z.infer<typeof ListJobsQuery>>, 'cursor'>;
export type JobStatsResult = z.infer<typeof JobStats>;
export type JobEvent = z.infer<typeof JobEventResource>;
export type ControlRequest = z.input<typeof ControlBody>;
export type PriorityRequest = z.input<typeof PriorityBody>;
export type SuccessResult = z.infer<typeof SuccessResponse>;
export type CleanupOptions = Partial<z.infer<typeof CleanupQuery>>;
/** 202: handed to Temporal, not done yet (no worker ran it within the engine's wait); it happens when one does. */
export type PendingResult = z.infer<typeof PendingResponse>;
export type CleanupResult = z.infer<typeof CleanupResponse>;

export type Pool = z.infer<typeof PoolResource>;
/** 202 of putPool: the limit change was sent, the pool's workflow has not taken it yet; `pool` as it is. */
export type PoolPendingResult = z.infer<typeof PoolPendingResponse>;
export type PutPoolRequest = z.input<typeof PutPoolBody>;

export type Batch = z.infer<typeof BatchResource>;
export type BatchStatus = Batch['status'];
export type CreateBatchRequest = z.input<typeof CreateBatchBody>;

/** POST /jobs/bulk: one action on many jobs (by ids or by filter), an outcome per job. */
export type BulkRequest = z.input<typeof BulkBody>;
export type BulkResult = z.infer<typeof BulkResponse>;

/** An uploaded file (POST /files, GET /files/{id}). */
export type StoredFileInfo = z.infer<typeof FileResource>;
/** GET /jobs/{id}/files → 200. */
export type ResultFiles = z.infer<typeof ResultFilesSchema>;

export type Schedule = z.infer<typeof ScheduleResource>;
export type CreateScheduleRequest = z.input<typeof CreateScheduleBody>;
export type UpdateScheduleRequest = z.input<typeof UpdateScheduleBody>;
export type TriggerScheduleRequest = z.input<typeof TriggerScheduleBody>;
export type ScheduleSuccessResult = z.infer<typeof ScheduleSuccess>;
/** POST /schedules: 201 the schedule, or 202 `{schedule_id, message}` when the read model is behind. */
export type CreateScheduleResult = Schedule | z.infer<typeof ScheduleCreatedResponse>;
export type ListSchedulesOptions = Omit<Partial<z.infer<typeof ListSchedulesQuery>>, 'cursor'>;
export type ScheduleRunsFilter = Omit<Partial<z.infer<typeof ScheduleRunsQuery>>, 'cursor'>;

/** Operations: failed jobs (the dead-letter view), workers, throughput over time. */
export type DeadJob = z.infer<typeof DeadJobSchema>;
export type DeadJobsFilter = Omit<Partial<z.infer<typeof DeadJobsQuery>>, 'cursor'>;
export type DeadJobsPage = z.infer<typeof DeadJobsPageSchema>;
export type DeadJobsRequest = z.input<typeof DeadJobsAction>;
export type DeadJobsRetryResult = z.infer<typeof DeadJobsRetried>;
export type DeadJobsPurgeResult = z.infer<typeof DeadJobsPurged>;
export type WorkersResult = z.infer<typeof WorkersResponse>;
export type TimeseriesOptions = Partial<z.infer<typeof TimeseriesQuery>>;
export type TimeseriesResult = z.infer<typeof TimeseriesResponse>;

// ---- Shapes without an exported schema (written out from their routes) ----

/** POST /batches → 201 (src/api/routes/batches.ts). */
export interface CreateBatchResult {
  batch_id: string;
  total: number;
  message: string;
}
/** GET /batches query (src/api/routes/batches.ts). */
export interface ListBatchesOptions {
  status?: BatchStatus;
  limit?: number;
}
/** GET /batches/{id}/jobs query, without the cursor. */
export interface BatchJobsFilter {
  status?: JobStatus;
  limit?: number;
}
/** POST /batches/{id}/pause|resume|cancel and PUT /batches/{id}/priority → 200. */
export interface BatchControlResult {
  success: true;
  message: string;
  batch: Batch;
}
/** POST /batches/{id}/retry-failed → 200. */
export interface RetryFailedResult {
  success: true;
  message: string;
  retried: number;
}
/** GET /batches/{id}/report → 200 (the route declares z.unknown(); this is what it returns). */
export interface BatchReport {
  batch: Batch;
  durations: {
    jobs: number;
    mean: number | null;
    p50: number | null;
    p95: number | null;
    p99: number | null;
    max: number | null;
  };
  slowest_jobs: { job_id: string; name: string; duration: number }[];
  failed_jobs: {
    job_id: string;
    name: string;
    status: string;
    error_message: string | null;
    error_type: string | null;
    attempts: number;
  }[];
}

/** DELETE /files/{id} → 200. */
export interface DeleteFileResult {
  success: true;
  freed_bytes: number;
}

/** One message of GET /jobs/events (src/api/routes/jobEvents.ts): its data, with the message's id. */
export interface JobStreamEvent {
  /** The event's global position (the SSE id; what Last-Event-ID resumes after). */
  position: number;
  job_id: string;
  version: number;
  type: string;
  data: any;
  metadata: Record<string, unknown>;
  recorded_at: string;
}

/** A page of a cursor-paged list. */
export interface Page<T> {
  items: T[];
  /** The X-Next-Cursor header: pass it as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}
