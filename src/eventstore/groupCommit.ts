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

/** One call of a group: what `AppendCall` takes. */
export interface GroupedAppend {
  streamId: string;
  events: SerializedEvent[];
  expectedVersion: ExpectedVersion;
  duplicates: DuplicatePolicy;
}

/** A call waiting for its group, with its caller's promise. */
export interface QueuedAppend extends GroupedAppend {
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

/** What one call of a committed group got: its result, or the error that rolled back only its savepoint. */
export type Outcome = { ok: true; result: AppendResult } | { ok: false; error: unknown };

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
 * Commits a group in one transaction (BEGIN IMMEDIATE … COMMIT), each call in a savepoint of its own.
 * Returns each call's outcome; throws (and commits nothing) on an error that is not one call's own.
 * Used by the group committer on the store's connection and by the append thread on its own.
 */
export const prepareCommitGroup = (db: Database.Database, appendCall: AppendCall): ((group: GroupedAppend[]) => Outcome[]) => {
  const commitGroup = db.transaction((group: GroupedAppend[]): Outcome[] =>
    group.map((call): Outcome => {
      try {
        return { ok: true, result: appendCall(call.streamId, call.events, call.expectedVersion, call.duplicates) };
      } catch (error) {
        if (isErrorOfTheCall(error)) return { ok: false, error };
        throw error;
      }
    }),
  );
  return (group) => commitGroup.immediate(group);
};

/** The next group of a queue (its first `maxCallsPerGroup` calls, in call order) and the calls left. */
export const nextGroup = (queue: QueuedAppend[], maxCallsPerGroup: number): [QueuedAppend[], QueuedAppend[]] =>
  queue.length <= maxCallsPerGroup ? [queue, []] : [queue.slice(0, maxCallsPerGroup), queue.slice(maxCallsPerGroup)];

/**
 * Answers the callers of a committed group: first wakes the readers (`onCommitted`, with the last
 * position the group wrote, if it wrote anything: after the commit, so a woken reader sees the rows),
 * then settles each call with its own outcome.
 */
export const settleCommittedGroup = (
  group: QueuedAppend[],
  outcomes: Outcome[],
  onCommitted: (lastGlobalPosition: number) => void,
): void => {
  let lastPosition = 0;
  for (const outcome of outcomes)
    if (outcome.ok && outcome.result.appended > 0) lastPosition = Math.max(lastPosition, outcome.result.lastGlobalPosition);
  if (lastPosition > 0) onCommitted(lastPosition);
  outcomes.forEach((outcome, index) => {
    const call = group[index]!;
    if (outcome.ok) call.resolve(outcome.result);
    else call.reject(outcome.error);
  });
};

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

  const commitGroup = prepareCommitGroup(db, appendCall);

  const schedule = () => {
    scheduled ??= setImmediate(commitNextGroup);
  };

  function commitNextGroup(): void {
    scheduled = undefined;
    let group: QueuedAppend[];
    [group, queue] = nextGroup(queue, maxCallsPerGroup);
    // The rest goes in a later turn, so the event loop breathes between groups.
    if (queue.length > 0) schedule();
    if (group.length === 0) return;

    let outcomes: Outcome[];
    try {
      outcomes = commitGroup(group);
    } catch (error) {
      // Nothing of the group was committed: every caller sees the failure, as a lone append would.
      for (const call of group) call.reject(error);
      return;
    }
    settleCommittedGroup(group, outcomes, onCommitted);
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
