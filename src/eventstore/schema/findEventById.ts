import type Database from 'better-sqlite3';

/** What is needed to tell an idempotent re-send from an id conflict. */
export interface StoredEventIdentity {
  global_position: number;
  stream_id: string;
  type: string;
  data: string;
}

export const prepareFindEventById = (db: Database.Database) => {
  const statement = db.prepare<[string], StoredEventIdentity>(
    'SELECT global_position, stream_id, type, data FROM events WHERE event_id = ?',
  );
  return (eventId: string): StoredEventIdentity | undefined => statement.get(eventId);
};
