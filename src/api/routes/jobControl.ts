import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { ControlBody, JobIdParam, PendingResponse, PriorityBody, SuccessResponse } from '../schemas.js';
import { capitalized, controlAnswers } from '../controlAnswer.js';
import { toJobResource } from '../jobResource.js';
import { actorOf, loadJob, loadSteerableJob, type ApiDeps, type AppEnv } from '../context.js';
import { validationHook } from '../validation.js';
import { errorResponses, json, optionalBody, optionalJson } from '../openapi.js';

const errors = errorResponses('job');
const pastTense = { pause: 'paused', resume: 'resumed', cancel: 'cancelled' } as const;
const sentNotTaken = json(SuccessResponse, 'Sent; the job has not taken it yet (see `pending`)');

/** Steering one job: pause, resume, cancel, terminate, retry, priority — all through Temporal. */
export function jobControlRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  /** A control's answer: the job after it (200), or as it is now when its workflow did not take it yet (202). */
  const answerFor = controlAnswers({
    reload: (id) => deps.readModel.getJob(id),
    resource: (job) => ({ job: toJobResource(job) }),
  });

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    app.openapi(
      createRoute({
        method: 'post',
        path: `/jobs/{job_id}/${action}`,
        tags: ['job control'],
        summary: `${capitalized(action)} a job`,
        request: { params: JobIdParam, ...optionalBody(ControlBody) },
        responses: { 200: json(SuccessResponse, 'Done and recorded'), 202: sentNotTaken, ...errors },
      }),
      async (c) => {
        const user = c.get('user');
        const row = loadSteerableJob(deps, user, c.req.valid('param').job_id);
        const body = await optionalJson(await c.req.text(), ControlBody);
        const answer = await answerFor(row, capitalized(action), `Job ${pastTense[action]} successfully`, () =>
          deps.commands.control(row, action, actorOf(user), body.reason),
        );
        return c.json(answer.body, answer.status);
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
      const row = loadSteerableJob(deps, user, c.req.valid('param').job_id);
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
      responses: { 200: json(SuccessResponse, 'Restarted'), 202: json(PendingResponse, 'Started; not recorded yet'), ...errors },
    }),
    async (c) => {
      const user = c.get('user');
      const row = loadJob(deps.readModel, user, c.req.valid('param').job_id);
      const after = await deps.commands.retry(row, actorOf(user));
      return c.json({ success: true as const, message: 'Job retry started', job: toJobResource(after) }, 200);
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
        responses: { 200: json(SuccessResponse, 'Changed and recorded'), 202: sentNotTaken, ...errors },
      }),
      async (c) => {
        const user = c.get('user');
        const row = loadSteerableJob(deps, user, c.req.valid('param').job_id);
        const body = c.req.valid('json');
        const answer = await answerFor(row, 'Priority change', 'Job priority updated successfully', () =>
          deps.commands.reprioritize(row, body.priority, actorOf(user), body.reason),
        );
        return c.json(answer.body, answer.status);
      },
    );
  }

  return app;
}
