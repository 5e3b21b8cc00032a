import type Database from 'better-sqlite3';
import type { ReadAllOptions, RecordedEvent } from '../typing.js';
import { eventColumns, toRecordedEvent, type EventRow } from './eventRow.js';

export const defaultReadAllLimit = 1000;

/**
 * Exclusive lower bound: callers pass the last position they have processed. Reading by position is
 * safe against concurrent writers because SQLite has a single writer: a position only becomes visible
 * once every smaller position is committed (or rolled back for good).
 */
export const prepareReadAll = (db: Database.Database) => {
  const statement = db.prepare<[number, number], EventRow>(
    `SELECT ${eventColumns} FROM events
     WHERE global_position > ?
     ORDER BY global_position
     LIMIT ?`,
  );
  return (options: ReadAllOptions = {}): RecordedEvent[] =>
    statement.all(options.fromPosition ?? 0, options.limit ?? defaultReadAllLimit).map(toRecordedEvent);
};
