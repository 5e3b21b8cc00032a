import type Database from 'better-sqlite3';

/**
 * AUTOINCREMENT (not a bare rowid alias) so a position is never handed out twice, even after the
 * newest rows are deleted: readers keep "last position seen" checkpoints and must never skip a row.
 */
export const eventsTableSQL = `
CREATE TABLE IF NOT EXISTS events (
  global_position INTEGER PRIMARY KEY AUTOINCREMENT,
  stream_id       TEXT    NOT NULL,
  stream_version  INTEGER NOT NULL,
  event_id        TEXT    NOT NULL UNIQUE,
  type            TEXT    NOT NULL,
  data            TEXT    NOT NULL,
  metadata        TEXT    NOT NULL,
  recorded_at     TEXT    NOT NULL,
  UNIQUE (stream_id, stream_version)
);
`;

/**
 * Inside a write transaction so that two processes opening a fresh file at once queue on the busy
 * timeout instead of one of them failing half-way.
 */
export const createEventStoreSchema = (db: Database.Database): void => {
  db.transaction(() => db.exec(eventsTableSQL)).immediate();
};
