import type { ScannedEvent } from '../eventstore/index.js';
import type { JobRow } from './jobReadModel.js';
import { JOB_COLUMNS, evolveJob, jobRowValues } from './jobProjection.js';
import { openReadModelDb, type ReadModelDb } from './readModelDb.js';
import {
  REBUILD_CHECKPOINT,
  bump,
  otherProjections,
  removeDbFiles,
  throwawayPragmas,
  type CountEntry,
} from './rebuildPartition.js';
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

/**
 * The one writer of a rebuild's new read model (SQLite has one writer per file). It creates the file
 * with the whole schema, indexes included, and copies each partition's scratch file in as soon as it
 * is folded — so the index work goes on while the other partitions are still folding, instead of
 * one `CREATE INDEX` per index after the last one. Partitions are copied newest range first, each
 * range's rows newest first: the jobs indexes all end in `created_at DESC`, so every row then lands
 * at the end of its run of keys and the pages come out full (rows copied oldest first land at the
 * front of theirs: the file was half as large again). Then it applies what needs every row: the
 * carried events, the counters, the other projections, the checkpoint; and hands over in WAL.
 */
export class ReadModelWriter {
  private readonly db: ReadModelDb;
  private readonly columns = JOB_COLUMNS.join(', ');
  /** Time spent copying partitions in (rows, primary key, indexes, job_throughput). */
  copyMs = 0;

  constructor(private readonly target: string) {
    removeDbFiles(target);
    this.db = openReadModelDb(target);
    try {
      throwawayPragmas(this.db);
    } catch (error) {
      this.db.close();
      throw error;
    }
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
    this.copyMs += performance.now() - started;
  }

  /** Applies what needs every row, hands the file over in WAL and closes it. Returns its time (ms) and the jobs in it. */
  finish(input: FinishInput): { ms: number; jobs: number } {
    const started = performance.now();
    const db = this.db;
    try {
      const { projections } = otherProjections();
      db.transaction(() => {
        const counts = new Map(input.counts.map((e) => [`${e[0]}\u0000${e[1]}`, [...e] as CountEntry]));
        const batchCounts = new Map(input.batchCounts.map((e) => [`${e[0]}\u0000${e[1]}`, [...e] as CountEntry]));
        applyCarried(db, input.carried, counts, batchCounts);
        // Rows at zero are absent, as live.
        const insertCount = db.prepare('INSERT INTO job_counts (owner, status, count) VALUES (?, ?, ?)');
        for (const entry of counts.values()) if (entry[2] !== 0) insertCount.run(entry);
        const insertBatchCount = db.prepare('INSERT INTO batch_job_counts (batch_id, status, count) VALUES (?, ?, ?)');
        for (const entry of batchCounts.values()) if (entry[2] !== 0) insertBatchCount.run(entry);
        for (const event of input.forwarded) for (const projection of projections) projection.apply(db, event);
        db.prepare('INSERT OR REPLACE INTO projection_checkpoints (name, position) VALUES (?, ?)').run(
          REBUILD_CHECKPOINT,
          input.position,
        );
      })();
      const jobs = db.prepare<[], number>('SELECT count(*) FROM jobs').pluck().get()!;
      // Back to the settings every other connection expects.
      db.pragma('locking_mode = NORMAL');
      db.pragma('journal_mode = WAL'); // also releases the exclusive lock
      return { ms: Math.round(performance.now() - started), jobs };
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
 * the rows the ranges before left: each stream's row is read from the copied rows, folded on with the
 * same `evolveJob`, and written back; its counters move from its old row to its new one, and the
 * events are counted in job_throughput as the partitions count theirs (with the row after each event).
 */
function applyCarried(
  db: ReadModelDb,
  carried: ScannedEvent[],
  counts: Map<string, CountEntry>,
  batchCounts: Map<string, CountEntry>,
): void {
  if (carried.length === 0) return;
  const byStream = new Map<string, ScannedEvent[]>();
  for (const event of carried) {
    const list = byStream.get(event.streamId);
    if (list) list.push(event);
    else byStream.set(event.streamId, [event]);
  }
  const read = db.prepare<[string], JobRow>('SELECT * FROM jobs WHERE id = ?');
  const remove = db.prepare('DELETE FROM jobs WHERE id = ?');
  const insert = db.prepare(`INSERT INTO jobs (${JOB_COLUMNS.join(', ')}) VALUES (${JOB_COLUMNS.map(() => '?').join(', ')})`);
  const throughput = new ThroughputTally();
  for (const [id, events] of byStream) {
    const original = read.get(id);
    let row: JobRow | undefined = original && { ...original };
    for (const event of events) {
      const after = evolveJob(row, event, true);
      row = after === null ? undefined : after;
      throughput.add(event, row ? row.owner : undefined);
    }
    if (original) {
      remove.run(id);
      bump(counts, original.owner, original.status, -1);
      if (original.batch_id) bump(batchCounts, original.batch_id, original.status, -1);
    }
    if (row) {
      insert.run(jobRowValues(row));
      bump(counts, row.owner, row.status);
      if (row.batch_id) bump(batchCounts, row.batch_id, row.status);
    }
  }
  throughput.write(db, { add: true });
}
