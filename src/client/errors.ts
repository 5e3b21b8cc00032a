/** The API's error body `{error, details, timestamp}` as a typed error. */
export type JobEngineErrorKind =
  'invalid' | 'unauthorized' | 'forbidden' | 'not_found' | 'conflict' | 'too_large' | 'unavailable' | 'timeout' | 'other';

const KIND_OF_STATUS: Record<number, JobEngineErrorKind> = {
  400: 'invalid',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'too_large',
  503: 'unavailable',
};

export class JobEngineError extends Error {
  override readonly name = 'JobEngineError';
  /** What kind of refusal: 400 invalid, 403 forbidden, 404 not_found, 409 conflict, 413 too_large … */
  readonly kind: JobEngineErrorKind;
  constructor(
    /** HTTP status; 0 when no answer came (connection error, timeout). */
    readonly status: number,
    /** The API's reason phrase (`Bad Request`, `Not Found`, …). */
    readonly error: string,
    /** The API's explanation (names the field for a 400). */
    readonly details: string,
    kind?: JobEngineErrorKind,
  ) {
    super(`${status || 'no answer'} ${error}: ${details}`);
    this.kind = kind ?? KIND_OF_STATUS[status] ?? 'other';
  }
}
