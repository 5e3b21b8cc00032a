import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppEnv } from '../context.js';
import { ApiError, notFound } from '../errors.js';
import { validationHook } from '../validation.js';
import { json } from '../openapi.js';
import { ErrorResponse } from '../schemas.js';
import { RebuildInProgressError, type ReadModelRebuildStatus, type ReadModelRebuilder } from '../../projections/onlineRebuild.js';

const RebuildResource = z
  .object({
    id: z.string(),
    state: z.enum(['building', 'catching-up', 'completed', 'failed']),
    started_at: z.string(),
    finished_at: z.string().nullable(),
    built_to: z
      .number()
      .int()
      .openapi({ description: 'The log position the build read up to (the end of the log at the start).' }),
    events: z.number().int(),
    jobs: z.number().int(),
    build_ms: z.number().nullable(),
    tail_events: z
      .number()
      .int()
      .openapi({ description: 'Events appended during the build, applied to the new read model after it.' }),
    swapped_at: z.number().int().nullable().openapi({ description: 'The new read model’s position when it took over.' }),
    swap_pause_ms: z.number().nullable().openapi({ description: 'How long reads waited for the swap.' }),
    error: z.string().nullable(),
  })
  .openapi('ReadModelRebuild');

const RebuildParam = z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) });

const errors = {
  403: json(ErrorResponse, 'Admins only'),
  404: json(ErrorResponse, 'No such rebuild (only the latest is kept)'),
  409: json(ErrorResponse, 'A rebuild is already running'),
};

const toResource = (s: ReadModelRebuildStatus): z.infer<typeof RebuildResource> => ({
  id: s.id,
  state: s.state,
  started_at: s.startedAt,
  finished_at: s.finishedAt,
  built_to: s.builtTo,
  events: s.events,
  jobs: s.jobs,
  build_ms: s.buildMs,
  tail_events: s.tailEvents,
  swapped_at: s.swappedAt,
  swap_pause_ms: s.swapPauseMs,
  error: s.error,
});

/** Online rebuild of the read model (admins): built beside the live one, swapped in between two requests. */
export function readModelAdminRoutes(rebuilder: ReadModelRebuilder) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.use('/admin/*', async (c, next) => {
    if (c.get('user').role !== 'admin') throw new ApiError(403, 'Only admins rebuild the read model');
    await next();
  });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/admin/read-model/rebuild',
      tags: ['admin'],
      summary: 'Rebuild the read model from the log while the API keeps serving the current one; swaps when done',
      responses: { 202: json(RebuildResource, 'Started; follow it at Location'), ...errors },
    }),
    (c) => {
      let status: ReadModelRebuildStatus;
      try {
        status = rebuilder.start();
      } catch (error) {
        if (error instanceof RebuildInProgressError) throw new ApiError(409, error.message);
        throw error;
      }
      c.header('Location', `/api/v1/admin/read-model/rebuild/${status.id}`);
      return c.json(toResource(status), 202);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/admin/read-model/rebuild/{id}',
      tags: ['admin'],
      summary: 'A read-model rebuild: its phase and figures',
      request: { params: RebuildParam },
      responses: { 200: json(RebuildResource, 'The rebuild'), ...errors },
    }),
    (c) => {
      const id = c.req.valid('param').id;
      const status = rebuilder.status(id);
      if (!status) throw notFound(`Rebuild not found: ${id}`);
      return c.json(toResource(status), 200);
    },
  );

  return app;
}
