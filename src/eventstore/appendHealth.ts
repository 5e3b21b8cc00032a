/**
 * Failed appends of this process, for /metrics and /readyz: a store that keeps refusing the record
 * must be visible (the workflows retry their appends without end, so nothing else would show it).
 */
export interface AppendHealth {
  /** Failed append calls since start, by error name. */
  failures: Record<string, number>;
  /** Epoch ms of the last failure, or null. */
  lastFailureAt: number | null;
  lastError: string | null;
}

const health: AppendHealth = { failures: {}, lastFailureAt: null, lastError: null };

export function recordAppendFailure(error: unknown): void {
  const name = error instanceof Error ? error.name : 'Error';
  health.failures[name] = (health.failures[name] ?? 0) + 1;
  health.lastFailureAt = Date.now();
  health.lastError = error instanceof Error ? error.message : String(error);
}

export function appendHealth(): Readonly<AppendHealth> {
  return health;
}
