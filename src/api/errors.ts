import { isGrpcServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { DomainError } from '../domain/index.js';
import { NotDoneYet } from '../commands/controlWait.js';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

const REASON_PHRASES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export const reasonPhrase = (status: number) => REASON_PHRASES[status] ?? 'Error';

/** The one error type of the API: a status and a sentence for the caller. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly details: string,
  ) {
    super(details);
  }
}

export const notFound = (details: string) => new ApiError(404, details);
export const badRequest = (details: string) => new ApiError(400, details);
export const conflict = (details: string) => new ApiError(409, details);

/** `{ error, details, timestamp }` for every 4xx/5xx. */
export function errorBody(status: number, details: string) {
  return { error: reasonPhrase(status), details, timestamp: new Date().toISOString() };
}

/** How each kind of domain error answers over HTTP: the one place this mapping lives. */
const STATUS_OF_KIND: Record<DomainError['kind'], ContentfulStatusCode> = {
  invalid: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unavailable: 503,
};

export function onError(err: Error, c: Context) {
  if (err instanceof ApiError) return c.json(errorBody(err.status, err.details), err.status);
  if (err instanceof DomainError) return c.json(errorBody(STATUS_OF_KIND[err.kind], err.message), STATUS_OF_KIND[err.kind]);
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    return c.json(errorBody(status, err.message || reasonPhrase(status)), status);
  }
  if (err instanceof SyntaxError) return c.json(errorBody(400, `Malformed JSON body: ${err.message}`), 400);
  // Not an error: handed to Temporal, not done yet (PendingResponse; documented where it can happen).
  if (err instanceof NotDoneYet) return c.json({ success: true, pending: true, message: err.message }, 202);
  if (temporalNotAnswering(err)) {
    c.header('Retry-After', '1');
    return c.json(errorBody(503, TEMPORAL_NOT_ANSWERING), 503);
  }
  console.error('[api] unexpected error', err);
  return c.json(errorBody(500, 'Unexpected error; see the server log'), 500);
}

const TEMPORAL_NOT_ANSWERING =
  'Temporal did not answer (restarting or overloaded); try again. A control sent meanwhile may still take effect: GET the job to see.';

/** gRPC codes of a Temporal server that is down, restarting or overloaded: DEADLINE_EXCEEDED,
 * RESOURCE_EXHAUSTED, UNAVAILABLE. */
const NOT_ANSWERING_CODES = new Set([4, 8, 14]);

/**
 * The Temporal server did not take the request (down, restarting, or too busy to answer in time): a
 * 503 the caller can retry, not a 500 — nothing is wrong with the request or the engine. The client has
 * retried UNAVAILABLE for about 20 s before it gives up, so this is an outage, not a blip.
 */
export function temporalNotAnswering(err: unknown): boolean {
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return true;
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 5; depth++) {
    if (isGrpcServiceError(e) && NOT_ANSWERING_CODES.has(e.code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
