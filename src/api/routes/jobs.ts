import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import {
  ControlBody,
  ErrorResponse,
  JobEventResource,
  JobIdParam,
  JobResource,
  JobStats,
  ListJobsQuery,
  PriorityBody,
  SubmitJobBody,
  SubmitJobResponse,
  SuccessResponse,
  CleanupQuery,
  CleanupResponse,
} from '../schemas.js';
import { toJobResource } from '../jobResource.js';
import { actorOf, loadJob, type ApiDeps, type AppEnv } from '../context.js';
import { badRequest } from '../errors.js';
import { InvalidCursorError } from '../../projections/jobReadModel.js';
import { JOB_STATUSES } from '../../workflows/jobContract.js';
import { validationHook } from '../validation.js';
import type { RecordedEvent } from '../../eventstore/index.js';

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});
const errors = {
  400: json(ErrorResponse, 'Invalid request'),
  401: json(ErrorResponse, 'Missing or invalid token'),
  403: json(ErrorResponse, 'Not your job'),
  404: json(ErrorResponse, 'No such job'),
  409: json(ErrorResponse, 'Not possible in the job’s current state'),
};
const optionalBody = <T extends z.ZodType>(schema: T) => ({
  body: { content: { 'application/json': { schema } }, required: false },
});

export function jobRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/jobs/submit',
      tags: ['jobs'],
      summary: 'Submit a job',
      request: { body: { content: { 'application/json': { schema: SubmitJobBody } }, required: true } },
      responses: { 200: json(SubmitJobResponse, 'The job this Idempotency-Key submitted before'), 201: json(SubmitJobResponse, 'Submitted and recorded'), 202: json(SubmitJobResponse, 'Submitted; not yet recorded'), ...errors },
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
      let page;
      try {
        page = deps.readModel.listJobs({
          owner: user.role === 'admin' ? undefined : user.id,
          status: q.status,
          type: q.type,
          priority: q.priority,
          batchId: q.batch_id,
          createdAfter: q.created_after,
          createdBefore: q.created_before,
          nameContains: q.name,
          cursor: q.cursor,
          limit: q.limit,
        });
      } catch (error) {
        if (error instanceof InvalidCursorError) throw badRequest(`cursor: ${error.message}`);
        throw error;
      }
      if (page.nextCursor) {
        c.header('X-Next-Cursor', page.nextCursor);
        const next = new URL(c.req.url);
        next.searchParams.set('cursor', page.nextCursor);
        c.header('Link', `<${next.pathname}${next.search}>; rel="next"`);
      }
      const now = Date.now();
      return c.json(page.jobs.map((row) => toJobResource(row, now)), 200);
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
      const byStatus = Object.fromEntries(JOB_STATUSES.map((s) => [s, counts[s] ?? 0])) as Record<(typeof JOB_STATUSES)[number], number>;
      const workers = await deps.workers();
      return c.json(
        {
          total_jobs: Object.values(byStatus).reduce((a, b) => a + b, 0),
          ...byStatus,
          active_workers: workers.active,
          total_workers: workers.total,
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
    (c) => c.json(toJobResource(loadJob(deps.readModel, c.get('user'), c.req.valid('param').job_id)), 200),
  );

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
      const row = loadJob(deps.readModel, c.get('user'), c.req.valid('param').job_id);
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

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    app.openapi(
      createRoute({
        method: 'post',
        path: `/jobs/{job_id}/${action}`,
        tags: ['job control'],
        summary: `${action[0]!.toUpperCase()}${action.slice(1)} a job`,
        request: { params: JobIdParam, ...optionalBody(ControlBody) },
        responses: { 200: json(SuccessResponse, 'Done and recorded'), ...errors },
      }),
      async (c) => {
        const user = c.get('user');
        const row = loadJob(deps.readModel, user, c.req.valid('param').job_id);
        const body = await optionalJson(await c.req.text(), ControlBody);
        const after = await deps.commands.control(row, action, actorOf(user), body.reason);
        return c.json({ success: true as const, message: `Job ${pastTense[action]} successfully`, job: toJobResource(after) }, 200);
      },
    );
  }

  app.openapi(
    createRoute({
      method: 'post',
      path: '/jobs/{job_id}/terminate',
      tags: ['job control'],
      summary: 'Terminate a job at once (emergency stop; no cleanup runs)',
      request: { params: JobIdParam, ...optionalBody(ControlBody) },
      responses: { 200: json(SuccessResponse, 'Terminated and recorded'), ...errors },
    }),
    async (c) => {
      const user = c.get('user');
      const row = loadJob(deps.readModel, user, c.req.valid('param').job_id);
      const body = await optionalJson(await c.req.text(), ControlBody);
      const after = await deps.commands.terminate(row, actorOf(user), body.reason);
      return c.json({ success: true as const, message: 'Job terminated successfully', job: toJobResource(after) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/jobs/{job_id}/retry',
      tags: ['job control'],
      summary: 'Run a failed or cancelled job again, as a new run of the same job',
      request: { params: JobIdParam },
      responses: { 200: json(SuccessResponse, 'Restarted'), ...errors },
    }),
    async (c) => {
      const user = c.get('user');
      const row = loadJob(deps.readModel, user, c.req.valid('param').job_id);
      const after = await deps.commands.retry(row, actorOf(user));
      return c.json({ success: true as const, message: 'Job retry started', job: toJobResource(after) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/jobs/{job_id}',
      tags: ['jobs'],
      summary: 'Delete a finished job (its result files too; the log keeps a tombstone)',
      request: { params: JobIdParam },
      responses: { 200: json(SuccessResponse, 'Deleted'), ...errors },
    }),
    async (c) => {
      const user = c.get('user');
      const row = loadJob(deps.readModel, user, c.req.valid('param').job_id);
      await deps.commands.deleteJobs([row], actorOf(user), 'deleted through the API');
      return c.json({ success: true as const, message: 'Job deleted successfully' }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/jobs/cleanup',
      tags: ['jobs'],
      summary: 'Delete finished jobs older than max_age_hours (with their files)',
      request: { query: CleanupQuery },
      responses: { 200: json(CleanupResponse, 'Cleaned'), ...errors },
    }),
    async (c) => {
      const user = c.get('user');
      const { max_age_hours } = c.req.valid('query');
      const cutoff = new Date(Date.now() - max_age_hours * 3600_000).toISOString();
      const rows = deps.readModel.finishedBefore(cutoff, user.role === 'admin' ? undefined : user.id);
      const { deleted, freedBytes } = await deps.commands.deleteJobs(rows, actorOf(user), `cleanup: finished more than ${max_age_hours} h ago`);
      return c.json(
        {
          success: true as const,
          cleaned_jobs: deleted,
          freed_space_mb: Math.round((freedBytes / 1048576) * 1000) / 1000,
          message: `Cleaned ${deleted} job(s) finished more than ${max_age_hours} hours ago`,
        },
        200,
      );
    },
  );

  for (const method of ['put', 'patch'] as const) {
    app.openapi(
      createRoute({
        method,
        path: '/jobs/{job_id}/priority',
        tags: ['job control'],
        summary: 'Change the priority of a pending, running or paused job',
        request: { params: JobIdParam, body: { content: { 'application/json': { schema: PriorityBody } }, required: true } },
        responses: { 200: json(SuccessResponse, 'Changed and recorded'), ...errors },
      }),
      async (c) => {
        const user = c.get('user');
        const row = loadJob(deps.readModel, user, c.req.valid('param').job_id);
        const body = c.req.valid('json');
        const after = await deps.commands.reprioritize(row, body.priority, actorOf(user), body.reason);
        return c.json({ success: true as const, message: 'Job priority updated successfully', job: toJobResource(after) }, 200);
      },
    );
  }

  return app;
}

const pastTense = { pause: 'paused', resume: 'resumed', cancel: 'cancelled' } as const;

/** Control bodies are optional: an empty POST is the same as `{}`. */
async function optionalJson<T extends z.ZodType>(text: string, schema: T): Promise<z.infer<T>> {
  if (!text.trim()) return schema.parse({});
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw badRequest(`Malformed JSON body: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw badRequest(formatIssues(parsed.error.issues));
  return parsed.data;
}

export function formatIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues.map((i) => `${i.path.length ? i.path.map(String).join('.') : '(body)'}: ${i.message}`).join('; ');
}
