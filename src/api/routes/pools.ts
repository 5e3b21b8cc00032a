import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { ErrorResponse, PoolParam, PoolPendingResponse, PoolResource, PutPoolBody } from '../schemas.js';
import { actorOf, type AppEnv } from '../context.js';
import { ApiError, notFound } from '../errors.js';
import { validationHook } from '../validation.js';
import { errorResponses, json } from '../openapi.js';
import type { JobReadModel, PoolView } from '../../projections/jobReadModel.js';
import type { PoolCommands } from '../../commands/poolCommands.js';

const errors = errorResponses('pool');

const toPoolResource = (pool: PoolView) => ({
  name: pool.name,
  limit: pool.limit,
  used: pool.used,
  running: pool.running,
  queued: pool.queued,
  queued_by_priority: pool.queued_by_priority,
  created_at: pool.created_at,
  updated_at: pool.updated_at,
});

/** Resource pools: named concurrency limits that hold across every worker. */
export function poolRoutes(deps: { readModel: JobReadModel; pools: PoolCommands }) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/pools',
      tags: ['pools'],
      summary: 'Resource pools, their limits, and who runs and waits in them',
      responses: { 200: json(z.array(PoolResource), 'Pools'), ...errors },
    }),
    (c) => c.json(deps.readModel.listPools().map(toPoolResource), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/pools/{name}',
      tags: ['pools'],
      summary: 'One resource pool',
      request: { params: PoolParam },
      responses: { 200: json(PoolResource, 'The pool'), ...errors },
    }),
    (c) => {
      const name = c.req.valid('param').name;
      const pool = deps.readModel.getPool(name);
      if (!pool) throw notFound(`Pool not found: ${name}`);
      return c.json(toPoolResource(pool), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/pools/{name}',
      tags: ['pools'],
      summary: 'Create a pool or change its limit (admins); recorded as PoolCreated / PoolLimitChanged',
      request: { params: PoolParam, body: { content: { 'application/json': { schema: PutPoolBody } }, required: true } },
      responses: {
        200: json(PoolResource, 'The pool with its new limit'),
        202: json(
          PoolPendingResponse,
          "Sent; the pool's workflow has not taken it within CONTROL_WAIT_MS (kept in its history: it takes effect when the pool runs next); `pool` as it is",
        ),
        ...errors,
        503: json(
          ErrorResponse,
          'The pool has not recorded the change (no worker running, or its run was ended meanwhile) and it could not be kept: try again',
        ),
      },
    }),
    async (c) => {
      const user = c.get('user');
      if (user.role !== 'admin') throw new ApiError(403, 'Only admins change pools');
      const body = c.req.valid('json');
      const change = await deps.pools.setLimit(c.req.valid('param').name, body.limit, actorOf(user), body.reason);
      if (change.pending)
        return c.json(
          { success: true as const, pending: true as const, message: change.pending, pool: toPoolResource(change.pool) },
          202,
        );
      return c.json(toPoolResource(change.pool), 200);
    },
  );

  return app;
}
