import { OpenAPIHono } from '@hono/zod-openapi';
import type { ApiDeps, ApiUser, AppEnv } from './context.js';
import { ApiError, onError } from './errors.js';
import { jobRoutes } from './routes/jobs.js';
import { validationHook } from './validation.js';

export interface AppOptions {
  /** Resolves the caller from the request; the default treats every caller as one local admin. */
  authenticate?: (request: Request) => ApiUser | Promise<ApiUser>;
}

const localAdmin: ApiUser = { id: 'local', role: 'admin' };

/** The HTTP API: reads the read model, writes through Temporal. */
export function createApp(deps: ApiDeps, options: AppOptions = {}) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.onError(onError);
  app.notFound((c) => onError(new ApiError(404, `No route for ${c.req.method} ${c.req.path}`), c));

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  const api = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  api.use('*', async (c, next) => {
    c.set('user', options.authenticate ? await options.authenticate(c.req.raw) : localAdmin);
    await next();
  });
  api.route('/', jobRoutes(deps));
  api.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Job engine API', version: '1.0.0', description: 'Durable jobs on Temporal' },
  });
  app.route('/api/v1', api);
  return app;
}

export type App = ReturnType<typeof createApp>;
