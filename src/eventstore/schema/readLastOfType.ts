import type Database from 'better-sqlite3';
import type { RecordedEvent } from '../typing.js';
import { eventColumns, toRecordedEvent, type EventRow } from './eventRow.js';

/**
 * The newest event of one type in a stream. SQLite walks the stream backwards on its
 * (stream_id, stream_version) index and tests each row's type itself: only the match becomes a
 * JavaScript object, so asking costs little more than the stream's length in index steps (a step
 * activity asks at each report whether its job was reset; see jobStepActivities).
 */
export const prepareReadLastOfType = (db: Database.Database) => {
  const statement = db.prepare<[string, string], EventRow>(
    `SELECT ${eventColumns} FROM events WHERE stream_id = ? AND type = ? ORDER BY stream_version DESC LIMIT 1`,
  );
  return (streamId: string, type: string): RecordedEvent | undefined => {
    const row = statement.get(streamId, type);
    return row ? toRecordedEvent(row) : undefined;
  };
};
