import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import type { AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { errorResponses, json } from '../openapi.js';
import { validationHook } from '../validation.js';
import { TimeseriesQuery, TimeseriesResponse, WorkersResponse } from '../operationsSchemas.js';
import type { WorkersView } from '../../temporal/taskQueueWorkers.js';
import type { ThroughputReadModel } from '../../projections/throughput.js';

export interface OperationsDeps {
  /** The worker processes of the engine's task queues, as Temporal reports them. */
  workerList: () => Promise<WorkersView>;
  throughput: ThroughputReadModel;
}

const errors = errorResponses('job');

/** GET /workers (admins) and GET /stats/timeseries (a user's own jobs; an admin's: all). */
export function operationsRoutes(deps: OperationsDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/workers',
      tags: ['operations'],
      summary: "The worker processes polling the engine's task queues (admins)",
      responses: { 200: json(WorkersResponse, 'Worker processes'), ...errors },
    }),
    async (c) => {
      // Hosts, pids and the engine's queues are the operators' business, not a user's.
      if (c.get('user').role !== 'admin') throw new ApiError(403, 'Only admins may list workers');
      return c.json(await deps.workerList(), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/stats/timeseries',
      tags: ['operations'],
      summary: 'Jobs submitted, completed, failed, cancelled … per time bucket (from the read model)',
      request: { query: TimeseriesQuery },
      responses: { 200: json(TimeseriesResponse, 'Buckets, oldest first, the last one holding now'), ...errors },
    }),
    (c) => {
      const { minutes, bucket_seconds } = c.req.valid('query');
      const user = c.get('user');
      const count = Math.max(1, Math.ceil((minutes * 60) / bucket_seconds));
      const buckets = deps.throughput.buckets({
        bucketSeconds: bucket_seconds,
        count,
        owner: user.role === 'admin' ? undefined : user.id,
      });
      return c.json({ bucket_seconds, buckets }, 200);
    },
  );

  return app;
}
