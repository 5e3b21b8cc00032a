import Database from 'better-sqlite3';
import type { EventMetadata, ScanAllOptions, ScannedEvent } from '../typing.js';

/** The metadata column of one event, by position (lazy metadata of a scan). */
type MetadataLoader = (globalPosition: number) => string;

/**
 * An event of a scan. Metadata is parsed on first use (and, with `lazyMetadata`, read on first use):
 * a replay reads every event of the log and most projections never look at the metadata, so parsing
 * it each time would be most of the cost.
 */
class LazyEvent implements ScannedEvent {
  // #private: not own enumerable properties, so a spread or toEqual sees only the event's fields.
  #rawMetadata: string | MetadataLoader;
  #metadata: EventMetadata | undefined;
  constructor(
    readonly globalPosition: number,
    readonly streamId: string,
    readonly streamVersion: number,
    readonly type: string,
    readonly data: any,
    rawMetadata: string | MetadataLoader,
    readonly recordedAt: string,
  ) {
    this.#rawMetadata = rawMetadata;
  }
  get metadata(): EventMetadata {
    if (this.#metadata === undefined) {
      const raw = this.#rawMetadata;
      this.#metadata = JSON.parse(typeof raw === 'string' ? raw : raw(this.globalPosition)) as EventMetadata;
    }
    return this.#metadata;
  }
}

/**
 * SQL of the partition of a stream: a cheap hash of the last two characters of its id (stream ids
 * end in random or counting characters), so a partition's filter runs inside SQLite.
 */
const PARTITION_OF_STREAM = `(coalesce(unicode(substr(stream_id, -1)), 0) + 7 * coalesce(unicode(substr(stream_id, -2, 1)), 0))`;

/**
 * Streams the log in position order without holding it in memory: one statement, stepped row by row
 * (no page queries: each page would start a new B-tree descent and build a result array). For
 * replays (the read-model rebuild), not for live tailing.
 *
 * A stepping statement keeps its connection busy (better-sqlite3 refuses any other statement on it
 * until the iteration ends), so a file-backed store scans through a read-only connection of its own:
 * appends and reads go on meanwhile, and the scan sees one snapshot of the log. An in-memory store
 * has no second connection; its scan borrows the store's and must finish before the next append.
 * Lazy metadata is looked up through a third connection (an event's row never changes, so any
 * snapshot that has the event has the same metadata).
 */
export const prepareScanAll = (db: Database.Database, path: string, inMemory: boolean, busyTimeoutMs: number) =>
  function* scanAll(options: ScanAllOptions = {}): IterableIterator<ScannedEvent> {
    const open = () => new Database(path, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
    const connection = inMemory ? db : open();
    const lookups = options.lazyMetadata && !inMemory ? open() : undefined;
    try {
      // After the scan a late use opens a connection of its own for the lookup (slow, but never wrong).
      const lookup = (connection: Database.Database) =>
        connection.prepare<[number], string>('SELECT metadata FROM events WHERE global_position = ?').pluck();
      const oneOff: MetadataLoader = (position) => {
        const late = open();
        try {
          return lookup(late).get(position)!;
        } finally {
          late.close();
        }
      };
      const statement = lookups && lookup(lookups);
      const loadMetadata: MetadataLoader | undefined =
        statement && ((position) => (lookups.open ? statement.get(position)! : oneOff(position)));
      const partition = options.partition;
      const valid = (p: { index: number; count: number }) =>
        Number.isInteger(p.count) && Number.isInteger(p.index) && p.index >= 0 && p.index < p.count;
      if (partition && !valid(partition))
        throw new RangeError(`partition must be {index, count} with 0 <= index < count, got ${JSON.stringify(partition)}`);
      // Lazy metadata still comes with the row for the types named (as SQL string literals).
      const inlineTypes = (options.metadataWithTypes ?? []).map((t) => `'${t.replace(/'/g, "''")}'`);
      const metadataColumn = !loadMetadata
        ? 'metadata'
        : inlineTypes.length > 0
          ? `CASE WHEN type IN (${inlineTypes.join(', ')}) THEN metadata END`
          : 'NULL';
      const rows = connection
        .prepare<[number, number]>(
          `SELECT global_position, stream_id, stream_version, type, data, ${metadataColumn}, recorded_at
           FROM events
           WHERE global_position > ? AND global_position <= ?
           ${partition ? `AND ${PARTITION_OF_STREAM} % ${partition.count} = ${partition.index}` : ''}
           ORDER BY global_position`,
        )
        .raw(true)
        .iterate(options.fromPosition ?? 0, options.toPosition ?? Number.MAX_SAFE_INTEGER) as IterableIterator<
        [number, string, number, string, string, string | null, string]
      >;
      for (const r of rows) yield new LazyEvent(r[0], r[1], r[2], r[3], JSON.parse(r[4]), r[5] ?? loadMetadata!, r[6]);
    } finally {
      // Also runs when the caller stops early (return() on the generator ends the statement too).
      if (connection !== db) connection.close();
      lookups?.close();
    }
  };
