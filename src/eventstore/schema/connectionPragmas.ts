import type Database from 'better-sqlite3';
import type { SynchronousMode } from '../typing.js';

/**
 * WAL lets readers (projections, other processes) run while one writer appends.
 *
 * synchronous = FULL (the default here): WAL is fsynced before a commit returns, so an append that
 * returned survives a power cut. The store needs that: once an append activity completes, Temporal
 * never runs it again, so a commit lost to the OS cache would be missing from the log forever and the
 * read model would part from the workflows. NORMAL (fsync only at checkpoints) never corrupts the
 * file but may lose the last commits on a power cut; it is kept for measuring what FULL costs.
 * Throughput under FULL comes from group commit (groupCommit.ts): one fsync for many appends.
 */
export const applyConnectionPragmas = (
  db: Database.Database,
  options: { busyTimeoutMs: number; readonly: boolean; synchronous: SynchronousMode },
): void => {
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs))}`);
  // A read-only connection cannot switch the journal mode; WAL is a property of the file anyway.
  if (!options.readonly) db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
};
