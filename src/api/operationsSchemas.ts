/** Schemas of the operators' endpoints: failed jobs (dead letters), workers, throughput over time. */
import { z } from '@hono/zod-openapi';
import { JobId, JobResource } from './schemas.js';
import { THROUGHPUT_COUNTERS } from '../projections/throughput.js';

const deadFilterFields = {
  type: z.string().min(1).max(100).optional().openapi({ description: 'Only jobs of this type' }),
  tag: z.string().min(1).max(64).optional().openapi({ description: 'Only jobs with this tag' }),
  batch_id: z.string().min(1).max(200).optional().openapi({ description: 'Only jobs of this batch' }),
  owner: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .openapi({ description: "Admins: only this user's jobs. Others may give only their own id (403 otherwise)." }),
};

export const DeadJobsQuery = z.object({
  ...deadFilterFields,
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  cursor: z.string().max(500).optional().openapi({ description: 'next_cursor of the previous page' }),
});

export const DeadJob = JobResource.extend({
  last_error: z.string().nullable().openapi({ description: 'The error that failed the job (its last attempt).' }),
  failed_at: z.string().nullable().openapi({ description: 'When it failed (ISO).' }),
}).openapi('DeadJob');

export const DeadJobsPage = z
  .object({
    jobs: z.array(DeadJob),
    next_cursor: z.string().nullable().openapi({ description: 'Cursor of the next page; null on the last one' }),
    total: z.number().int().openapi({ description: 'Failed jobs matching the filter, all pages together' }),
  })
  .openapi('DeadJobsPage');

export const DeadJobsAction = z
  .object({
    ...deadFilterFields,
    job_ids: z.array(JobId).min(1).max(1000).optional().openapi({
      description: 'These failed jobs only (the filter fields still apply); default: every failed job matching the filter',
    }),
    reason: z.string().max(1000).optional().openapi({ description: 'Recorded in each job’s event' }),
    limit: z.number().int().min(1).max(1000).default(1000).openapi({ description: 'At most this many jobs per call' }),
  })
  .strict()
  .openapi('DeadJobsAction');

const Skipped = z
  .array(z.object({ job_id: z.string(), error: z.string() }))
  .openapi({ description: 'Named or selected jobs that were left as they were, and why' });

export const DeadJobsRetried = z
  .object({ retried: z.number().int(), job_ids: z.array(JobId), skipped: Skipped })
  .openapi('DeadJobsRetried');

export const DeadJobsPurged = z
  .object({
    deleted: z.number().int(),
    job_ids: z.array(JobId),
    freed_bytes: z.number().int(),
    skipped: Skipped,
  })
  .openapi('DeadJobsPurged');

const SlotsResource = z
  .object({ used: z.number().int(), free: z.number().int() })
  .nullable()
  .openapi({ description: "From the SDK worker's last heartbeat to Temporal (every 10 s); null without one" });

export const WorkerResource = z
  .object({
    identity: z.string().openapi({ description: 'The SDK worker identity (`<pid>@<host>` unless set)' }),
    host: z.string().nullable(),
    pid: z.number().int().nullable(),
    task_queues: z.array(
      z.object({
        name: z.string(),
        type: z.enum(['workflow', 'activity']),
        last_seen: z.string().openapi({ description: 'Its last poll of this queue (DescribeTaskQueue)' }),
        slots: SlotsResource,
      }),
    ),
    job_types: z.array(z.string()).openapi({
      description: 'Job types whose steps it runs (the engine’s registry, if it polls the job queue for activities)',
    }),
    slots: SlotsResource.openapi({ description: 'Job-step slots: the activity slots of its worker on the job queue' }),
    status: z.string().nullable().openapi({ description: 'running, shutting_down, shutdown (heartbeat); null without one' }),
    last_seen: z.string(),
    active: z.boolean().openapi({ description: 'Polled or heartbeated in the last 30 s and not shut down' }),
  })
  .openapi('Worker');

export const WorkersResponse = z
  .object({ workers: z.array(WorkerResource), total: z.number().int(), active: z.number().int() })
  .openapi('Workers');

export const TimeseriesQuery = z.object({
  minutes: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .default(60)
    .openapi({ description: 'The window, up to 7 days' }),
  bucket_seconds: z.coerce
    .number()
    .int()
    .min(60)
    .max(86_400)
    .refine((n) => n % 60 === 0, { error: 'bucket_seconds must be a multiple of 60' })
    .default(60)
    .openapi({ description: 'Width of a bucket: a multiple of 60, up to a day' }),
});

export const TimeseriesResponse = z
  .object({
    bucket_seconds: z.number().int(),
    buckets: z.array(
      z.object({
        start: z.string(),
        ...Object.fromEntries(THROUGHPUT_COUNTERS.map((c) => [c, z.number().int()])),
      }) as z.ZodObject<{ start: z.ZodString } & Record<(typeof THROUGHPUT_COUNTERS)[number], z.ZodNumber>>,
    ),
  })
  .openapi('Timeseries');
