import { OpenAPIHono, createRoute, type z } from '@hono/zod-openapi';
import { actorOf, type ApiDeps, type ApiUser, type AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { errorResponses, json } from '../openapi.js';
import { pageHeaders, paged } from '../paging.js';
import { toJobResource } from '../jobResource.js';
import { validationHook } from '../validation.js';
import { eachAtMost } from '../../commands/eachAtMost.js';
import { DeadJobsAction, DeadJobsPage, DeadJobsPurged, DeadJobsQuery, DeadJobsRetried } from '../operationsSchemas.js';
import type { JobRow } from '../../projections/jobReadModel.js';
import { PendingResponse } from '../schemas.js';
import { NotDoneYet } from '../../commands/controlWait.js';

const errors = errorResponses('job');
/** Retries run this many at once (each waits for its new run to show in the read model). */
const RETRY_CONCURRENCY = 4;

/** Whose jobs a caller may act on: an admin anyone's (or the `owner` named), a user only their own. */
function ownerScope(user: ApiUser, owner: string | undefined): string | undefined {
  if (user.role === 'admin') return owner;
  if (owner !== undefined && owner !== user.id) throw new ApiError(403, "owner: only admins may see other users' jobs");
  return user.id;
}

type DeadFilter = Pick<z.infer<typeof DeadJobsAction>, 'type' | 'tag' | 'batch_id' | 'owner'>;

/** Why a job named by id is not a dead letter the caller may act on under `filter`, or null. */
function refusal(row: JobRow | undefined, user: ApiUser, owner: string | undefined, filter: DeadFilter): string | null {
  if (!row) return 'Job not found';
  if (user.role !== 'admin' && row.owner !== user.id) return 'Access denied to this job';
  if (row.status !== 'failed') return `Job is ${row.status}, not failed`;
  const tags = JSON.parse(row.tags ?? '[]') as string[];
  const matches =
    (owner === undefined || row.owner === owner) &&
    (filter.type === undefined || row.type === filter.type) &&
    (filter.batch_id === undefined || row.batch_id === filter.batch_id) &&
    (filter.tag === undefined || tags.includes(filter.tag));
  return matches ? null : 'Job does not match the filter';
}

/**
 * The dead-letter view: jobs that failed for good (a permanent error or their last attempt; status
 * `failed`). List them, retry them (the retry command, a new run each, JobRetried recorded as usual)
 * or purge them (the delete workflow: JobDeleted tombstones, result files removed).
 */
export function deadJobRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  /** The failed jobs an action applies to: those named (each checked) or the filter's first `limit`. */
  const select = (user: ApiUser, body: z.infer<typeof DeadJobsAction>) => {
    const owner = ownerScope(user, body.owner);
    const rows: JobRow[] = [];
    const skipped: { job_id: string; error: string }[] = [];
    if (body.job_ids) {
      for (const id of new Set(body.job_ids).values()) {
        const row = deps.readModel.getJob(id);
        const why = refusal(row, user, owner, body);
        if (why) skipped.push({ job_id: id, error: why });
        else if (rows.length < body.limit) rows.push(row!);
        else skipped.push({ job_id: id, error: `over the limit of ${body.limit}` });
      }
    } else {
      const page = deps.readModel.listJobs({
        status: 'failed',
        owner,
        type: body.type,
        tag: body.tag,
        batchId: body.batch_id,
        limit: body.limit,
      });
      rows.push(...page.jobs);
    }
    return { rows, skipped };
  };

  app.openapi(
    createRoute({
      method: 'get',
      path: '/jobs/dead',
      tags: ['operations'],
      summary: 'Failed jobs (the dead-letter view), newest first, with their last error and attempts',
      request: { query: DeadJobsQuery },
      responses: { 200: json(DeadJobsPage, 'A page of failed jobs'), ...errors },
    }),
    (c) => {
      const q = c.req.valid('query');
      const user = c.get('user');
      const filter = { status: 'failed', owner: ownerScope(user, q.owner), type: q.type, tag: q.tag, batchId: q.batch_id };
      const page = paged(() => deps.readModel.listJobs({ ...filter, cursor: q.cursor, limit: q.limit }));
      pageHeaders(c, page.nextCursor);
      const now = Date.now();
      const jobs = page.jobs.map((row) => ({
        ...toJobResource(row, now),
        last_error: row.error_message,
        failed_at: row.completed_at,
      }));
      return c.json({ jobs, next_cursor: page.nextCursor, total: deps.readModel.countJobs(filter) }, 200);
    },
  );

  /** POST /jobs/dead/{action}: same body (a filter, ids, a reason), one response each. */
  const actionRoute = <P extends string, R extends z.ZodType>(path: P, summary: string, response: R, description: string) =>
    createRoute({
      method: 'post',
      path,
      tags: ['operations'],
      summary,
      request: { body: { content: { 'application/json': { schema: DeadJobsAction } }, required: true } },
      responses: { 200: json(response, description), 202: json(PendingResponse, 'Started; not finished yet'), ...errors },
    });

  app.openapi(
    actionRoute(
      '/jobs/dead/retry',
      'Retry failed jobs: those named, or every one matching the filter (up to limit)',
      DeadJobsRetried,
      'Retried (each as a new run; JobRetried recorded)',
    ),
    async (c) => {
      const user = c.get('user');
      const body = c.req.valid('json');
      const { rows, skipped } = select(user, body);
      const retried = new Set<string>();
      // Once a retry was not recorded in time (no worker runs the jobs), the rest do not wait for theirs.
      let recordsLag = false;
      const retryOne = async (row: (typeof rows)[number]) => {
        try {
          const reason = body.reason ?? 'retried from the dead-letter view';
          await deps.commands.retry(row, actorOf(user), reason, { waitForRecord: !recordsLag });
          retried.add(row.id);
        } catch (error) {
          // Started, not recorded yet (no worker ran it): retried all the same.
          if (error instanceof NotDoneYet) {
            recordsLag = true;
            retried.add(row.id);
            return;
          }
          skipped.push({ job_id: row.id, error: error instanceof ApiError ? error.details : (error as Error).message });
        }
      };
      await eachAtMost(rows, RETRY_CONCURRENCY, retryOne);
      const jobIds = rows.map((row) => row.id).filter((id) => retried.has(id));
      return c.json({ retried: jobIds.length, job_ids: jobIds, skipped }, 200);
    },
  );

  app.openapi(
    actionRoute(
      '/jobs/dead/purge',
      'Delete failed jobs: those named, or every one matching the filter (up to limit); the log keeps tombstones',
      DeadJobsPurged,
      'Deleted through the delete workflow',
    ),
    async (c) => {
      const user = c.get('user');
      const { rows, skipped } = select(user, c.req.valid('json'));
      const reason = c.req.valid('json').reason ?? 'purged from the dead-letter view';
      const { deleted, freedBytes } = await deps.commands.deleteJobs(rows, actorOf(user), reason);
      return c.json({ deleted, job_ids: rows.map((row) => row.id), freed_bytes: freedBytes, skipped }, 200);
    },
  );

  return app;
}
