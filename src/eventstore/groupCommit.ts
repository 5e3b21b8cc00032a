import type Database from 'better-sqlite3';
import { ConcurrencyError, EventIdConflictError, InvalidEventError } from './errors.js';
import type { SerializedEvent } from './schema/appendToStream.js';
import type { AppendResult, DuplicatePolicy, ExpectedVersion } from './typing.js';

/** One append of the store, already validated and serialized; runs inside whatever transaction is open. */
export type AppendCall = (
  streamId: string,
  events: SerializedEvent[],
  expectedVersion: ExpectedVersion,
  duplicates: DuplicatePolicy,
) => AppendResult;

interface QueuedAppend {
  streamId: string;
  events: SerializedEvent[];
  expectedVersion: ExpectedVersion;
  duplicates: DuplicatePolicy;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; result: AppendResult } | { ok: false; error: unknown };

/**
 * Errors that belong to one call (its own arguments, its own stream): the call's savepoint is rolled
 * back and the group goes on. Anything else (I/O error, disk full, busy timeout) may have ended the
 * whole transaction, so it fails the group.
 */
const isErrorOfTheCall = (error: unknown): boolean =>
  error instanceof ConcurrencyError || error instanceof EventIdConflictError || error instanceof InvalidEventError;

export interface GroupCommitter {
  append(
    streamId: string,
    events: SerializedEvent[],
    expectedVersion: ExpectedVersion,
    duplicates: DuplicatePolicy,
  ): Promise<AppendResult>;
  /** Commits every queued call now (used by close()). */
  flush(): void;
}

/**
 * Group commit. With synchronous = FULL each commit waits for an fsync of the WAL (~0.25 ms here, far
 * more on many disks), longer than the append itself; callers that arrive in the same turn of the
 * event loop — concurrent append activities — are therefore queued and committed together: one
 * BEGIN IMMEDIATE, each call in a SAVEPOINT of its own (better-sqlite3 nests the store's per-call
 * transaction as a savepoint), one COMMIT. better-sqlite3 is synchronous, so callers that arrive while
 * a commit blocks the thread wait in the event loop and form the next group.
 *
 * The flush is scheduled with setImmediate, not a microtask: it runs after the poll phase, so every
 * I/O callback of this turn (activity tasks delivered together) has had the chance to enqueue.
 */
export const createGroupCommitter = (
  db: Database.Database,
  appendCall: AppendCall,
  onCommitted: (lastGlobalPosition: number) => void,
  maxCallsPerGroup: number,
): GroupCommitter => {
  let queue: QueuedAppend[] = [];
  let scheduled: NodeJS.Immediate | undefined;

  const commitGroup = db.transaction((group: QueuedAppend[]): Outcome[] =>
    group.map((call): Outcome => {
      try {
        return { ok: true, result: appendCall(call.streamId, call.events, call.expectedVersion, call.duplicates) };
      } catch (error) {
        if (isErrorOfTheCall(error)) return { ok: false, error };
        throw error;
      }
    }),
  );

  const schedule = () => {
    scheduled ??= setImmediate(commitNextGroup);
  };

  function commitNextGroup(): void {
    scheduled = undefined;
    const group = queue.length <= maxCallsPerGroup ? queue : queue.slice(0, maxCallsPerGroup);
    queue = queue.length <= maxCallsPerGroup ? [] : queue.slice(maxCallsPerGroup);
    // The rest goes in a later turn, so the event loop breathes between groups.
    if (queue.length > 0) schedule();
    if (group.length === 0) return;

    let outcomes: Outcome[];
    try {
      outcomes = commitGroup.immediate(group);
    } catch (error) {
      // Nothing of the group was committed: every caller sees the failure, as a lone append would.
      for (const call of group) call.reject(error);
      return;
    }
    // After the commit: a woken reader must be able to see the rows.
    let lastAppendedPosition = 0;
    for (const outcome of outcomes)
      if (outcome.ok && outcome.result.appended > 0)
        lastAppendedPosition = Math.max(lastAppendedPosition, outcome.result.lastGlobalPosition);
    if (lastAppendedPosition > 0) onCommitted(lastAppendedPosition);
    outcomes.forEach((outcome, index) => {
      const call = group[index]!;
      if (outcome.ok) call.resolve(outcome.result);
      else call.reject(outcome.error);
    });
  }

  return {
    append(streamId, events, expectedVersion, duplicates) {
      return new Promise<AppendResult>((resolve, reject) => {
        queue.push({ streamId, events, expectedVersion, duplicates, resolve, reject });
        schedule();
      });
    },
    flush() {
      if (scheduled !== undefined) clearImmediate(scheduled);
      scheduled = undefined;
      while (queue.length > 0) commitNextGroup();
      if (scheduled !== undefined) clearImmediate(scheduled);
      scheduled = undefined;
    },
  };
};
