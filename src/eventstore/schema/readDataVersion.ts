import type Database from 'better-sqlite3';

/**
 * PRAGMA data_version changes whenever ANOTHER connection (this process or not) commits to the file.
 * Cheaper than querying the table, so waiters poll it and only read the position when it moved.
 */
export const prepareReadDataVersion = (db: Database.Database) => {
  const statement = db.prepare<[], number>('PRAGMA data_version').pluck();
  return (): number => statement.get() as number;
};
