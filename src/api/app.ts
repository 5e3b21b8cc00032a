import { OpenAPIHono } from '@hono/zod-openapi';
import type { ApiDeps, ApiUser, AppEnv } from './context.js';
import { ApiError, onError } from './errors.js';
import { jobHistoryRoutes, jobRoutes } from './routes/jobs.js';
import { poolRoutes } from './routes/pools.js';
import { jobControlRoutes } from './routes/jobControl.js';
import { jobHousekeepingRoutes } from './routes/jobHousekeeping.js';
import { jobEventRoutes } from './routes/jobEvents.js';
import { bulkRoutes } from './routes/bulk.js';
import { opsRoutes } from './routes/ops.js';
import { deadJobRoutes } from './routes/deadJobs.js';
import { operationsRoutes } from './routes/operations.js';
import { batchControlRoutes, batchDetailRoutes, batchRoutes } from './routes/batches.js';
import { scheduleControlRoutes, scheduleRoutes } from './routes/schedules.js';
import { validationHook } from './validation.js';
import { webhookRoutes } from './routes/webhooks.js';
import { fileRoutes, jobFileRoutes } from './routes/files.js';
import { DEFAULT_REQUEST_LIMITS, requestLimits, type RequestLimits } from './limits.js';
import { readModelAdminRoutes } from './routes/readModelAdmin.js';
import { methodNotAllowed, requireJsonBody, withGlobalResponses } from './globalResponses.js';
import { dashboardRoutes, type DashboardOptions } from '../ui/dashboard.js';

export interface AppOptions {
  /** Resolves the caller from the request (throws ApiError 401); the default treats every caller
   * as one local admin (development without JWT_SECRET). */
  authenticate?: (request: Request) => ApiUser | Promise<ApiUser>;
  /** Request size and depth limits; defaults in DEFAULT_REQUEST_LIMITS. */
  limits?: Partial<RequestLimits>;
  /** The dashboard at /ui/ (`/` redirects there): its options, or `false` for none. Default: served,
   * without links to a Temporal Web UI. */
  dashboard?: DashboardOptions | false;
}

const localAdmin: ApiUser = { id: 'local', role: 'admin' };

const DOCS_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Job engine API</title>
<link rel="stylesheet" href="https://unpkg.com/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="https://unpkg.com/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({ url: './openapi.json', dom_id: '#ui' });</script>
<noscript>The OpenAPI document is at <a href="./openapi.json">openapi.json</a>.</noscript>
</body></html>`;

/** The HTTP API: reads the read model, writes through Temporal. */
export function createApp(deps: ApiDeps, options: AppOptions = {}) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.onError(onError);
  let allowedMethods: ReturnType<typeof methodNotAllowed> | undefined;
  app.notFound((c) => {
    allowedMethods ??= methodNotAllowed(app.routes);
    const wrongMethod = allowedMethods(c.req.method, c.req.path);
    if (!wrongMethod) return onError(new ApiError(404, `No route for ${c.req.method} ${c.req.path}`), c);
    c.header('Allow', wrongMethod.allow);
    return onError(new ApiError(405, `${c.req.method} is not allowed on ${c.req.path}; allowed: ${wrongMethod.allow}`), c);
  });

  if (deps.ops) {
    const ops = opsRoutes(deps.ops);
    app.use('*', ops.middleware);
    app.route('/', ops.app);
  } else {
    app.get('/healthz', (c) => c.json({ status: 'ok' }));
  }

  const api = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  // The document and its page are public; everything else needs a user.
  api.get('/docs', (c) => c.html(DOCS_PAGE));
  const docConfig = {
    openapi: '3.1.0',
    info: { title: 'Job engine API', version: '1.0.0', description: 'Durable jobs on Temporal: submit, watch and steer jobs.' },
    // Paths below are relative to /api/v1: tools that call `/jobs/...` must prefix it.
    servers: [{ url: '/api/v1' }],
    security: [{ bearerAuth: [] }],
  };
  // Built once, on the first request (every route is registered by then).
  let document: ReturnType<typeof api.getOpenAPI31Document> | undefined;
  api.get('/openapi.json', (c) =>
    c.json((document ??= withGlobalResponses(api.getOpenAPI31Document(docConfig), { auth: options.authenticate !== undefined }))),
  );
  api.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  api.use('*', async (c, next) => {
    c.set('user', options.authenticate ? await options.authenticate(c.req.raw) : localAdmin);
    await next();
  });
  // After authentication (an anonymous caller learns nothing), before any route reads a body.
  api.use('*', requireJsonBody);
  const limits = { ...DEFAULT_REQUEST_LIMITS, ...options.limits };
  api.use('*', requestLimits(limits));
  api.route('/', jobEventRoutes(deps));
  api.route('/', bulkRoutes(deps));
  // Before /jobs/{job_id} and /jobs/{job_id}/retry, which would take `dead` for a job id.
  api.route('/', deadJobRoutes(deps));
  if (deps.operations) api.route('/', operationsRoutes(deps.operations));
  api.route('/', jobRoutes(deps));
  api.route('/', jobHistoryRoutes(deps));
  api.route('/', jobControlRoutes(deps));
  api.route('/', jobHousekeepingRoutes(deps));
  if (deps.pools) api.route('/', poolRoutes({ readModel: deps.readModel, pools: deps.pools }));
  if (deps.batches) {
    const batchDeps = { batches: deps.batches.readModel, jobs: deps.readModel, commands: deps.batches.commands };
    api.route('/', batchRoutes(batchDeps));
    api.route('/', batchDetailRoutes(batchDeps));
    api.route('/', batchControlRoutes(batchDeps));
  }
  if (deps.schedules) {
    const scheduleDeps = { schedules: deps.schedules.readModel, commands: deps.schedules.commands, jobs: deps.readModel };
    api.route('/', scheduleRoutes(scheduleDeps));
    api.route('/', scheduleControlRoutes(scheduleDeps));
  }
  if (deps.webhooks)
    api.route('/', webhookRoutes({ webhooks: deps.webhooks.readModel, commands: deps.webhooks.commands, events: deps.events }));
  if (deps.files) {
    api.route('/', fileRoutes({ ...deps.files, jobs: deps.readModel, maxUploadBytes: limits.maxUploadBytes }));
    api.route('/', jobFileRoutes({ ...deps.files, readModel: deps.readModel }));
  }
  if (deps.readModelRebuild) api.route('/', readModelAdminRoutes(deps.readModelRebuild));
  app.route('/api/v1', api);
  if (options.dashboard !== false) app.route('/', dashboardRoutes(options.dashboard ?? {}));
  return app;
}

export type App = ReturnType<typeof createApp>;
