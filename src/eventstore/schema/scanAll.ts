import Database from 'better-sqlite3';
import type { EventMetadata, ScanAllOptions, ScannedEvent } from '../typing.js';

/** A column of one event read on first use (lazy metadata or `recordedAt` of a scan), by position. */
type ColumnLoader = (globalPosition: number) => string;

/** A row of a scan's page: position, stream, version, type, data, metadata (null: lazy), recorded_at (absent: lazy). */
type ScanRow = [number, string, number, string, string, string | null, string?];

/**
 * An event of a scan, built from its row. Metadata is parsed on first use (and, with `lazyMetadata`,
 * read on first use): a replay reads every event of the log and most projections never look at the
 * metadata, so parsing it each time would be most of the cost.
 */
abstract class ScanEvent implements ScannedEvent {
  readonly globalPosition: number;
  readonly streamId: string;
  readonly streamVersion: number;
  readonly type: string;
  readonly data: any;
  abstract readonly recordedAt: string;
  // #private: not own enumerable properties, so a spread or toEqual sees only the event's fields.
  #rawMetadata: string | ColumnLoader;
  #metadata: EventMetadata | undefined;
  constructor(row: ScanRow, loadMetadata: ColumnLoader | undefined) {
    this.globalPosition = row[0];
    this.streamId = row[1];
    this.streamVersion = row[2];
    this.type = row[3];
    this.data = JSON.parse(row[4]);
    this.#rawMetadata = row[5] ?? loadMetadata!;
  }
  get metadata(): EventMetadata {
    if (this.#metadata === undefined) {
      const raw = this.#rawMetadata;
      this.#metadata = JSON.parse(typeof raw === 'string' ? raw : raw(this.globalPosition)) as EventMetadata;
    }
    return this.#metadata;
  }
}

/** An event with its `recordedAt` read with the row: an own field (a spread copies it). */
class LazyEvent extends ScanEvent {
  readonly recordedAt: string;
  constructor(row: ScanRow, loadMetadata: ColumnLoader | undefined) {
    super(row, loadMetadata);
    this.recordedAt = row[6]!;
  }
}

/**
 * An event of a scan with `lazyRecordedAt`: its `recordedAt` read on first use, too (a replay of
 * events that carry their own time in `data.at` never asks). A class of its own, so that the other
 * scans' events keep `recordedAt` as an own field.
 */
class LazyTimeEvent extends ScanEvent {
  #recordedAt: string | undefined;
  readonly #loadRecordedAt: ColumnLoader;
  constructor(row: ScanRow, loadMetadata: ColumnLoader | undefined, loadRecordedAt: ColumnLoader) {
    super(row, loadMetadata);
    this.#loadRecordedAt = loadRecordedAt;
  }
  get recordedAt(): string {
    return (this.#recordedAt ??= this.#loadRecordedAt(this.globalPosition));
  }
}

/** Rows per page of a scan: one call into SQLite each (row by row, each row was a call of its own). */
const SCAN_PAGE_ROWS = 2048;

/**
 * Streams the log in position order without holding it in memory: pages of rows read by position,
 * each handed out event by event. For replays (the read-model rebuild), not for live tailing.
 *
 * A file-backed store scans through a read-only connection of its own, inside one read transaction:
 * appends and reads go on meanwhile, and the scan sees one snapshot of the log. Lazy metadata is
 * looked up through that connection while the scan is open (an event's row never changes), and
 * through a connection of its own after it (slow, but never wrong). An in-memory store has no second
 * connection: its scan borrows the store's and reads whatever is committed when each page is read.
 */
export const prepareScanAll = (db: Database.Database, path: string, inMemory: boolean, busyTimeoutMs: number) =>
  function* scanAll(options: ScanAllOptions = {}): IterableIterator<ScannedEvent> {
    const open = () => new Database(path, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
    const connection = inMemory ? db : open();
    try {
      const lookup = (on: Database.Database, column: 'metadata' | 'recorded_at') =>
        on.prepare<[number], string>(`SELECT ${column} FROM events WHERE global_position = ?`).pluck();
      // A lazy column: through the scan's connection while it is open, through one of its own after.
      const lazyColumn = (column: 'metadata' | 'recorded_at'): ColumnLoader => {
        const statement = lookup(connection, column);
        return (position) => {
          if (connection.open) return statement.get(position)!;
          const late = open();
          try {
            return lookup(late, column).get(position)!;
          } finally {
            late.close();
          }
        };
      };
      const loadMetadata = options.lazyMetadata && !inMemory ? lazyColumn('metadata') : undefined;
      const loadRecordedAt = options.lazyRecordedAt && !inMemory ? lazyColumn('recorded_at') : undefined;
      // Lazy metadata still comes with the row for the types named (as SQL string literals).
      const inlineTypes = (options.metadataWithTypes ?? []).map((t) => `'${t.replace(/'/g, "''")}'`);
      const metadataColumn = !loadMetadata
        ? 'metadata'
        : inlineTypes.length > 0
          ? `CASE WHEN type IN (${inlineTypes.join(', ')}) THEN metadata END`
          : 'NULL';
      const page = connection
        .prepare<[number, number]>(
          `SELECT global_position, stream_id, stream_version, type, data, ${metadataColumn}${loadRecordedAt ? '' : ', recorded_at'}
           FROM events
           WHERE global_position > ? AND global_position <= ?
           ORDER BY global_position LIMIT ${SCAN_PAGE_ROWS}`,
        )
        .raw(true);
      const to = options.toPosition ?? Number.MAX_SAFE_INTEGER;
      let after = options.fromPosition ?? 0;
      if (!inMemory) connection.exec('BEGIN'); // one snapshot for every page (ends with the connection)
      for (;;) {
        const rows = page.all(after, to) as ScanRow[];
        if (loadRecordedAt) for (const row of rows) yield new LazyTimeEvent(row, loadMetadata, loadRecordedAt);
        else for (const row of rows) yield new LazyEvent(row, loadMetadata);
        if (rows.length < SCAN_PAGE_ROWS) break;
        after = rows[rows.length - 1]![0];
      }
    } finally {
      // Also runs when the caller stops early (return() on the generator).
      if (connection !== db) connection.close();
    }
  };
