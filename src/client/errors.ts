/** The client's errors: one class, `JobEngineError`, with a subclass per status a caller handles. */

/** What went wrong, as a word: the HTTP status's meaning, or `network` / `timeout` when no answer came. */
export type JobEngineErrorKind =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'unavailable'
  | 'server'
  | 'network'
  | 'timeout'
  | 'other';

const KIND_OF_STATUS: Record<number, JobEngineErrorKind> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  503: 'unavailable',
};

export const kindOfStatus = (status: number): JobEngineErrorKind =>
  KIND_OF_STATUS[status] ?? (status >= 500 ? 'server' : status === 0 ? 'network' : 'other');

/**
 * An error answer of the API (`{error, details, timestamp}`), or no answer at all (status 0, kind
 * `network` or `timeout`). `error` is the reason phrase, `details` the API's sentence.
 */
export class JobEngineError extends Error {
  override name = 'JobEngineError';
  readonly kind: JobEngineErrorKind;
  constructor(
    /** The HTTP status; 0 when no response came. */
    readonly status: number,
    /** The reason phrase of the error body (`Not Found`), or a short label. */
    readonly error: string,
    /** The API's sentence (`Job not found: job_…`). */
    readonly details: string,
    options: { kind?: JobEngineErrorKind; timestamp?: string; method?: string; url?: string; cause?: unknown } = {},
  ) {
    super(`${options.method ?? ''} ${options.url ?? ''} → ${status || options.kind || 'no answer'} ${error}: ${details}`.trim(), {
      cause: options.cause,
    });
    this.kind = options.kind ?? kindOfStatus(status);
    this.timestamp = options.timestamp;
    this.method = options.method;
    this.url = options.url;
  }
  /** When the server wrote the error body. */
  readonly timestamp?: string;
  readonly method?: string;
  readonly url?: string;
}

export class BadRequestError extends JobEngineError {
  override name = 'BadRequestError';
}
export class UnauthorizedError extends JobEngineError {
  override name = 'UnauthorizedError';
}
export class ForbiddenError extends JobEngineError {
  override name = 'ForbiddenError';
}
export class NotFoundError extends JobEngineError {
  override name = 'NotFoundError';
}
export class ConflictError extends JobEngineError {
  override name = 'ConflictError';
}
export class PayloadTooLargeError extends JobEngineError {
  override name = 'PayloadTooLargeError';
}
export class UnavailableError extends JobEngineError {
  override name = 'UnavailableError';
}
/** No answer: the connection failed or was reset. */
export class JobEngineNetworkError extends JobEngineError {
  override name = 'JobEngineNetworkError';
}
/** No answer in time (a request's `timeoutMs`, or `waitForCompletion`'s). */
export class JobEngineTimeoutError extends JobEngineError {
  override name = 'JobEngineTimeoutError';
}

/** The subclass of each kind that has one (the statuses are KIND_OF_STATUS's: one table, not two to keep in step). */
const CLASS_OF_KIND: Partial<Record<JobEngineErrorKind, typeof JobEngineError>> = {
  bad_request: BadRequestError,
  unauthorized: UnauthorizedError,
  forbidden: ForbiddenError,
  not_found: NotFoundError,
  conflict: ConflictError,
  payload_too_large: PayloadTooLargeError,
  unavailable: UnavailableError,
};

/** The error for an answer that is not 2xx, from its body (`{error, details, timestamp}` or anything else). */
export function errorFromResponse(status: number, statusText: string, text: string, request: { method: string; url: string }) {
  let error = statusText || `HTTP ${status}`;
  let details = text.slice(0, 2000);
  let timestamp: string | undefined;
  try {
    const body = JSON.parse(text) as { error?: unknown; details?: unknown; timestamp?: unknown };
    if (typeof body.error === 'string') error = body.error;
    if (typeof body.details === 'string') details = body.details;
    if (typeof body.timestamp === 'string') timestamp = body.timestamp;
  } catch {
    // not the API's JSON (a proxy's page): the text is the details
  }
  const Class = CLASS_OF_KIND[kindOfStatus(status)] ?? JobEngineError;
  return new Class(status, error, details, { timestamp, ...request });
}
