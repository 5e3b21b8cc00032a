/**
 * Limits on what a request may carry, checked before anything is parsed or written: a body too large
 * is 413 (from Content-Length before reading, or while streaming a chunked body), JSON nested too
 * deeply is 400, a job input larger than a Temporal payload can carry is 413 naming the field.
 */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ApiError } from './errors.js';
import { DEFAULT_MAX_JOB_INPUT_BYTES } from '../commands/inputSize.js';

export interface RequestLimits {
  /** Largest request body, bytes (MAX_REQUEST_BYTES); default 1 MiB. */
  maxRequestBytes: number;
  /** Largest body of `POST /batches`, bytes (MAX_BATCH_REQUEST_BYTES); default 64 MiB. */
  maxBatchRequestBytes: number;
  /** Largest `input` of one job as JSON, bytes (MAX_JOB_INPUT_BYTES); default 256 KiB. It travels in
   * Temporal payloads, whose hard limit is 2 MB. */
  maxJobInputBytes: number;
  /** Deepest nesting of arrays and objects in a JSON body (MAX_JSON_DEPTH); default 64. */
  maxJsonDepth: number;
  /** Largest uploaded file (`POST /files`), bytes (MAX_UPLOAD_BYTES); default 512 MiB. */
  maxUploadBytes: number;
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = {
  maxRequestBytes: 1024 * 1024,
  maxBatchRequestBytes: 64 * 1024 * 1024,
  maxJobInputBytes: DEFAULT_MAX_JOB_INPUT_BYTES,
  maxJsonDepth: 64,
  maxUploadBytes: 512 * 1024 * 1024,
};

/** `POST /api/v1/files`: a multipart upload, streamed to disk by its route under its own limit
 * (maxUploadBytes), so the JSON-body checks and MAX_REQUEST_BYTES do not apply to it. */
export const isUploadRequest = (method: string, urlPath: string) => method === 'POST' && /\/api\/v1\/files\/?$/.test(urlPath);

/** The nesting depth of a JSON text, without parsing it (stops counting past `max`). */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > max) return true;
    } else if (c === 93 /* ] */ || c === 125 /* } */) depth--;
  }
  return false;
}

/** Size limit (413) and depth limit (400) of request bodies, before any route reads them. */
export function requestLimits(limits: RequestLimits): MiddlewareHandler {
  const tooLarge = (max: number, variable: string) => () => {
    throw new ApiError(413, `Request body larger than ${max} bytes (${variable})`);
  };
  const small = bodyLimit({ maxSize: limits.maxRequestBytes, onError: tooLarge(limits.maxRequestBytes, 'MAX_REQUEST_BYTES') });
  const large = bodyLimit({
    maxSize: limits.maxBatchRequestBytes,
    onError: tooLarge(limits.maxBatchRequestBytes, 'MAX_BATCH_REQUEST_BYTES'),
  });
  return async (c, next) => {
    if (!c.req.raw.body || isUploadRequest(c.req.method, c.req.path)) return next();
    const isBatchSubmit = c.req.method === 'POST' && /\/batches\/?$/.test(c.req.path);
    return (isBatchSubmit ? large : small)(c, async () => {
      if ((c.req.header('content-type') ?? '').includes('json') && jsonDepthExceeds(await c.req.text(), limits.maxJsonDepth)) {
        throw new ApiError(400, `JSON nested deeper than ${limits.maxJsonDepth} levels (MAX_JSON_DEPTH)`);
      }
      await next();
    });
  };
}
