import type Database from 'better-sqlite3';

/**
 * WAL lets readers (projections, other processes) run while one writer appends. synchronous = NORMAL
 * in WAL mode never corrupts the file; a power cut may lose the last commits, not a process crash.
 */
export const applyConnectionPragmas = (db: Database.Database, options: { busyTimeoutMs: number; readonly: boolean }): void => {
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs))}`);
  // A read-only connection cannot switch the journal mode; WAL is a property of the file anyway.
  if (!options.readonly) db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
};
