/**
 * What every operation can answer because of the middleware in front of all of them — documented in
 * one place, so the OpenAPI document tells the truth without each route repeating it.
 */
import type { MiddlewareHandler } from 'hono';
import { ApiError } from './errors.js';
import { isUploadRequest } from './limits.js';

const errorRef = { $ref: '#/components/schemas/Error' };
const response = (status: number, description: string) => ({
  [status]: { description, content: { 'application/json': { schema: errorRef } } },
});

type Operation = { requestBody?: unknown; responses?: Record<string, unknown>; security?: unknown[] };

/** Adds the statuses of the global middleware to every operation of an OpenAPI document. */
export function withGlobalResponses<T extends { paths?: object }>(doc: T, options: { auth: boolean }): T {
  for (const item of Object.values((doc.paths ?? {}) as Record<string, Record<string, unknown>>)) {
    for (const [method, value] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const operation = value as Operation;
      operation.responses = {
        ...response(400, 'Invalid request (the details name the field)'),
        ...(options.auth ? response(401, 'Missing, invalid or expired token') : {}),
        ...(operation.requestBody
          ? {
              ...response(413, 'Request body or a job input larger than the configured limit'),
              ...response(415, 'The body is not application/json'),
            }
          : {}),
        ...response(500, 'Unexpected error (see the server log)'),
        ...response(503, 'Temporal did not answer (restarting or overloaded); try again after Retry-After'),
        ...operation.responses,
      };
    }
  }
  return doc;
}

/** 415 for a body that is not JSON (every body this API takes is JSON). */
export const requireJsonBody: MiddlewareHandler = async (c, next) => {
  // A body is announced by a non-zero Content-Length or by chunked transfer; a bare PUT has none.
  const length = Number(c.req.header('content-length') ?? '0');
  const hasBody = c.req.raw.body !== null && (length > 0 || c.req.header('transfer-encoding') !== undefined);
  const type = c.req.header('content-type') ?? '';
  if (isUploadRequest(c.req.method, c.req.path)) return next(); // multipart: its route checks the type
  if (hasBody && ['POST', 'PUT', 'PATCH'].includes(c.req.method) && !/^application\/([\w.+-]+\+)?json\b/i.test(type)) {
    throw new ApiError(415, `Content-Type must be application/json, not ${type || 'missing'}`);
  }
  await next();
};

/**
 * For a request no route matched: 405 with an Allow header when the path exists for other methods,
 * else 404. `routes` are the app's routes in Hono's path syntax (`/api/v1/jobs/:job_id`).
 */
export function methodNotAllowed(routes: { method: string; path: string }[]) {
  const patterns = new Map<string, { pattern: RegExp; methods: Set<string> }>();
  for (const { method, path } of routes) {
    if (method === 'ALL' || path.includes('*')) continue;
    const entry = patterns.get(path) ?? {
      pattern: new RegExp(`^${path.replace(/:[^/]+/g, '[^/]+')}/?$`),
      methods: new Set<string>(),
    };
    entry.methods.add(method);
    patterns.set(path, entry);
  }
  return (method: string, path: string): { status: 405; allow: string } | undefined => {
    const allowed = new Set<string>();
    for (const entry of patterns.values()) if (entry.pattern.test(path)) for (const m of entry.methods) allowed.add(m);
    if (allowed.size === 0 || allowed.has(method)) return undefined;
    return { status: 405, allow: [...allowed].sort().join(', ') };
  };
}
