import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import {
  JobEventResource,
  JobIdParam,
  JobResource,
  JobStats,
  ListJobsQuery,
  SubmitJobBody,
  SubmitJobResponse,
  retrySettingsOf,
} from '../schemas.js';
import { toJobResource } from '../jobResource.js';
import { actorOf, loadShownJob, type ApiDeps, type AppEnv } from '../context.js';
import { badRequest } from '../errors.js';
import { pageHeaders, paged } from '../paging.js';
import { JOB_STATUSES } from '../../workflows/jobContract.js';
import { WAITING_JOB_STATUSES } from '../../domain/index.js';
import { validationHook } from '../validation.js';
import { errorResponses, json } from '../openapi.js';
import type { RecordedEvent } from '../../eventstore/index.js';

const errors = errorResponses('job');

export function jobRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/jobs/submit',
      tags: ['jobs'],
      summary: 'Submit a job',
      request: { body: { content: { 'application/json': { schema: SubmitJobBody } }, required: true } },
      responses: {
        200: json(SubmitJobResponse, 'The job this Idempotency-Key submitted before'),
        201: json(SubmitJobResponse, 'Submitted and recorded'),
        202: json(SubmitJobResponse, 'Submitted; not yet recorded'),
        ...errors,
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const user = c.get('user');
      if (body.input && body.config) throw badRequest('input: give input or config, not both');
      const idempotencyKey = c.req.header('idempotency-key');
      if (idempotencyKey !== undefined && (idempotencyKey.length === 0 || idempotencyKey.length > 200)) {
        throw badRequest('Idempotency-Key: must be 1 to 200 characters');
      }
      const { jobId, visible, existing } = await deps.commands.submit({
        idempotencyKey,
        name: body.name,
        type: body.type,
        input: body.input ?? body.config,
        priority: body.priority,
        owner: user.id,
        actor: actorOf(user),
        timeoutSeconds: body.timeout_seconds,
        delaySeconds: body.delay_seconds,
        scheduledAt: body.scheduled_at,
        pool: body.pool,
        weight: body.weight,
        dependsOn: body.depends_on?.map((d) => ({ jobId: d.job_id, condition: d.condition })),
        admin: user.role === 'admin',
        metadata: body.metadata,
        tags: body.tags,
        retry: retrySettingsOf(body.retry),
        callbackUrl: body.callback_url,
      });
      if (existing) return c.json({ job_id: jobId, message: 'Job submitted successfully' }, 200);
      return visible
        ? c.json({ job_id: jobId, message: 'Job submitted successfully' }, 201)
        : c.json({ job_id: jobId, message: 'Job submitted; it is not recorded yet (is a worker running?)' }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/jobs/list',
      tags: ['jobs'],
      summary: 'List jobs, newest first',
      request: { query: ListJobsQuery },
      responses: { 200: json(z.array(JobResource), 'A page of jobs; X-Next-Cursor names the next page'), ...errors },
    }),
    (c) => {
      const q = c.req.valid('query');
      const user = c.get('user');
      const page = paged(() =>
        deps.readModel.listJobs({
          owner: user.role === 'admin' ? q.owner || undefined : user.id,
          status: q.status,
          pool: q.pool,
          tag: q.tag,
          type: q.type,
          priority: q.priority,
          batchId: q.batch_id,
          scheduleId: q.schedule_id,
          createdAfter: q.created_after,
          createdBefore: q.created_before,
          nameContains: q.name,
          cursor: q.cursor,
          limit: q.limit,
        }),
      );
      pageHeaders(c, page.nextCursor);
      const now = Date.now();
      return c.json(
        page.jobs.map((row) => toJobResource(row, now)),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/jobs/stats',
      tags: ['jobs'],
      summary: 'Job counts by status, and workers',
      responses: { 200: json(JobStats, 'Counts'), ...errors },
    }),
    async (c) => {
      const user = c.get('user');
      const counts = deps.readModel.countByStatus(user.role === 'admin' ? undefined : user.id);
      const byStatus = Object.fromEntries(JOB_STATUSES.map((s) => [s, counts[s] ?? 0])) as Record<
        (typeof JOB_STATUSES)[number],
        number
      >;
      const workers = await deps.workers();
      const queued = deps.readModel.queuedCounts(user.role === 'admin' ? undefined : user.id);
      return c.json(
        {
          total_jobs: Object.values(byStatus).reduce((a, b) => a + b, 0),
          ...byStatus,
          waiting: WAITING_JOB_STATUSES.reduce((a, s) => a + byStatus[s], 0),
          active_workers: workers.active,
          total_workers: workers.total,
          queued_by_pool: queued.byPool,
          queued_by_priority: queued.byPriority,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/jobs/{job_id}',
      tags: ['jobs'],
      summary: 'One job',
      request: { params: JobIdParam },
      responses: { 200: json(JobResource, 'The job'), ...errors },
    }),
    (c) => c.json(toJobResource(loadShownJob(deps, c.get('user'), c.req.valid('param').job_id)), 200),
  );

  return app;
}

/** A job's event stream: its audit trail (actor, reason, before/after). */
export function jobHistoryRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/jobs/{job_id}/events',
      tags: ['jobs'],
      summary: "The job's event stream (its audit trail)",
      request: { params: JobIdParam },
      responses: { 200: json(z.array(JobEventResource), 'Events, oldest first'), ...errors },
    }),
    (c) => {
      const row = loadShownJob(deps, c.get('user'), c.req.valid('param').job_id);
      const events = deps.events.readStream(row.id).map((e: RecordedEvent) => ({
        position: e.globalPosition,
        version: e.streamVersion,
        event_id: e.eventId,
        type: e.type,
        data: e.data,
        metadata: e.metadata,
        recorded_at: e.recordedAt,
      }));
      return c.json(events, 200);
    },
  );

  return app;
}
