import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { ControlBody, JobResource } from '../schemas.js';
import {
  CreateScheduleBody,
  ListSchedulesQuery,
  ScheduleCreatedResponse,
  ScheduleIdParam,
  ScheduleResource,
  ScheduleRunsQuery,
  ScheduleSuccess,
  TriggerScheduleBody,
  UpdateScheduleBody,
} from '../scheduleSchemas.js';
import { toScheduleResource } from '../scheduleResource.js';
import { toJobResource } from '../jobResource.js';
import { actorOf, type ApiUser, type AppEnv } from '../context.js';
import { ApiError, badRequest, notFound } from '../errors.js';
import { validationHook } from '../validation.js';
import { errorResponses, json, optionalBody, optionalJson } from '../openapi.js';
import type { JobReadModel } from '../../projections/jobReadModel.js';
import { pageHeaders, paged } from '../paging.js';
import type { ScheduleReadModel, ScheduleRow } from '../../projections/scheduleReadModel.js';
import type { ScheduleCommands, ScheduleJobRequest } from '../../commands/scheduleCommands.js';

const errors = errorResponses('schedule');

export interface ScheduleRouteDeps {
  schedules: ScheduleReadModel;
  commands: ScheduleCommands;
  jobs: JobReadModel;
}

/** Loads a schedule the user may see: 404 when absent or deleted, 403 when it is someone else's. */
function loadSchedule(readModel: ScheduleReadModel, user: ApiUser, scheduleId: string): ScheduleRow {
  const row = readModel.getSchedule(scheduleId);
  if (!row || row.deleted_at) throw notFound(`Schedule not found: ${scheduleId}`);
  if (user.role !== 'admin' && row.owner !== user.id) throw new ApiError(403, 'Access denied to this schedule');
  return row;
}

/** The job part of a request, as a submit takes it (`config` is an alias of `input`). */
function jobRequest<J extends { input?: Record<string, unknown>; config?: Record<string, unknown> }>(job: J) {
  if (job.input && job.config) throw badRequest('job.input: give input or config, not both');
  const { config, input, ...rest } = job;
  return { ...rest, input: input ?? config };
}

/** Sets X-Next-Cursor and Link when there is a next page. */
/** Recurring jobs through Temporal Schedules: create, read, change, delete, and the runs of one. */
export function scheduleRoutes(deps: ScheduleRouteDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/schedules',
      tags: ['schedules'],
      summary: 'Create a schedule: a job started by Temporal at every time its spec names',
      request: { body: { content: { 'application/json': { schema: CreateScheduleBody } }, required: true } },
      responses: {
        201: json(ScheduleResource, 'Created in Temporal and recorded'),
        202: json(ScheduleCreatedResponse, 'Created in Temporal; not yet in the read model'),
        ...errors,
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const user = c.get('user');
      const job = jobRequest(body.job);
      const { scheduleId, visible } = await deps.commands.create({
        scheduleId: body.schedule_id,
        name: body.name,
        spec: body.spec,
        policy: body.policy,
        job: {
          name: job.name,
          type: job.type,
          input: job.input,
          priority: job.priority,
          timeoutSeconds: job.timeout_seconds,
          pool: job.pool,
          weight: job.weight,
        },
        paused: body.paused,
        note: body.note,
        owner: user.id,
        actor: actorOf(user),
      });
      const row = deps.schedules.getSchedule(scheduleId);
      if (!visible || !row) return c.json({ schedule_id: scheduleId, message: 'Schedule created; it is not recorded yet' }, 202);
      return c.json(toScheduleResource(row, await deps.commands.live(scheduleId)), 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/schedules',
      tags: ['schedules'],
      summary: "Your schedules (an admin's: everyone's), newest first",
      request: { query: ListSchedulesQuery },
      responses: { 200: json(z.array(ScheduleResource), 'A page of schedules; X-Next-Cursor names the next page'), ...errors },
    }),
    (c) => {
      const q = c.req.valid('query');
      const user = c.get('user');
      const page = paged(() =>
        deps.schedules.listSchedules({ owner: user.role === 'admin' ? undefined : user.id, limit: q.limit, cursor: q.cursor }),
      );
      pageHeaders(c, page.nextCursor);
      return c.json(
        page.schedules.map((row) => toScheduleResource(row)),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/schedules/{schedule_id}',
      tags: ['schedules'],
      summary: "One schedule: its record, and Temporal's next action times and recent runs",
      request: { params: ScheduleIdParam },
      responses: { 200: json(ScheduleResource, 'The schedule'), ...errors },
    }),
    async (c) => {
      const row = loadSchedule(deps.schedules, c.get('user'), c.req.valid('param').schedule_id);
      return c.json(toScheduleResource(row, await deps.commands.live(row.id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/schedules/{schedule_id}',
      tags: ['schedules'],
      summary: 'Change the spec (replaced), the policy or the job (merged), or the name',
      request: {
        params: ScheduleIdParam,
        body: { content: { 'application/json': { schema: UpdateScheduleBody } }, required: true },
      },
      responses: { 200: json(ScheduleResource, 'Changed in Temporal and recorded'), ...errors },
    }),
    async (c) => {
      const user = c.get('user');
      const row = loadSchedule(deps.schedules, user, c.req.valid('param').schedule_id);
      const body = c.req.valid('json');
      let job: Partial<ScheduleJobRequest> | undefined;
      if (body.job) {
        const { timeout_seconds, ...rest } = jobRequest(body.job);
        job = { ...rest, ...(timeout_seconds !== undefined ? { timeoutSeconds: timeout_seconds } : {}) };
      }
      const after = await deps.commands.update(
        row,
        { name: body.name, spec: body.spec, policy: body.policy, job },
        { actor: actorOf(user), reason: body.reason },
      );
      return c.json(toScheduleResource(after, await deps.commands.live(row.id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/schedules/{schedule_id}',
      tags: ['schedules'],
      summary: 'Delete a schedule (its runs stay jobs; a run going on is not stopped)',
      request: { params: ScheduleIdParam, ...optionalBody(ControlBody) },
      responses: { 200: json(ScheduleSuccess, 'Deleted in Temporal and recorded'), ...errors },
    }),
    async (c) => {
      const user = c.get('user');
      const row = loadSchedule(deps.schedules, user, c.req.valid('param').schedule_id);
      const body = await optionalJson(await c.req.text(), ControlBody);
      await deps.commands.delete(row, { actor: actorOf(user), reason: body.reason });
      return c.json({ success: true as const, message: 'Schedule deleted successfully' }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/schedules/{schedule_id}/runs',
      tags: ['schedules'],
      summary: "The schedule's runs: ordinary jobs, newest first",
      request: { params: ScheduleIdParam, query: ScheduleRunsQuery },
      responses: { 200: json(z.array(JobResource), 'A page of jobs; X-Next-Cursor names the next page'), ...errors },
    }),
    (c) => {
      const user = c.get('user');
      const row = loadSchedule(deps.schedules, user, c.req.valid('param').schedule_id);
      const q = c.req.valid('query');
      const page = paged(() =>
        deps.jobs.listJobs({
          owner: user.role === 'admin' ? undefined : user.id,
          scheduleId: row.id,
          status: q.status,
          cursor: q.cursor,
          limit: q.limit,
        }),
      );
      pageHeaders(c, page.nextCursor);
      const now = Date.now();
      return c.json(
        page.jobs.map((job) => toJobResource(job, now)),
        200,
      );
    },
  );

  return app;
}

/** Steering a schedule: pause, unpause, trigger now. */
export function scheduleControlRoutes(deps: ScheduleRouteDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  for (const action of ['pause', 'unpause'] as const) {
    app.openapi(
      createRoute({
        method: 'post',
        path: `/schedules/{schedule_id}/${action}`,
        tags: ['schedules'],
        summary:
          action === 'pause'
            ? 'Pause a schedule: no action is taken until unpaused (the reason becomes its note)'
            : 'Unpause a schedule',
        request: { params: ScheduleIdParam, ...optionalBody(ControlBody) },
        responses: { 200: json(ScheduleSuccess, 'Done in Temporal and recorded'), ...errors },
      }),
      async (c) => {
        const user = c.get('user');
        const row = loadSchedule(deps.schedules, user, c.req.valid('param').schedule_id);
        const body = await optionalJson(await c.req.text(), ControlBody);
        const after = await deps.commands.setPaused(row, action === 'pause', { actor: actorOf(user), reason: body.reason });
        return c.json(
          {
            success: true as const,
            message: `Schedule ${action}d successfully`,
            schedule: toScheduleResource(after, await deps.commands.live(row.id)),
          },
          200,
        );
      },
    );
  }

  app.openapi(
    createRoute({
      method: 'post',
      path: '/schedules/{schedule_id}/trigger',
      tags: ['schedules'],
      summary: 'Start a run now (also when paused), with an overlap policy for this run',
      request: { params: ScheduleIdParam, ...optionalBody(TriggerScheduleBody) },
      responses: { 200: json(ScheduleSuccess, 'Triggered in Temporal and recorded'), ...errors },
    }),
    async (c) => {
      const user = c.get('user');
      const row = loadSchedule(deps.schedules, user, c.req.valid('param').schedule_id);
      const body = await optionalJson(await c.req.text(), TriggerScheduleBody);
      const { row: after, jobId } = await deps.commands.trigger(row, body.overlap, { actor: actorOf(user), reason: body.reason });
      return c.json(
        { success: true as const, message: 'Schedule triggered', job_id: jobId, schedule: toScheduleResource(after) },
        200,
      );
    },
  );

  return app;
}
