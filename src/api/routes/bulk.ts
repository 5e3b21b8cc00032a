import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { ApiDeps, AppEnv } from '../context.js';
import { actorOf, loadJob, loadSteerableJob } from '../context.js';
import { ApiError, badRequest } from '../errors.js';
import { ErrorResponse, JobStatusEnum, Priority } from '../schemas.js';
import { validationHook } from '../validation.js';
import { eachAtMost } from '../../commands/eachAtMost.js';
import type { JobRow } from '../../projections/jobReadModel.js';
import { NotDoneYet } from '../../commands/controlWait.js';

export const BulkBody = z
  .object({
    action: z.enum(['cancel', 'pause', 'resume', 'reprioritize', 'retry', 'delete']),
    ids: z.array(z.string().min(1).max(200)).min(1).max(1000).optional(),
    filter: z
      .object({
        status: JobStatusEnum.optional(),
        type: z.string().optional(),
        priority: z.number().int().min(1).max(4).optional(),
        batch_id: z.string().optional(),
        name: z.string().optional(),
      })
      .strict()
      .optional(),
    priority: Priority.optional(),
    reason: z.string().max(1000).optional(),
    /** Upper bound on the jobs a filter may select. */
    limit: z.number().int().min(1).max(1000).default(1000),
  })
  .strict()
  .openapi('BulkRequest');

export const BulkResponse = z
  .object({
    action: z.string(),
    matched: z.number().int(),
    succeeded: z.number().int(),
    failed: z.number().int(),
    results: z.array(
      z.object({
        job_id: z.string(),
        success: z.boolean(),
        pending: z.literal(true).optional().openapi({
          description: 'Sent, not taken yet by the job’s workflow (no worker ran it within CONTROL_WAIT_MS); GET to see',
        }),
        status: z.string().nullable(),
        error: z.string().nullable(),
      }),
    ),
  })
  .openapi('BulkResult');

/** POST /jobs/bulk: one action on many jobs (by ids or by filter); an outcome per job. */
export function bulkRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.openapi(
    createRoute({
      method: 'post',
      path: '/jobs/bulk',
      tags: ['job control'],
      summary: 'Apply cancel, pause, resume, reprioritize, retry or delete to many jobs',
      request: { body: { content: { 'application/json': { schema: BulkBody } }, required: true } },
      responses: {
        200: { content: { 'application/json': { schema: BulkResponse } }, description: 'Per-job outcomes' },
        400: { content: { 'application/json': { schema: ErrorResponse } }, description: 'Invalid request' },
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const user = c.get('user');
      if (!body.ids === !body.filter) throw badRequest('ids or filter: give exactly one');
      if (body.action === 'reprioritize' && body.priority === undefined) throw badRequest('priority: required for reprioritize');
      const actor = actorOf(user);
      const targets: { id: string; row?: JobRow; error?: string }[] = [];
      if (body.ids) {
        // A control also reaches a job whose submit answered 202 and is not in the read model yet.
        const steers = body.action !== 'retry' && body.action !== 'delete';
        for (const id of body.ids) {
          try {
            targets.push({ id, row: steers ? loadSteerableJob(deps, user, id) : loadJob(deps.readModel, user, id) });
          } catch (error) {
            targets.push({ id, error: (error as Error).message });
          }
        }
      } else {
        const f = body.filter!;
        const page = deps.readModel.listJobs({
          owner: user.role === 'admin' ? undefined : user.id,
          status: f.status,
          type: f.type,
          priority: f.priority,
          batchId: f.batch_id,
          nameContains: f.name,
          limit: body.limit,
        });
        for (const row of page.jobs) targets.push({ id: row.id, row });
      }

      const results: { job_id: string; success: boolean; pending?: true; status: string | null; error: string | null }[] = [];
      // One bound for the request: once a job did not take its control within the wait and no other job
      // took one for as long (no worker runs the jobs), the rest are not sent — each would wait the bound
      // too. One stuck job among live ones does not stop the others: they keep taking theirs.
      const wait = deps.commands.controlWaitMs;
      let lastTaken = Date.now();
      let notTaken = false;
      const run = async (target: (typeof targets)[number]) => {
        if (!target.row) {
          results.push({ job_id: target.id, success: false, status: null, error: target.error ?? 'not found' });
          return;
        }
        if (notTaken && Date.now() - lastTaken >= wait) {
          const error = 'not sent: the jobs before it did not take theirs (is a worker running?); send it again';
          results.push({ job_id: target.id, success: false, status: target.row.status, error });
          return;
        }
        try {
          let after: JobRow | undefined;
          if (body.action === 'delete') {
            await deps.commands.deleteJobs([target.row], actor, body.reason ?? 'bulk delete');
          } else if (body.action === 'reprioritize') {
            after = await deps.commands.reprioritize(target.row, body.priority!, actor, body.reason);
          } else if (body.action === 'retry') {
            after = await deps.commands.retry(target.row, actor);
          } else {
            after = await deps.commands.control(target.row, body.action, actor, body.reason);
          }
          lastTaken = Date.now();
          results.push({
            job_id: target.id,
            success: true,
            status: body.action === 'delete' ? 'deleted' : (after?.status ?? null),
            error: null,
          });
        } catch (error) {
          if (error instanceof NotDoneYet) {
            notTaken = true;
            const status = deps.readModel.getJob(target.id)?.status ?? target.row.status;
            results.push({ job_id: target.id, success: true, pending: true, status, error: null });
            return;
          }
          results.push({
            job_id: target.id,
            success: false,
            status: target.row.status,
            error: error instanceof ApiError ? error.details : (error as Error).message,
          });
        }
      };
      await eachAtMost(targets, 8, run);
      const order = new Map(targets.map((t, i) => [t.id, i]));
      results.sort((a, b) => order.get(a.job_id)! - order.get(b.job_id)!);
      const succeeded = results.filter((r) => r.success).length;
      return c.json(
        { action: body.action, matched: targets.length, succeeded, failed: results.length - succeeded, results },
        200,
      );
    },
  );
  return app;
}
