import type Database from 'better-sqlite3';
import type { RecordedEvent } from '../typing.js';
import { eventColumns, toRecordedEvent, type EventRow } from './eventRow.js';

/**
 * A stream's events of one type appended after a global position, newest first. Read from the
 * stream's end backwards (its (stream_id, stream_version) index) and stopped at the first event at or
 * before the position, so the cost is the stream's events since then, however long the stream is.
 */
export const prepareReadStreamAfter = (db: Database.Database) => {
  const statement = db.prepare<[string], EventRow>(
    `SELECT ${eventColumns} FROM events WHERE stream_id = ? ORDER BY stream_version DESC`,
  );
  return (streamId: string, afterPosition: number, type: string): RecordedEvent[] => {
    const found: RecordedEvent[] = [];
    for (const row of statement.iterate(streamId)) {
      if (row.global_position <= afterPosition) break; // (ends the statement: iterate's return())
      if (row.type === type) found.push(toRecordedEvent(row));
    }
    return found;
  };
};
