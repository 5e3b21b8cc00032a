import type Database from 'better-sqlite3';

/** The connection's `PRAGMA synchronous` level: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA. Per connection. */
export const prepareReadSynchronous = (db: Database.Database) => (): number =>
  db.pragma('synchronous', { simple: true }) as number;
