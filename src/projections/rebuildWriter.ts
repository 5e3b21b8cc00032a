import type { ScannedEvent } from '../eventstore/index.js';
import { JOB_COLUMNS, jobProjection } from './jobProjection.js';
import { openReadModelDb, type ReadModelDb } from './readModelDb.js';
import { REBUILD_CHECKPOINT, otherProjections, removeDbFiles, throwawayPragmas, type CountEntry } from './rebuildPartition.js';
import { ThroughputTally, addThroughputFrom } from './throughput.js';

/** What the writer needs once every partition's rows are in. */
export interface FinishInput {
  counts: CountEntry[];
  batchCounts: CountEntry[];
  /** Every partition's events of the other projections, in position order. */
  forwarded: ScannedEvent[];
  /** Every partition's carried job events, in position order. */
  carried: ScannedEvent[];
  /** The checkpoint the new read model starts from. */
  position: number;
}

export interface ReadModelWriterOptions {
  /**
   * Copies after which the jobs table's indexes are built, with one `CREATE INDEX` each over the rows
   * copied so far; before, rows go in without them, after, they are kept row by row. 0 (default): kept
   * row by row from the first row. See ReadModelWriter.
   */
  indexAfterCopies?: number;
}

/**
 * The one writer of a rebuild's new read model (SQLite has one writer per file). It creates the file
 * with the whole schema and copies each partition's scratch file in as soon as it is folded — so the
 * index work goes on while the other partitions are still folding, instead of one `CREATE INDEX` per
 * index after the last one. The first copies (`indexAfterCopies`) go in without the jobs' indexes,
 * which are then built over them at once: SQLite's sorter builds an index over rows already there for
 * less than it costs to keep it row by row (a third of 1M jobs: 0.6 core-seconds less, the rebuild
 * 2–3 % faster), while a build over more rows would end after the last fold, with the other core idle.
 * Partitions are copied newest range first, each range's rows newest first: the jobs indexes all end
 * in `created_at DESC`, so every row then lands at the end of its run of keys and the pages come out
 * full (rows copied oldest first land at the front of theirs: the file was half as large again). Then
 * it applies what needs every row: the carried events, the counters, the other projections, the
 * checkpoint; and hands over in WAL.
 */
export class ReadModelWriter {
  private readonly db: ReadModelDb;
  private readonly columns = JOB_COLUMNS.join(', ');
  /** Time spent copying partitions in (rows, primary key, indexes, job_throughput). */
  copyMs = 0;
  private copies = 0;
  /** The jobs' indexes not built yet (their CREATE statements, as the schema has them). */
  private deferredIndexes: string[] = [];

  constructor(
    private readonly target: string,
    private readonly options: ReadModelWriterOptions = {},
  ) {
    removeDbFiles(target);
    this.db = openReadModelDb(target);
    try {
      throwawayPragmas(this.db);
      if ((options.indexAfterCopies ?? 0) > 0) {
        // The primary key's index (no `sql`) stays: SQLite keeps it with the table.
        const indexes = this.db
          .prepare<[], { name: string; sql: string }>(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' AND sql IS NOT NULL",
          )
          .all();
        for (const index of indexes) this.db.exec(`DROP INDEX "${index.name}"`);
        this.deferredIndexes = indexes.map((index) => index.sql);
      }
    } catch (error) {
      this.db.close();
      throw error;
    }
  }

  /** Builds the jobs' indexes left for later, if any. */
  private buildDeferredIndexes(): void {
    for (const sql of this.deferredIndexes) this.db.exec(sql);
    this.deferredIndexes = [];
  }

  /** Copies one partition's scratch file in (newest row first) and removes it. */
  copy(file: string): void {
    const started = performance.now();
    this.db.prepare('ATTACH ? AS part').run(file);
    try {
      this.db.exec(`INSERT INTO jobs (${this.columns}) SELECT ${this.columns} FROM part.jobs ORDER BY rowid DESC`);
      addThroughputFrom(this.db, 'part');
    } finally {
      this.db.exec('DETACH part');
    }
    removeDbFiles(file);
    if (++this.copies === this.options.indexAfterCopies) this.buildDeferredIndexes();
    this.copyMs += performance.now() - started;
  }

  /** Applies what needs every row, hands the file over in WAL and closes it. Returns the jobs in it. */
  finish(input: FinishInput): number {
    const db = this.db;
    try {
      this.buildDeferredIndexes(); // fewer copies than asked for (a small log): before the lookups below
      const { projections } = otherProjections();
      db.transaction(() => {
        const insertCount = db.prepare('INSERT INTO job_counts (owner, status, count) VALUES (?, ?, ?)');
        for (const entry of input.counts) insertCount.run(entry);
        const insertBatchCount = db.prepare('INSERT INTO batch_job_counts (batch_id, status, count) VALUES (?, ?, ?)');
        for (const entry of input.batchCounts) insertBatchCount.run(entry);
        // After the counters: the live projection moves a carried job between them.
        applyCarried(db, input.carried);
        for (const event of input.forwarded) for (const projection of projections) projection.apply(db, event);
        db.prepare('INSERT OR REPLACE INTO projection_checkpoints (name, position) VALUES (?, ?)').run(
          REBUILD_CHECKPOINT,
          input.position,
        );
      })();
      // Every row is in exactly one owner/status counter (kept as rows move; the rebuild tests compare
      // both tables with live): their sum is the row count without reading an index of every job
      // (`count(*)` took 0.4 s of a 1M-job rebuild's tail, with the other core idle).
      const jobs = db.prepare<[], number>('SELECT coalesce(sum(count), 0) FROM job_counts').pluck().get()!;
      // Back to the settings every other connection expects.
      db.pragma('locking_mode = NORMAL');
      db.pragma('journal_mode = WAL'); // also releases the exclusive lock
      return jobs;
    } finally {
      db.close();
    }
  }

  /** Gives up: closes and removes the file. */
  abandon(): void {
    if (this.db.open) this.db.close();
    removeDbFiles(this.target);
  }
}

/**
 * The carried events (streams that began before the range that read them), in log order, applied to
 * the rows the ranges before left by the live job projection itself (read the row, `evolveJob`, write
 * it back, move its counters; idempotent by the row's last position). job_throughput is tallied here
 * as the partitions tally theirs, with the owner of the row after each event: the live throughput
 * projection would skip an event older than its bucket's newest, which ranges folded out of order
 * have already counted.
 */
function applyCarried(db: ReadModelDb, carried: ScannedEvent[]): void {
  if (carried.length === 0) return;
  const jobs = jobProjection();
  const ownerOf = db.prepare<[string], string>('SELECT owner FROM jobs WHERE id = ?').pluck();
  const throughput = new ThroughputTally();
  for (const event of carried) {
    jobs.apply(db, event);
    throughput.add(event, ownerOf.get(event.streamId));
  }
  throughput.write(db, { add: true });
}
