import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdirSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { announceAppend } from './appendNotifier.js';
import { createAppendThreadCommitter } from './appendThread.js';
import { createGroupCommitter } from './groupCommit.js';
import { NewEventsWatcher } from './newEventsWatcher.js';
import { prepareAppendToStream } from './schema/appendToStream.js';
import { applyConnectionPragmas } from './schema/connectionPragmas.js';
import { prepareReadAll } from './schema/readAll.js';
import { prepareScanAll } from './schema/scanAll.js';
import { prepareReadDataVersion } from './schema/readDataVersion.js';
import { prepareReadLastGlobalPosition } from './schema/readLastGlobalPosition.js';
import { prepareReadStream } from './schema/readStream.js';
import { prepareReadStreamAfter } from './schema/readStreamAfter.js';
import { prepareReadLastOfType } from './schema/readLastOfType.js';
import { prepareReadStreamVersion } from './schema/readStreamVersion.js';
import { prepareReadEventById } from './schema/readEventById.js';
import { prepareReadSynchronous } from './schema/readSynchronous.js';
import { createEventStoreSchema } from './schema/tables.js';
import type { EventStore, EventStoreOptions } from './typing.js';
import { validateAndSerializeAppend } from './validation.js';

export const defaultBusyTimeoutMs = 5000;
export const defaultPollIntervalMs = 50;
export const defaultMaxCallsPerGroup = 256;

const isInMemory = (path: string): boolean => path === ':memory:' || path === '';

/**
 * Opens (and, unless read-only, creates) the event store in one SQLite file. Every statement is
 * prepared here once; the returned object holds one connection.
 */
export const openEventStore = (path: string, options: EventStoreOptions = {}): EventStore => {
  const readonly = options.readonly ?? false;
  const busyTimeoutMs = options.busyTimeoutMs ?? defaultBusyTimeoutMs;
  if (!readonly && !isInMemory(path)) mkdirSync(dirname(path), { recursive: true });

  const db = new Database(path, { readonly, fileMustExist: readonly, timeout: busyTimeoutMs });
  try {
    applyConnectionPragmas(db, { busyTimeoutMs, readonly, synchronous: options.synchronous ?? 'FULL' });
    if (!readonly) createEventStoreSchema(db);
    return createSQLiteEventStore(db, path, options);
  } catch (error) {
    db.close();
    throw error;
  }
};

const createSQLiteEventStore = (db: Database.Database, path: string, options: EventStoreOptions): EventStore => {
  const appendToStream = prepareAppendToStream(db);
  const readStream = prepareReadStream(db);
  const readStreamAfter = prepareReadStreamAfter(db);
  const readLastOfType = prepareReadLastOfType(db);
  const readAll = prepareReadAll(db);
  const scanAll = prepareScanAll(db, path, isInMemory(path), options.busyTimeoutMs ?? defaultBusyTimeoutMs);
  const readStreamVersion = prepareReadStreamVersion(db);
  const readEventById = prepareReadEventById(db);
  const readLastGlobalPosition = prepareReadLastGlobalPosition(db);

  // Two handles on one file must share the in-process notifier, whatever relative path or symlink
  // each was opened with; in-memory databases are private to their connection.
  const storeKey = isInMemory(path) ? `memory:${randomUUID()}` : realpathSync(path);
  const watcher = new NewEventsWatcher({
    storeKey,
    pollIntervalMs: options.pollIntervalMs ?? defaultPollIntervalMs,
    readLastGlobalPosition,
    readDataVersion: prepareReadDataVersion(db),
  });

  const maxCallsPerGroup = options.maxCallsPerGroup ?? defaultMaxCallsPerGroup;
  if (!(Number.isSafeInteger(maxCallsPerGroup) && maxCallsPerGroup >= 1))
    throw new RangeError(`maxCallsPerGroup must be a positive integer, got ${String(maxCallsPerGroup)}`);
  const onCommitted = (lastGlobalPosition: number) => announceAppend(storeKey, lastGlobalPosition);
  const groupCommitterInThisThread = createGroupCommitter(db, appendToStream, onCommitted, maxCallsPerGroup);
  // A thread needs a file to share; an in-memory database is private to its connection.
  const groupCommitter =
    options.appendThread === true && options.readonly !== true && !isInMemory(path)
      ? createAppendThreadCommitter({
          setup: {
            path,
            busyTimeoutMs: options.busyTimeoutMs ?? defaultBusyTimeoutMs,
            synchronous: options.synchronous ?? 'FULL',
          },
          maxCallsPerGroup,
          onCommitted,
          inThisThread: groupCommitterInThisThread,
        })
      : groupCommitterInThisThread;
  const readSynchronous = prepareReadSynchronous(db);

  return {
    path,
    appendToStream(streamId, events, appendOptions = {}) {
      const expectedVersion = appendOptions.expectedVersion ?? 'any';
      const serialized = validateAndSerializeAppend(streamId, events, expectedVersion);
      const result = appendToStream(streamId, serialized, expectedVersion, appendOptions.duplicates ?? 'same-data');
      // After the commit: a woken reader must be able to see the rows.
      if (result.appended > 0) announceAppend(storeKey, result.lastGlobalPosition);
      return result;
    },
    async appendToStreamGrouped(streamId, events, appendOptions = {}) {
      const expectedVersion = appendOptions.expectedVersion ?? 'any';
      // Validated and serialized before queueing: a malformed call fails alone and holds no lock.
      const serialized = validateAndSerializeAppend(streamId, events, expectedVersion);
      return groupCommitter.append(streamId, serialized, expectedVersion, appendOptions.duplicates ?? 'same-data');
    },
    readStream: (streamId, readOptions) => readStream(streamId, readOptions),
    readStreamAfter: (streamId, afterPosition, type) => readStreamAfter(streamId, afterPosition, type),
    readLastOfType: (streamId, type) => readLastOfType(streamId, type),
    readAll: (readOptions) => readAll(readOptions),
    scanAll: (scanOptions) => scanAll(scanOptions),
    streamVersion: (streamId) => readStreamVersion(streamId),
    readEvent: (eventId) => readEventById(eventId),
    lastPosition: () => readLastGlobalPosition(),
    waitForEvents: (afterPosition, waitOptions) => watcher.wait(afterPosition, waitOptions),
    synchronousLevel: () => readSynchronous(),
    close() {
      // Calls already queued are committed, not dropped: their callers are still waiting.
      if (db.open) groupCommitter.flush();
      watcher.close();
      db.close();
    },
  };
};
