import type Database from 'better-sqlite3';

export const prepareReadLastGlobalPosition = (db: Database.Database) => {
  const statement = db.prepare<[], number | null>('SELECT max(global_position) FROM events').pluck();
  return (): number => statement.get() ?? 0;
};
