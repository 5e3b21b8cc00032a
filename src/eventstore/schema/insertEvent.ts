import type Database from 'better-sqlite3';

export interface EventInsert {
  streamId: string;
  streamVersion: number;
  eventId: string;
  type: string;
  data: string;
  metadata: string;
  recordedAt: string;
}

/** Returns the event's global position. Callers have ruled out duplicates, so a constraint violation is a bug and throws. */
export const prepareInsertEvent = (db: Database.Database) => {
  const statement = db.prepare<[string, number, string, string, string, string, string]>(
    `INSERT INTO events (stream_id, stream_version, event_id, type, data, metadata, recorded_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  return (event: EventInsert): number =>
    Number(
      statement.run(event.streamId, event.streamVersion, event.eventId, event.type, event.data, event.metadata, event.recordedAt)
        .lastInsertRowid,
    );
};
