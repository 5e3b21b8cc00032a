import { EventIdConflictError } from './errors.js';

/**
 * Failed appends of this process, for /metrics and /readyz: a store that keeps refusing the record
 * must be visible (the workflows retry their appends without end, so nothing else would show it).
 */
export interface AppendHealth {
  /** Failed append calls since start, by error name. */
  failures: Record<string, number>;
  /** Epoch ms of the last failure that was a refusal (not an event-id conflict), or null. */
  lastFailureAt: number | null;
  lastError: string | null;
}

const health: AppendHealth = { failures: {}, lastFailureAt: null, lastError: null };

export function recordAppendFailure(error: unknown): void {
  const name = error instanceof Error ? error.name : 'Error';
  health.failures[name] = (health.failures[name] ?? 0) + 1;
  // An id taken by another event is an answer of a working store, not a refusal: the workflow's
  // outbox keeps both facts (a `forkOf` event) and goes on. Counted on /metrics; not a reason for
  // /readyz to send traffic elsewhere.
  if (error instanceof EventIdConflictError) return;
  health.lastFailureAt = Date.now();
  health.lastError = error instanceof Error ? error.message : String(error);
}

export function appendHealth(): Readonly<AppendHealth> {
  return health;
}
