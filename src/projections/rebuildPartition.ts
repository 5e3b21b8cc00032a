import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { openEventStore, type ScannedEvent } from '../eventstore/index.js';
import type { JobRow } from './jobReadModel.js';
import { JOB_COLUMNS, JOB_EVENTS_READING_METADATA, evolveJob, jobRowValues, type Projection } from './jobProjection.js';
import { openReadModelDb, type ReadModelDb } from './readModelDb.js';
import { readModelProjections } from './readModelProjections.js';
import { THROUGHPUT_PROJECTION, ThroughputTally, addThroughputFrom } from './throughput.js';

/**
 * One partition of a rebuild: the job streams whose id hashes to it, folded in memory with the same
 * `evolveJob` the live projection uses, then written once. A job row depends on its own stream only
 * (its counters are counted from the final rows), so partitions are independent. Events the other
 * projections read (batches, pools, schedules: few) are handed back to be applied in log order.
 */
export interface PartitionInput {
  /** The event store file (read through read-only connections of this partition's own). */
  eventsFile: string;
  /** Last position applied (inclusive). */
  toPosition: number;
  index: number;
  count: number;
  /** The scratch file this partition writes its rows into (removed by the merge). */
  file: string;
  /** The new read model: partition 0 merges every partition's rows into it. */
  target: string;
  /** Events between two progress reports. */
  progressEvery: number;
}

/** An owner/status or batch/status counter: [key, status, count]. */
export type CountEntry = [string, string, number];

export interface PartitionResult {
  /** Events of this partition read. */
  events: number;
  jobs: number;
  counts: CountEntry[];
  batchCounts: CountEntry[];
  /** Events of the other projections, as plain objects (they cross threads), in position order. */
  forwarded: ScannedEvent[];
  foldMs: number;
  writeMs: number;
}

export interface MergeInput {
  /** Every partition's scratch file, copied into the read model in this order and removed. */
  parts: string[];
  counts: CountEntry[];
  batchCounts: CountEntry[];
  /** Every partition's forwarded events, in position order. */
  forwarded: ScannedEvent[];
  /** The checkpoint the new read model starts from. */
  position: number;
}

export interface MergeResult {
  copyMs: number;
  indexMs: number;
}

/** Same checkpoint name as the live Projector, so the rebuilt file can take over. */
export const REBUILD_CHECKPOINT = 'read-model';

export const removeDbFiles = (file: string): void => {
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
};

/** The projections other than the jobs fold, and the event-type prefixes they read (null: every event). */
function otherProjections(): { projections: Projection[]; prefixes: string[] | null } {
  // The jobs fold and job_throughput (counted during the fold: a deleted job's row is gone by the
  // merge, but its earlier events counted live) are the partitions' own.
  const projections = readModelProjections().filter((p) => p.name !== 'jobs' && p.name !== THROUGHPUT_PROJECTION);
  const prefixes = projections.every((p) => p.eventTypePrefixes) ? projections.flatMap((p) => [...p.eventTypePrefixes!]) : null;
  return { projections, prefixes };
}

/**
 * A file nobody reads until it is complete (and that is thrown away if this fails): no journal, no
 * fsync, one lock for the whole load. Without a journal the pages are written once.
 */
function throwawayPragmas(db: Database.Database): void {
  db.pragma('journal_mode = OFF');
  db.pragma('locking_mode = EXCLUSIVE');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144'); // 256 MiB: the index sorts stay in memory
  db.pragma('temp_store = MEMORY');
}

/**
 * For CREATE INDEX after the load: a small page cache. SQLite's sorter then sorts runs that fit in it
 * and merges them, instead of one sort of every key in memory: the nine indexes of 1,000,000 jobs took
 * 6.4 s with 8 MiB against 9.1 s with the load's 256 MiB (2–64 MiB all gave 6.2–7.1 s). Helper
 * threads for the sorter gave ~3 % more. The rebuild's floor (bench/support/rebuildFloor.ts) builds
 * its indexes with the same settings.
 */
export function indexPragmas(db: Database.Database): void {
  db.pragma('cache_size = -8192');
  db.pragma('threads = 2');
}

/** Folds partition `input.index` and writes its rows; partition 0 then `merge`s every partition's into the read model. */
export function foldPartition(
  input: PartitionInput,
  onProgress?: (position: number) => void,
): { result: PartitionResult; merge(merge: MergeInput): MergeResult } {
  const started = performance.now();
  const { prefixes } = otherProjections();
  // Asked for every event of the log: answered once per event type.
  const forwardsType = new Map<string, boolean>();
  const forwards = (type: string): boolean => {
    let yes = forwardsType.get(type);
    if (yes === undefined) forwardsType.set(type, (yes = prefixes === null || prefixes.some((p) => type.startsWith(p))));
    return yes;
  };
  const rows = new Map<string, JobRow>();
  const throughput = new ThroughputTally();
  const forwarded: ScannedEvent[] = [];
  let events = 0;
  const store = openEventStore(input.eventsFile, { readonly: true });
  try {
    for (const event of store.scanAll({
      toPosition: input.toPosition,
      partition: { index: input.index, count: input.count },
      lazyMetadata: true,
      metadataWithTypes: JOB_EVENTS_READING_METADATA,
    })) {
      const type = event.type;
      if (type.startsWith('Job')) {
        const before = rows.get(event.streamId);
        // In place: the rows are this function's own, never shared.
        const after = evolveJob(before, event, true);
        if (after === null) rows.delete(event.streamId);
        else if (after && after !== before) rows.set(event.streamId, after);
        throughput.add(event, after ? after.owner : undefined); // the row after the event, as live
      }
      if (forwards(type)) {
        const { globalPosition, streamId, streamVersion, data, metadata, recordedAt } = event;
        forwarded.push({ globalPosition, streamId, streamVersion, type, data, metadata, recordedAt });
      }
      if (++events % input.progressEvery === 0) onProgress?.(event.globalPosition);
    }
  } finally {
    store.close();
  }
  onProgress?.(input.toPosition);
  const folded = performance.now();

  // The rows, in one transaction, into a bare table of this partition's own scratch file (no primary
  // key: the merge copies every partition's rows into the read model, where SQLite alone keeps the key).
  // Positional parameters bind faster than named ones.
  removeDbFiles(input.file);
  const db = new Database(input.file);
  throwawayPragmas(db);
  db.exec(`CREATE TABLE jobs (${JOB_COLUMNS.join(', ')})`);
  const insert = db.prepare(`INSERT INTO jobs (${JOB_COLUMNS.join(', ')}) VALUES (${JOB_COLUMNS.map(() => '?').join(', ')})`);
  const counts = new Map<string, CountEntry>();
  const batchCounts = new Map<string, CountEntry>();
  db.transaction(() => {
    for (const row of rows.values()) {
      insert.run(jobRowValues(row));
      bump(counts, row.owner, row.status);
      if (row.batch_id) bump(batchCounts, row.batch_id, row.status);
    }
    // This partition's job_throughput (the merge adds the partitions' up in SQLite).
    throughput.write(db, { create: true });
  })();
  const jobs = rows.size;
  rows.clear();
  const written = performance.now();
  db.close();

  return {
    result: {
      events,
      jobs,
      counts: [...counts.values()],
      batchCounts: [...batchCounts.values()],
      forwarded,
      foldMs: Math.round(folded - started),
      writeMs: Math.round(written - folded),
    },
    merge: (merge) => mergeInto(input.target, merge),
  };
}

function bump(map: Map<string, CountEntry>, key: string, status: string, n = 1): void {
  const id = `${key}\u0000${status}`;
  const entry = map.get(id);
  if (entry) entry[2] += n;
  else map.set(id, [key, status, n]);
}

/** Adds up the counters of several partitions (an owner's jobs are in every partition). */
export function sumCounts(lists: CountEntry[][]): CountEntry[] {
  const total = new Map<string, CountEntry>();
  for (const list of lists) for (const [key, status, n] of list) bump(total, key, status, n);
  return [...total.values()];
}

/**
 * Creates the read model, copies the partitions' rows in (SQLite alone keeps the primary key; the
 * jobs indexes are dropped and built once after the load, one sort per index instead of keeping them
 * up to date row by row), applies the other projections, builds the indexes, hands over in WAL.
 */
function mergeInto(target: string, merge: MergeInput): MergeResult {
  const started = performance.now();
  removeDbFiles(target);
  const db: ReadModelDb = openReadModelDb(target);
  try {
    throwawayPragmas(db);
    const indexes = db
      .prepare<[], { name: string; sql: string }>(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' AND sql IS NOT NULL",
      )
      .all();
    for (const index of indexes) db.exec(`DROP INDEX ${index.name}`);
    const columns = JOB_COLUMNS.join(', ');
    for (const part of merge.parts) {
      db.prepare('ATTACH ? AS part').run(part);
      db.exec(`INSERT INTO jobs (${columns}) SELECT ${columns} FROM part.jobs`);
      addThroughputFrom(db, 'part');
      db.exec('DETACH part');
      removeDbFiles(part);
    }
    const { projections } = otherProjections();
    db.transaction(() => {
      const insertCount = db.prepare('INSERT INTO job_counts (owner, status, count) VALUES (?, ?, ?)');
      for (const entry of merge.counts) insertCount.run(entry);
      const insertBatchCount = db.prepare('INSERT INTO batch_job_counts (batch_id, status, count) VALUES (?, ?, ?)');
      for (const entry of merge.batchCounts) insertBatchCount.run(entry);
      for (const event of merge.forwarded) for (const projection of projections) projection.apply(db, event);
      db.prepare('INSERT OR REPLACE INTO projection_checkpoints (name, position) VALUES (?, ?)').run(
        REBUILD_CHECKPOINT,
        merge.position,
      );
    })();
    const copied = performance.now();
    indexPragmas(db);
    for (const index of indexes) db.exec(index.sql);
    const indexed = performance.now();
    // Back to the settings every other connection expects.
    db.pragma('locking_mode = NORMAL');
    db.pragma('journal_mode = WAL'); // also releases the exclusive lock
    return { copyMs: Math.round(copied - started), indexMs: Math.round(indexed - copied) };
  } finally {
    db.close();
  }
}
