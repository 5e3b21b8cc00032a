import type { ExpectedVersion } from './typing.js';

/** The stream moved since the caller last read it; nothing of the append was written. */
export class ConcurrencyError extends Error {
  override readonly name = 'ConcurrencyError';

  constructor(
    readonly streamId: string,
    readonly expected: ExpectedVersion,
    readonly actual: number,
  ) {
    super(`Stream '${streamId}' was expected at version ${String(expected)} but is at version ${actual}`);
  }
}

/**
 * An event id is reused for a different event. Ids are derived deterministically by callers, so this
 * means a bug (two writers computing the same id), never a harmless retry; nothing was written.
 */
export class EventIdConflictError extends Error {
  override readonly name = 'EventIdConflictError';

  constructor(
    readonly eventId: string,
    detail: string,
  ) {
    super(`Event id '${eventId}' is already used by a different event (${detail})`);
  }
}

/** The call itself is malformed; retrying it can never succeed. */
export class InvalidEventError extends TypeError {
  override readonly name = 'InvalidEventError';
}
