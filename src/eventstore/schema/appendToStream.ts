import type Database from 'better-sqlite3';
import { isSameJson } from '../canonicalJson.js';
import { ConcurrencyError, EventIdConflictError } from '../errors.js';
import type { AppendResult, DuplicatePolicy, ExpectedVersion } from '../typing.js';
import { prepareFindEventById } from './findEventById.js';
import { prepareInsertEvent } from './insertEvent.js';
import { prepareReadStreamVersion } from './readStreamVersion.js';

/** A NewEvent already turned into column values, so no JSON work happens while the write lock is held. */
export interface SerializedEvent {
  eventId: string;
  type: string;
  data: string;
  metadata: string;
}

export const prepareAppendToStream = (db: Database.Database) => {
  const findEventById = prepareFindEventById(db);
  const readStreamVersion = prepareReadStreamVersion(db);
  const insertEvent = prepareInsertEvent(db);

  /** Position of the stored event if `event` is a re-send of it; throws if the id means something else. */
  const positionOfDuplicate = (streamId: string, event: SerializedEvent, duplicates: DuplicatePolicy): number | undefined => {
    const stored = findEventById(event.eventId);
    if (stored === undefined) return undefined;
    if (stored.stream_id !== streamId)
      throw new EventIdConflictError(event.eventId, `stored in stream '${stored.stream_id}', not '${streamId}'`);
    if (stored.type !== event.type)
      throw new EventIdConflictError(event.eventId, `stored with type '${stored.type}', not '${event.type}'`);
    if (duplicates === 'same-data' && !isSameJson(stored.data, event.data))
      throw new EventIdConflictError(event.eventId, 'stored with other data');
    return stored.global_position;
  };

  /**
   * The stream is not where the caller expected. That is still a success if the call is a retry of
   * one that already went through (every event is a duplicate) — the version moved because of that
   * very call. Id conflicts are reported before version mismatches.
   */
  const resolveVersionMismatch = (
    streamId: string,
    events: SerializedEvent[],
    expectedVersion: ExpectedVersion,
    currentVersion: number,
    duplicates: DuplicatePolicy,
  ): AppendResult => {
    let lastDuplicatePosition = 0;
    let hasNewEvent = false;
    for (const event of events) {
      const position = positionOfDuplicate(streamId, event, duplicates);
      if (position === undefined) hasNewEvent = true;
      else lastDuplicatePosition = Math.max(lastDuplicatePosition, position);
    }
    if (hasNewEvent) throw new ConcurrencyError(streamId, expectedVersion, currentVersion);
    return { nextExpectedVersion: currentVersion, lastGlobalPosition: lastDuplicatePosition, appended: 0 };
  };

  // Throwing inside the transaction rolls back every row of the call: all events commit or none.
  const appendInTransaction = db.transaction(
    (
      streamId: string,
      events: SerializedEvent[],
      expectedVersion: ExpectedVersion,
      duplicates: DuplicatePolicy,
      recordedAt: string,
    ): AppendResult => {
      const currentVersion = readStreamVersion(streamId);
      if (!matchesExpectedVersion(expectedVersion, currentVersion))
        return resolveVersionMismatch(streamId, events, expectedVersion, currentVersion, duplicates);

      let version = currentVersion;
      let lastGlobalPosition = 0;
      let lastDuplicateIndex = -1;
      for (const [index, event] of events.entries()) {
        // Looked up first (not INSERT … ON CONFLICT DO NOTHING): with AUTOINCREMENT a skipped insert
        // still burns a global position, and retries are common enough to riddle the log with gaps.
        // An id inserted earlier in this same call is found too, so in-call repeats are handled alike.
        const duplicatePosition = positionOfDuplicate(streamId, event, duplicates);
        if (duplicatePosition !== undefined) {
          lastGlobalPosition = Math.max(lastGlobalPosition, duplicatePosition);
          lastDuplicateIndex = index;
          continue;
        }
        version += 1;
        lastGlobalPosition = insertEvent({ streamId, streamVersion: version, recordedAt, ...event });
      }
      const appended = version - currentVersion;
      const mixed = lastDuplicateIndex >= 0 && appended > 0;
      return { nextExpectedVersion: version, lastGlobalPosition, appended, ...(mixed ? { lastDuplicateIndex } : {}) };
    },
  );

  // BEGIN IMMEDIATE takes the write lock up front: the version read and the inserts can never be
  // interleaved with another process's append, and lock waits go through the busy timeout instead of
  // failing with SQLITE_BUSY on the upgrade from read to write.
  return (
    streamId: string,
    events: SerializedEvent[],
    expectedVersion: ExpectedVersion,
    duplicates: DuplicatePolicy = 'same-data',
  ): AppendResult => appendInTransaction.immediate(streamId, events, expectedVersion, duplicates, new Date().toISOString());
};

const matchesExpectedVersion = (expected: ExpectedVersion, current: number): boolean =>
  expected === 'any' || (expected === 'no_stream' ? current === 0 : expected === current);
