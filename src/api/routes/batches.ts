import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppEnv, ApiUser } from '../context.js';
import { actorOf } from '../context.js';
import { ApiError, badRequest, notFound } from '../errors.js';
import {
  ControlBody,
  ControlPending,
  JobResource,
  PendingResponse,
  JobStatusEnum,
  PoolName,
  PriorityBody,
  Priority,
  counters,
} from '../schemas.js';
import { DEPENDENCY_CONDITIONS, MAX_POOL_WEIGHT } from '../../domain/index.js';
import { validationHook } from '../validation.js';
import { CallbackUrl } from '../webhookSchemas.js';
import { errorResponses, json, optionalJson } from '../openapi.js';
import { toJobResource } from '../jobResource.js';
import type { BatchCommands } from '../../commands/batchCommands.js';
import { capitalized, controlAnswers } from '../controlAnswer.js';
import { itemsNotStarted, type BatchReadModel, type BatchRow } from '../../projections/batchReadModel.js';
import type { JobReadModel } from '../../projections/jobReadModel.js';
import { pageHeaders, paged } from '../paging.js';
import { BATCH_STATUSES, type FailurePolicy } from '../../workflows/batchContract.js';

const MAX_JOBS = 100_000;

export const CreateBatchBody = z
  .object({
    name: z.string().min(1).max(200),
    description: z.string().max(2000).optional(),
    priority: Priority.default(2),
    jobs: z
      .array(
        z
          .object({
            name: z.string().min(1).max(200),
            type: z.string().min(1).max(100).optional(),
            input: z.record(z.string(), z.unknown()).optional(),
            priority: Priority.optional(),
            key: z.string().min(1).max(200).optional().openapi({ description: "Names the item for other items' depends_on." }),
            depends_on: z
              .array(
                z
                  .object({
                    key: z.string().min(1).max(200).optional(),
                    job_id: z.string().min(1).max(200).optional(),
                    condition: z.enum(DEPENDENCY_CONDITIONS).default('succeeded'),
                  })
                  .strict(),
              )
              .max(100)
              .optional()
              .openapi({ description: 'Items of this batch (by key) or existing jobs (by job_id): a DAG batch.' }),
            pool: PoolName.optional(),
            weight: z.number().int().min(1).max(MAX_POOL_WEIGHT).optional(),
            callback_url: CallbackUrl.optional(),
          })
          .strict(),
      )
      .min(1)
      .max(MAX_JOBS)
      .optional(),
    type: z.string().min(1).max(100).optional().openapi({ description: 'Compact form: the type of every item' }),
    items: z
      .array(z.record(z.string(), z.unknown()))
      .min(1)
      .max(MAX_JOBS)
      .optional()
      .openapi({ description: 'Compact form: one input per job' }),
    concurrency: z.number().int().min(1).max(1000).default(10).openapi({ description: 'Most jobs in flight at once' }),
    failure_policy: z
      .union([z.enum(['continue', 'fail_fast']), z.object({ max_failed_percent: z.number().min(0).max(100) }).strict()])
      .default('continue'),
    retry: z
      .object({
        max_attempts: z.number().int().min(1).max(100).optional(),
        initial_interval_ms: z.number().int().min(1).max(3_600_000).optional(),
        backoff_coefficient: z.number().min(1).max(10).optional(),
        max_interval_ms: z.number().int().min(1).max(86_400_000).optional(),
      })
      .strict()
      .optional(),
    jobs_per_run: z
      .number()
      .int()
      .min(2)
      .max(10_000)
      .optional()
      .openapi({ description: 'Jobs started per workflow run before continue-as-new (default 1000)' }),
  })
  .strict()
  .openapi('CreateBatchRequest');

const BatchIdParam = z.object({
  batch_id: z
    .string()
    .min(1)
    .max(200)
    .openapi({ param: { name: 'batch_id', in: 'path' } }),
});
const BatchProgress = counters('total', 'pending', 'running', 'paused', 'completed', 'failed', 'cancelled', 'percentage').extend({
  throughput: z.number().nullable().openapi({ description: 'finished jobs per second' }),
  estimated_remaining: z.number().nullable().openapi({ description: 'seconds' }),
});
export const BatchResource = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    status: z.enum(BATCH_STATUSES),
    priority: z.number().int(),
    user_id: z.string(),
    concurrency: z.number().int(),
    failure_policy: z.unknown(),
    created_at: z.string(),
    started_at: z.string().nullable(),
    completed_at: z.string().nullable(),
    progress: BatchProgress,
  })
  .openapi('Batch');

const errors = errorResponses('batch');

type BatchRouteDeps = { batches: BatchReadModel; jobs: JobReadModel; commands: BatchCommands };

/** Loads a batch the user may see (404, 403) and shows a batch row as the API does. */
function batchAccess(deps: BatchRouteDeps) {
  return {
    load(user: ApiUser, id: string): BatchRow {
      const row = deps.batches.getBatch(id);
      if (!row) throw notFound(`Batch not found: ${id}`);
      if (user.role !== 'admin' && row.owner !== user.id) throw new ApiError(403, 'Access denied to this batch');
      return row;
    },
    resource: (row: BatchRow) => toBatchResource(row, deps.batches.jobCounts(row.id)),
  };
}

const BatchCreated = z.object({ batch_id: z.string(), total: z.number().int(), message: z.string() });

const BatchControlResponse = z.object({
  success: z.literal(true),
  pending: ControlPending,
  message: z.string(),
  batch: BatchResource,
});

/** Creating and reading batches. */
export function batchRoutes(deps: BatchRouteDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const { load, resource } = batchAccess(deps);

  app.openapi(
    createRoute({
      method: 'post',
      path: '/batches',
      tags: ['batches'],
      summary: 'Create a batch of jobs',
      request: { body: { content: { 'application/json': { schema: CreateBatchBody } }, required: true } },
      responses: {
        201: json(BatchCreated, 'Created'),
        202: json(BatchCreated, 'Started in Temporal; not recorded yet (is a worker running?)'),
        ...errors,
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const user = c.get('user');
      if (!body.jobs === !body.items) throw badRequest('jobs or items: give exactly one (items needs type)');
      if (body.items && !body.type) throw badRequest('type: required with items');
      const jobs =
        body.jobs?.map(({ depends_on, callback_url, ...job }) => ({
          ...job,
          ...(callback_url ? { callbackUrl: callback_url } : {}),
          ...(depends_on ? { dependsOn: depends_on.map((d) => ({ key: d.key, jobId: d.job_id, condition: d.condition })) } : {}),
        })) ?? body.items!.map((input, i) => ({ name: `${body.name} #${i + 1}`, type: body.type, input }));
      const policy: FailurePolicy =
        typeof body.failure_policy === 'string'
          ? { mode: body.failure_policy }
          : { mode: 'threshold', maxFailedPercent: body.failure_policy.max_failed_percent };
      const { batchId, total, recorded } = await deps.commands.create({
        name: body.name,
        description: body.description,
        priority: body.priority,
        jobs,
        concurrency: body.concurrency,
        failurePolicy: policy,
        retry: body.retry && {
          ...(body.retry.max_attempts !== undefined ? { maxAttempts: body.retry.max_attempts } : {}),
          ...(body.retry.initial_interval_ms !== undefined ? { initialIntervalMs: body.retry.initial_interval_ms } : {}),
          ...(body.retry.backoff_coefficient !== undefined ? { backoffCoefficient: body.retry.backoff_coefficient } : {}),
          ...(body.retry.max_interval_ms !== undefined ? { maxIntervalMs: body.retry.max_interval_ms } : {}),
        },
        owner: user.id,
        admin: user.role === 'admin',
        actor: actorOf(user),
        jobsPerRun: body.jobs_per_run,
      });
      if (!recorded)
        return c.json({ batch_id: batchId, total, message: 'Batch created; it is not recorded yet (is a worker running?)' }, 202);
      return c.json({ batch_id: batchId, total, message: 'Batch created successfully' }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/batches',
      tags: ['batches'],
      summary: 'List batches, newest first',
      request: {
        query: z.object({
          status: z.enum(BATCH_STATUSES).optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(50),
        }),
      },
      responses: { 200: json(z.array(BatchResource), 'Batches'), ...errors },
    }),
    (c) => {
      const q = c.req.valid('query');
      const user = c.get('user');
      const rows = deps.batches.listBatches({
        owner: user.role === 'admin' ? undefined : user.id,
        status: q.status,
        limit: q.limit,
      });
      return c.json(rows.map(resource), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/batches/stats',
      tags: ['batches'],
      summary: 'Batches by status',
      responses: { 200: json(z.record(z.string(), z.number()), 'Counts'), ...errors },
    }),
    (c) => {
      const user = c.get('user');
      const counts = deps.batches.countByStatus(user.role === 'admin' ? undefined : user.id);
      const byStatus = Object.fromEntries(BATCH_STATUSES.map((s) => [s, counts[s] ?? 0]));
      return c.json({ total_batches: Object.values(byStatus).reduce((a, b) => a + b, 0), ...byStatus }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/batches/{batch_id}',
      tags: ['batches'],
      summary: 'A batch: status and progress',
      request: { params: BatchIdParam },
      responses: { 200: json(BatchResource, 'The batch'), ...errors },
    }),
    (c) => c.json(resource(load(c.get('user'), c.req.valid('param').batch_id)), 200),
  );

  return app;
}

/** A batch's jobs (paged) and its report. */
export function batchDetailRoutes(deps: BatchRouteDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const { load, resource } = batchAccess(deps);

  app.openapi(
    createRoute({
      method: 'get',
      path: '/batches/{batch_id}/jobs',
      tags: ['batches'],
      summary: "The batch's jobs (paged, filterable)",
      request: {
        params: BatchIdParam,
        query: z.object({
          status: JobStatusEnum.optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(50),
          cursor: z.string().max(500).optional(),
        }),
      },
      responses: { 200: json(z.array(JobResource), 'Jobs'), ...errors },
    }),
    (c) => {
      const row = load(c.get('user'), c.req.valid('param').batch_id);
      const q = c.req.valid('query');
      const page = paged(() => deps.jobs.listJobs({ batchId: row.id, status: q.status, limit: q.limit, cursor: q.cursor }));
      pageHeaders(c, page.nextCursor);
      return c.json(
        page.jobs.map((j) => toJobResource(j)),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/batches/{batch_id}/report',
      tags: ['batches'],
      summary: 'Counts, durations, slowest jobs, every failed job with its error',
      request: { params: BatchIdParam },
      responses: { 200: json(z.unknown(), 'Report'), ...errors },
    }),
    (c) => {
      const row = load(c.get('user'), c.req.valid('param').batch_id);
      const { durations, slowest, failed } = deps.batches.report(row.id);
      const sorted = durations.map((d) => d.d).sort((a, b) => a - b);
      const q = (p: number) =>
        sorted.length ? Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! * 1000) / 1000 : null;
      return c.json(
        {
          batch: resource(row),
          durations: {
            jobs: sorted.length,
            mean: sorted.length ? Math.round((sorted.reduce((a, b) => a + b, 0) / sorted.length) * 1000) / 1000 : null,
            p50: q(0.5),
            p95: q(0.95),
            p99: q(0.99),
            max: q(1),
          },
          slowest_jobs: slowest.map((s) => ({ job_id: s.id, name: s.name, duration: Math.round(s.d * 1000) / 1000 })),
          failed_jobs: failed.map((f) => ({
            job_id: f.id,
            name: f.name,
            status: f.status,
            error_message: f.error_message,
            error_type: f.error_type,
            attempts: f.attempts,
          })),
        },
        200,
      );
    },
  );

  return app;
}

/** Steering a batch as one object: pause, resume, cancel, retry-failed, priority. */
export function batchControlRoutes(deps: BatchRouteDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const { load, resource } = batchAccess(deps);
  /** A control's answer: the batch after it (200), or as it is now when its workflow did not take it yet (202). */
  const answerFor = controlAnswers({
    reload: (id) => deps.batches.getBatch(id),
    resource: (batch) => ({ batch: resource(batch) }),
  });

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    app.openapi(
      createRoute({
        method: 'post',
        path: `/batches/{batch_id}/${action}`,
        tags: ['batches'],
        summary: `${action} a batch (all its unfinished jobs)`,
        request: { params: BatchIdParam, body: { content: { 'application/json': { schema: ControlBody } }, required: false } },
        responses: {
          200: json(BatchControlResponse, 'Done'),
          202: json(BatchControlResponse, 'Sent; the batch has not taken it yet (see `pending`)'),
          ...errors,
        },
      }),
      async (c) => {
        const user = c.get('user');
        const row = load(user, c.req.valid('param').batch_id);
        const text = await c.req.text();
        const { reason } = await optionalJson(text, ControlBody); // an invalid body is a 400, as for jobs
        const done = `Batch ${action === 'pause' ? 'paused' : action === 'resume' ? 'resumed' : 'cancelled'} successfully`;
        const answer = await answerFor(row, capitalized(action), done, () =>
          deps.commands.control(row, action, actorOf(user), reason),
        );
        return c.json(answer.body, answer.status);
      },
    );
  }

  app.openapi(
    createRoute({
      method: 'post',
      path: '/batches/{batch_id}/retry-failed',
      tags: ['batches'],
      summary: 'Rerun the failed jobs of a finished batch, in the same batch',
      request: { params: BatchIdParam },
      responses: {
        200: json(z.object({ success: z.literal(true), message: z.string(), retried: z.number().int() }), 'Started'),
        202: json(PendingResponse, 'Started in Temporal; not recorded yet (is a worker running?)'),
        ...errors,
      },
    }),
    async (c) => {
      const user = c.get('user');
      const row = load(user, c.req.valid('param').batch_id);
      const { retried } = await deps.commands.retryFailed(row, actorOf(user));
      return c.json({ success: true as const, message: `Retrying ${retried} failed job(s)`, retried }, 200);
    },
  );

  for (const method of ['put', 'patch'] as const) {
    app.openapi(
      createRoute({
        method,
        path: '/batches/{batch_id}/priority',
        tags: ['batches'],
        summary: 'Reprioritize every unfinished job of the batch and those not started yet',
        request: { params: BatchIdParam, body: { content: { 'application/json': { schema: PriorityBody } }, required: true } },
        responses: {
          200: json(BatchControlResponse, 'Done'),
          202: json(BatchControlResponse, 'Sent; the batch has not taken it yet (see `pending`)'),
          ...errors,
        },
      }),
      async (c) => {
        const user = c.get('user');
        const row = load(user, c.req.valid('param').batch_id);
        const body = c.req.valid('json');
        const answer = await answerFor(row, 'Priority change', 'Batch priority updated successfully', () =>
          deps.commands.reprioritize(row, body.priority, actorOf(user), body.reason),
        );
        return c.json(answer.body, answer.status);
      },
    );
  }
  return app;
}

/** A batch with its progress, from the batch row and its jobs' counts. */
export function toBatchResource(row: BatchRow, counts: Record<string, number>, now = Date.now()) {
  const c = (s: string) => counts[s] ?? 0;
  const notStarted = itemsNotStarted(row, counts);
  const completed = c('completed');
  const failed = c('failed') + c('timed_out');
  const cancelled = c('cancelled') + c('terminated') + row.not_started_cancelled;
  const finished = completed + failed + cancelled;
  const started = row.started_at ? Date.parse(row.started_at) : null;
  const end = row.completed_at ? Date.parse(row.completed_at) : now;
  const elapsedS = started !== null ? Math.max(0.001, (end - started) / 1000) : null;
  const throughput = elapsedS !== null && finished > 0 ? Math.round((finished / elapsedS) * 100) / 100 : null;
  const left = Math.max(0, row.total - finished);
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    status: row.status as (typeof BATCH_STATUSES)[number],
    priority: row.priority,
    user_id: row.owner,
    concurrency: row.concurrency,
    failure_policy: JSON.parse(row.failure_policy),
    created_at: row.created_at,
    started_at: row.started_at,
    completed_at: row.completed_at,
    progress: {
      total: row.total,
      pending: notStarted + c('pending'),
      running: c('running'),
      paused: c('paused'),
      completed,
      failed,
      cancelled,
      percentage: row.total ? Math.floor((finished * 100) / row.total) : 100,
      throughput,
      estimated_remaining: left === 0 ? 0 : throughput ? Math.round((left / throughput) * 10) / 10 : null,
    },
  };
}
