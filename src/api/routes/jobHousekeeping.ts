import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { CleanupQuery, CleanupResponse, JobIdParam, PendingResponse, SuccessResponse } from '../schemas.js';
import { actorOf, loadJob, type ApiDeps, type AppEnv } from '../context.js';
import { validationHook } from '../validation.js';
import { errorResponses, json } from '../openapi.js';

const errors = errorResponses('job');

/** Removing finished jobs: one (DELETE) or all older than an age (cleanup). The log keeps tombstones. */
export function jobHousekeepingRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/jobs/{job_id}',
      tags: ['jobs'],
      summary: 'Delete a finished job (its result files too; the log keeps a tombstone)',
      request: { params: JobIdParam },
      responses: {
        200: json(SuccessResponse, 'Deleted'),
        202: json(PendingResponse, 'Deletion started; not finished yet'),
        ...errors,
      },
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
      responses: {
        200: json(CleanupResponse, 'Cleaned'),
        202: json(PendingResponse, 'Deletion started; not finished yet'),
        ...errors,
      },
    }),
    async (c) => {
      const user = c.get('user');
      const { max_age_hours } = c.req.valid('query');
      const cutoff = new Date(Date.now() - max_age_hours * 3600_000).toISOString();
      const rows = deps.readModel.finishedBefore(cutoff, user.role === 'admin' ? undefined : user.id);
      const { deleted, freedBytes } = await deps.commands.deleteJobs(
        rows,
        actorOf(user),
        `cleanup: finished more than ${max_age_hours} h ago`,
      );
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

  return app;
}
