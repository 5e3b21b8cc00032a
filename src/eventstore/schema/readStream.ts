import type Database from 'better-sqlite3';
import type { ReadStreamOptions, RecordedEvent } from '../typing.js';
import { eventColumns, toRecordedEvent, type EventRow } from './eventRow.js';

export const prepareReadStream = (db: Database.Database) => {
  const statement = db.prepare<[string, number, number], EventRow>(
    `SELECT ${eventColumns} FROM events
     WHERE stream_id = ? AND stream_version >= ?
     ORDER BY stream_version
     LIMIT ?`,
  );
  // LIMIT -1 is SQLite's "no limit".
  return (streamId: string, options: ReadStreamOptions = {}): RecordedEvent[] =>
    statement.all(streamId, options.fromVersion ?? 1, options.maxCount ?? -1).map(toRecordedEvent);
};
