import type Database from 'better-sqlite3';
import type { RecordedEvent } from '../typing.js';
import { eventColumns, toRecordedEvent, type EventRow } from './eventRow.js';

/** One event by its id (the unique index on event_id): how a writer finds the fact it recorded before. */
export const prepareReadEventById = (db: Database.Database) => {
  const statement = db.prepare<[string], EventRow>(`SELECT ${eventColumns} FROM events WHERE event_id = ?`);
  return (eventId: string): RecordedEvent | undefined => {
    const row = statement.get(eventId);
    return row ? toRecordedEvent(row) : undefined;
  };
};
