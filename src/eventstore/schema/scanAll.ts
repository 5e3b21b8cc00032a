import Database from 'better-sqlite3';
import type { EventMetadata, ScanAllOptions, ScannedEvent } from '../typing.js';

/**
 * An event of a scan. Metadata is parsed on first use: a replay reads every event of the log and
 * most projections never look at the metadata, so parsing it each time would be most of the cost.
 */
class LazyEvent implements ScannedEvent {
  // #private: not own enumerable properties, so a spread or toEqual sees only the event's fields.
  #rawMetadata: string;
  #metadata: EventMetadata | undefined;
  constructor(
    readonly globalPosition: number,
    readonly streamId: string,
    readonly streamVersion: number,
    readonly type: string,
    readonly data: any,
    rawMetadata: string,
    readonly recordedAt: string,
  ) {
    this.#rawMetadata = rawMetadata;
  }
  get metadata(): EventMetadata {
    return (this.#metadata ??= JSON.parse(this.#rawMetadata) as EventMetadata);
  }
}

/**
 * Streams the log in position order without holding it in memory: one statement, stepped row by row
 * (no page queries: each page would start a new B-tree descent and build a result array). For
 * replays (the read-model rebuild), not for live tailing.
 *
 * A stepping statement keeps its connection busy (better-sqlite3 refuses any other statement on it
 * until the iteration ends), so a file-backed store scans through a read-only connection of its own:
 * appends and reads go on meanwhile, and the scan sees one snapshot of the log. An in-memory store
 * has no second connection; its scan borrows the store's and must finish before the next append.
 */
export const prepareScanAll = (db: Database.Database, path: string, inMemory: boolean, busyTimeoutMs: number) =>
  function* scanAll(options: ScanAllOptions = {}): IterableIterator<ScannedEvent> {
    const connection = inMemory ? db : new Database(path, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
    try {
      const rows = connection
        .prepare<[number, number]>(
          `SELECT global_position, stream_id, stream_version, type, data, metadata, recorded_at
           FROM events
           WHERE global_position > ? AND global_position <= ?
           ORDER BY global_position`,
        )
        .raw(true)
        .iterate(options.fromPosition ?? 0, options.toPosition ?? Number.MAX_SAFE_INTEGER) as IterableIterator<
        [number, string, number, string, string, string, string]
      >;
      for (const r of rows) yield new LazyEvent(r[0], r[1], r[2], r[3], JSON.parse(r[4]), r[5], r[6]);
    } finally {
      // Also runs when the caller stops early (return() on the generator ends the statement too).
      if (connection !== db) connection.close();
    }
  };
