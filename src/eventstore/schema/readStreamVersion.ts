import type Database from 'better-sqlite3';

/**
 * Versions are gapless, so the stream's version is its highest stream_version; ORDER BY … LIMIT 1
 * is a single seek on the (stream_id, stream_version) index, no separate streams table to keep in step.
 */
export const prepareReadStreamVersion = (db: Database.Database) => {
  const statement = db
    .prepare<[string], number>('SELECT stream_version FROM events WHERE stream_id = ? ORDER BY stream_version DESC LIMIT 1')
    .pluck();
  return (streamId: string): number => statement.get(streamId) ?? 0;
};
