/**
 * Error types of the domain. The `*_TYPE` strings cross Temporal as ApplicationFailure types (update
 * validators, step failures) and are mapped to HTTP statuses in one place (src/api/errors.ts).
 */

/** The request makes no sense in the job's (or batch's) current state → 409. */
export const INVALID_TRANSITION = 'InvalidTransition';
/** The request's own content is wrong (e.g. a priority out of range) → 400. */
export const INVALID_ARGUMENT = 'InvalidArgument';
/** A step failure that must not be retried (thrown as PermanentJobError by job code). */
export const PERMANENT_ERROR_TYPE = 'PermanentJobError';
/** errorType of a JobAttemptFailed whose step was lost with its worker (it stopped heartbeating). */
export const WORKER_LOST = 'WorkerLost';
/** errorType of a job that ran longer than its timeout (running time only). */
export const JOB_TIMEOUT = 'JobTimeout';

/** Why a control request is refused: a failure type above and a sentence for the caller. */
export interface Refusal {
  type: typeof INVALID_TRANSITION | typeof INVALID_ARGUMENT;
  message: string;
}

/** A domain rule refused a command; `kind` says how (the API maps kinds to HTTP statuses). */
export class DomainError extends Error {
  override readonly name = 'DomainError';
  constructor(
    readonly kind: 'invalid' | 'not_found' | 'forbidden' | 'conflict' | 'too_large' | 'unavailable',
    message: string,
  ) {
    super(message);
  }
}
