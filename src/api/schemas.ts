/** One zod schema per payload: they validate requests, type handlers and generate the OpenAPI document. */
import { z } from '@hono/zod-openapi';
import {
  DEPENDENCY_CONDITIONS,
  JOB_STATUSES,
  MAX_POOL_LIMIT,
  MAX_POOL_WEIGHT,
  MAX_PRIORITY,
  MIN_PRIORITY,
  POOL_NAME_PATTERN,
  PRIORITY_RANGE_MESSAGE,
} from '../domain/index.js';
import { CallbackUrl } from './webhookSchemas.js';

export const JobId = z.string().min(1).max(200).openapi({ example: 'job_3f1c2b7e-8a9d-4c1e-9a57-2d3b4c5d6e7f' });
export const JobIdParam = z.object({ job_id: JobId.openapi({ param: { name: 'job_id', in: 'path' } }) });

// The domain owns the bounds and the sentence; every priority field and filter uses these two.
const priorityError = { error: PRIORITY_RANGE_MESSAGE };
export const Priority = z
  .number(priorityError)
  .int(priorityError)
  .min(MIN_PRIORITY, priorityError)
  .max(MAX_PRIORITY, priorityError);
const PriorityFilter = z.coerce
  .number(priorityError)
  .int(priorityError)
  .min(MIN_PRIORITY, priorityError)
  .max(MAX_PRIORITY, priorityError);

export const PoolName = z
  .string()
  .regex(POOL_NAME_PATTERN, { error: 'a pool name is 1-63 characters: a-z, 0-9, _ . - (starting with a letter or digit)' })
  .openapi({ example: 'gpu' });

export const DependsOn = z
  .array(
    z
      .object({
        job_id: z.string().min(1).max(200),
        condition: z.enum(DEPENDENCY_CONDITIONS).default('succeeded').openapi({
          description: 'succeeded (default): it completed; finished: it ended in any way; failed: it ended without completing',
        }),
      })
      .strict(),
  )
  .max(100)
  .openapi({ description: 'Jobs that must reach a state before this one starts (it is `blocked` until then).' });

/** Scheduling fields shared by a job submit and a batch item. */
const schedulingFields = {
  pool: PoolName.optional().openapi({
    description: "Resource pool whose slot the job holds while it runs; default: the type's, else `default`.",
  }),
  weight: z
    .number()
    .int()
    .min(1)
    .max(MAX_POOL_WEIGHT)
    .optional()
    .openapi({ description: 'Slots of the pool the job takes (default 1).' }),
  depends_on: DependsOn.optional(),
  scheduled_at: z.iso
    .datetime({
      offset: true,
      error: 'scheduled_at must be an ISO 8601 date-time with an offset, e.g. 2026-12-01T09:00:00+01:00',
    })
    .optional()
    .openapi({ description: 'The job waits as `scheduled` until then (a durable timer). Not with delay_seconds.' }),
};

/** A job's own metadata (small JSON) and tags, at submit. */
export const Metadata = z
  .record(z.string(), z.unknown())
  .refine((m) => JSON.stringify(m).length <= 8192, { error: 'metadata: at most 8 KiB as JSON' })
  .openapi({ description: 'Small JSON of your own (≤ 8 KiB), returned by GET and kept in the events.' });
export const Tags = z
  .array(
    z
      .string()
      .min(1)
      .max(64)
      .regex(/^[^,]+$/, { error: 'a tag has no commas' }),
  )
  .max(20)
  .openapi({ description: 'Up to 20 labels; filter with GET /jobs/list?tag=' });
export const RetryOverrides = z
  .object({
    max_attempts: z.number().int().min(1).max(100).optional(),
    initial_interval_ms: z.number().int().min(1).max(3_600_000).optional(),
    backoff_coefficient: z.number().min(1).max(10).optional(),
    max_interval_ms: z.number().int().min(1).max(86_400_000).optional(),
    jitter: z.number().min(0).max(1).optional(),
  })
  .strict()
  .openapi({ description: "Overrides of the job type's retry settings for this job." });

/** RetryOverrides (snake_case) → RetrySettings fields. */
export const retrySettingsOf = (r: z.infer<typeof RetryOverrides> | undefined) =>
  r && {
    ...(r.max_attempts !== undefined ? { maxAttempts: r.max_attempts } : {}),
    ...(r.initial_interval_ms !== undefined ? { initialIntervalMs: r.initial_interval_ms } : {}),
    ...(r.backoff_coefficient !== undefined ? { backoffCoefficient: r.backoff_coefficient } : {}),
    ...(r.max_interval_ms !== undefined ? { maxIntervalMs: r.max_interval_ms } : {}),
    ...(r.jitter !== undefined ? { jitter: r.jitter } : {}),
  };

export const SubmitJobBody = z
  .object({
    ...schedulingFields,
    metadata: Metadata.optional(),
    tags: Tags.optional(),
    retry: RetryOverrides.optional(),
    callback_url: CallbackUrl.optional(),
    name: z.string().min(1).max(200).openapi({ example: 'nightly export' }),
    type: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .openapi({ example: 'sleep', description: 'Job type; the server default when left out.' }),
    input: z
      .record(z.string(), z.unknown())
      .optional()
      .openapi({ example: { steps: 3, step_ms: 500 } }),
    config: z.record(z.string(), z.unknown()).optional().openapi({ description: 'Alias of input.' }),
    priority: Priority.default(2).openapi({ description: '1 low, 2 normal, 3 high, 4 urgent' }),
    timeout_seconds: z
      .number()
      .min(1, { error: 'must be at least 1 second (leave it out for no timeout)' })
      .max(30 * 24 * 3600)
      .optional()
      .openapi({
        description: 'Limit of running time, 1 s to 30 days; paused time does not count. Leave it out for no timeout.',
      }),
    delay_seconds: z
      .number()
      .min(0)
      .max(365 * 24 * 3600)
      .optional()
      .openapi({ description: 'The job stays pending this long before it starts.' }),
  })
  .strict()
  .openapi('SubmitJobRequest');

export const SubmitJobResponse = z.object({ job_id: JobId, message: z.string() }).openapi('SubmitJobResponse');

export const JobStatusEnum = z.enum(JOB_STATUSES);

export const JobResource = z
  .object({
    id: JobId,
    name: z.string(),
    type: z.string(),
    status: JobStatusEnum,
    priority: z.number().int(),
    created_at: z.string(),
    started_at: z.string().nullable(),
    completed_at: z.string().nullable(),
    progress: z.number().int().min(0).max(100),
    message: z.string().nullable(),
    error_message: z.string().nullable(),
    result_files: z.array(z.string()),
    user_id: z.string(),
    duration: z.number().nullable().openapi({ description: 'Seconds from start to end (or to now).' }),
    estimated_remaining: z.number().nullable().openapi({ description: 'Seconds, from measured step durations.' }),
    pool: z.string().nullable(),
    weight: z.number().int().nullable(),
    scheduled_at: z.string().nullable().openapi({ description: 'When a scheduled job may start.' }),
    depends_on: z
      .array(z.object({ job_id: z.string(), condition: z.string(), state: z.enum(['waiting', 'met', 'impossible']) }))
      .openapi({ description: 'Its dependencies and where each stands.' }),
    blocked_by: z.array(z.string()).openapi({ description: 'The dependencies it still waits for.' }),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    tags: z.array(z.string()),
    batch_id: z.string().nullable(),
    schedule_id: z.string().nullable().openapi({ description: 'The schedule whose run this job is, else null' }),
    attempts: z.number().int(),
    max_attempts: z.number().int(),
    current_step: z.number().int().nullable(),
    completed_steps: z.number().int(),
    total_steps: z.number().int(),
    next_retry_at: z.string().nullable(),
    error_type: z.string().nullable(),
    paused_at: z.string().nullable(),
    updated_at: z.string(),
    input: z.unknown(),
    result: z.unknown(),
  })
  .openapi('Job');

export const ListJobsQuery = z.object({
  status: JobStatusEnum.or(z.literal('waiting')).optional().openapi({
    description: 'One status, or `waiting`: every job not started yet (pending, blocked, scheduled, queued, retrying).',
  }),
  pool: PoolName.optional(),
  tag: z.string().max(64).optional().openapi({ description: 'Jobs with this tag' }),
  owner: z
    .string()
    .max(200)
    .optional()
    .openapi({ description: "Jobs of this user (admins; a user's list holds only their own jobs whatever it says)" }),
  type: z.string().optional(),
  priority: PriorityFilter.optional().openapi({ description: '1 low … 4 urgent' }),
  batch_id: z.string().optional(),
  schedule_id: z.string().optional().openapi({ description: 'Only the runs of this schedule' }),
  created_after: z.iso.datetime({ offset: true }).optional(),
  created_before: z.iso.datetime({ offset: true }).optional(),
  name: z.string().max(200).optional().openapi({ description: 'Name contains (case-sensitive)' }),
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  cursor: z.string().max(500).optional().openapi({ description: 'From the X-Next-Cursor header of the previous page' }),
});

/** `{name: z.number().int(), …}`: a set of counters (stats, progress). */
export const counters = <K extends string>(...names: K[]) =>
  z.object(Object.fromEntries(names.map((n) => [n, z.number().int()])) as Record<K, z.ZodNumber>);

export const JobStats = counters('total_jobs', ...JOB_STATUSES, 'waiting', 'active_workers', 'total_workers')
  .extend({
    queued_by_pool: z.record(z.string(), z.number().int()).openapi({ description: 'Queued jobs per pool.' }),
    queued_by_priority: z.record(z.string(), z.number().int()).openapi({ description: 'Queued jobs per priority (1..4).' }),
  })
  .openapi('JobStats');

export const PoolParam = z.object({ name: PoolName.openapi({ param: { name: 'name', in: 'path' } }) });
export const PoolResource = z
  .object({
    name: z.string(),
    limit: z.number().int(),
    used: z.number().int().openapi({ description: 'Slots held by running jobs (their weights).' }),
    running: z.number().int(),
    queued: z.number().int(),
    queued_by_priority: z.record(z.string(), z.number().int()),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Pool');
export const PutPoolBody = z
  .object({
    limit: z
      .number()
      .int()
      .min(0)
      .max(MAX_POOL_LIMIT)
      .openapi({ description: 'Concurrent slots; 0 holds every job of the pool in line.' }),
    reason: z.string().max(1000).optional(),
  })
  .strict()
  .openapi('PutPoolRequest');

export const ControlBody = z
  .object({ reason: z.string().max(1000).optional() })
  .strict()
  .openapi('ControlRequest');

export const PriorityBody = z
  .object({ priority: Priority, reason: z.string().max(1000).optional() })
  .strict()
  .openapi('PriorityRequest');

/** Set (answered 202) when a control was sent and its workflow has not taken it yet. */
export const ControlPending = z
  .literal(true)
  .optional()
  .openapi({
    description:
      'Answered 202: the control was sent, and its workflow has not taken it within CONTROL_WAIT_MS (no worker ran it ' +
      "meanwhile). It is sent again as a signal (kept in the workflow's history, taken once with the Update) and takes " +
      'effect when the workflow runs next, a Temporal restart included (the message says so; if the signal could not ' +
      'be sent either, it says the control may be lost); GET to see. ' +
      'The body shows the state before it.',
  });

/** 202: the work was handed to Temporal and has not happened yet (no worker ran it within the wait). */
export const PendingResponse = z
  .object({ success: z.literal(true), pending: z.literal(true), message: z.string() })
  .openapi('Pending');

export const SuccessResponse = z
  .object({ success: z.literal(true), pending: ControlPending, message: z.string(), job: JobResource.optional() })
  .openapi('Success');

/** 202 of PUT /pools/{name}: the limit change was sent and the pool's workflow has not taken it yet. */
export const PoolPendingResponse = z
  .object({ success: z.literal(true), pending: ControlPending, message: z.string(), pool: PoolResource })
  .openapi('PoolPending');

export const ErrorResponse = z.object({ error: z.string(), details: z.string(), timestamp: z.string() }).openapi('Error');

export const JobEventResource = z
  .object({
    position: z.number().int(),
    version: z.number().int(),
    event_id: z.string(),
    type: z.string(),
    data: z.unknown(),
    metadata: z.record(z.string(), z.unknown()),
    recorded_at: z.string(),
  })
  .openapi('JobEvent');

export const CleanupQuery = z.object({
  max_age_hours: z.coerce
    .number({ error: 'max_age_hours must be a number of hours from 1 to 168' })
    .int({ error: 'max_age_hours must be a number of hours from 1 to 168' })
    .min(1, { error: 'max_age_hours must be a number of hours from 1 to 168' })
    .max(168, { error: 'max_age_hours must be a number of hours from 1 to 168' })
    .default(24),
});

export const CleanupResponse = z
  .object({ success: z.literal(true), cleaned_jobs: z.number().int(), freed_space_mb: z.number(), message: z.string() })
  .openapi('CleanupResult');
