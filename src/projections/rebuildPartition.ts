import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { openEventStore, type ScannedEvent } from '../eventstore/index.js';
import type { JobRow } from './jobReadModel.js';
import { JOB_COLUMNS, JOB_EVENTS_READING_METADATA, evolveJob, jobRowValues, type Projection } from './jobProjection.js';
import { openReadModelDb, type ReadModelDb } from './readModelDb.js';
import { readModelProjections } from './readModelProjections.js';
import { THROUGHPUT_PROJECTION, ThroughputTally, addThroughputFrom } from './throughput.js';

/**
 * One partition of a rebuild: a range of the log's positions, its job streams folded in memory with
 * the same `evolveJob` the live projection uses, then written once. A job row depends on its own
 * stream only (its counters are counted from the final rows), so the streams that begin in a range are
 * that range's alone. A stream that began in an earlier range (its first event here is not its first)
 * cannot be folded here: its events are carried to the merge, which applies them, in log order, to the
 * row the earlier ranges left. Streams are short next to a range, so few are carried. Events the
 * other projections read (batches, pools, schedules: few) are handed back to be applied in log order.
 */
export interface PartitionInput {
  /** The event store file (read through read-only connections of this partition's own). */
  eventsFile: string;
  /** The range of positions this partition reads: after `fromPosition`, up to `toPosition` (inclusive). */
  fromPosition: number;
  toPosition: number;
  /** The partition's place: ranges are in position order; partition 0 merges. */
  index: number;
  /** The scratch file this partition writes its rows into (removed by the merge); not partition 0's. */
  file: string;
  /** The new read model: partition 0 writes its rows straight into it, then merges the others' in. */
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
  /** Job events of streams that began before this range, as plain objects, in position order. */
  carried: ScannedEvent[];
  foldMs: number;
  writeMs: number;
}

export interface MergeInput {
  /** The scratch files of partitions 1…, copied into the read model in this order and removed. */
  parts: string[];
  counts: CountEntry[];
  batchCounts: CountEntry[];
  /** Every partition's forwarded events, in position order. */
  forwarded: ScannedEvent[];
  /** Every partition's carried job events, in position order (applied after the rows are copied). */
  carried: ScannedEvent[];
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
  // Nothing comes before the first range: its streams all begin in it.
  const mayCarry = input.fromPosition > 0;
  const carriedStreams = new Set<string>();
  const carried: ScannedEvent[] = [];
  let events = 0;
  const store = openEventStore(input.eventsFile, { readonly: true });
  try {
    for (const event of store.scanAll({
      fromPosition: input.fromPosition,
      toPosition: input.toPosition,
      lazyMetadata: true,
      metadataWithTypes: JOB_EVENTS_READING_METADATA,
    })) {
      const type = event.type;
      if (type.startsWith('Job')) {
        const before = rows.get(event.streamId);
        // No row here for a stream past its first event: it began before this range (or its row is
        // gone, which the merge sees as well). Carrying is never wrong, only slower.
        if (before === undefined && mayCarry && (event.streamVersion > 1 || carriedStreams.has(event.streamId))) {
          carriedStreams.add(event.streamId);
          carried.push(plainEvent(event));
        } else {
          // In place: the rows are this function's own, never shared.
          const after = evolveJob(before, event, true);
          if (after === null) rows.delete(event.streamId);
          else if (after && after !== before) rows.set(event.streamId, after);
          throughput.add(event, after ? after.owner : undefined); // the row after the event, as live
        }
      }
      if (forwards(type)) forwarded.push(plainEvent(event));
      if (++events % input.progressEvery === 0) onProgress?.(event.globalPosition);
    }
  } finally {
    store.close();
  }
  onProgress?.(input.toPosition);
  const folded = performance.now();

  // The rows, in one transaction: partition 0's straight into the new read model (its jobs indexes
  // dropped until every row is in), the others' into a bare table of a scratch file of their own (no
  // primary key: the merge copies them into the read model, where SQLite alone keeps the key). Each
  // file has one writer, so the partitions write at once. Positional parameters bind faster than named.
  const direct = input.index === 0;
  let db: Database.Database;
  let indexes: JobIndex[] = [];
  if (direct) {
    removeDbFiles(input.target);
    db = openReadModelDb(input.target);
    throwawayPragmas(db);
    indexes = dropJobIndexes(db);
  } else {
    removeDbFiles(input.file);
    db = new Database(input.file);
    throwawayPragmas(db);
    db.exec(`CREATE TABLE jobs (${JOB_COLUMNS.join(', ')})`);
  }
  const insert = db.prepare(`INSERT INTO jobs (${JOB_COLUMNS.join(', ')}) VALUES (${JOB_COLUMNS.map(() => '?').join(', ')})`);
  const counts = new Map<string, CountEntry>();
  const batchCounts = new Map<string, CountEntry>();
  db.transaction(() => {
    for (const row of rows.values()) {
      insert.run(jobRowValues(row));
      bump(counts, row.owner, row.status);
      if (row.batch_id) bump(batchCounts, row.batch_id, row.status);
    }
    // This partition's job_throughput (the merge adds the others' to partition 0's in SQLite).
    throughput.write(db, { create: !direct });
  })();
  const jobs = rows.size;
  rows.clear();
  const written = performance.now();
  if (!direct) db.close();

  return {
    result: {
      events,
      jobs,
      counts: [...counts.values()],
      batchCounts: [...batchCounts.values()],
      forwarded,
      carried,
      foldMs: Math.round(folded - started),
      writeMs: Math.round(written - folded),
    },
    merge: (merge) => {
      if (!direct) throw new Error('only partition 0 merges');
      return mergeInto(db, indexes, merge);
    },
  };
}

interface JobIndex {
  name: string;
  sql: string;
}

/** Drops the jobs table's indexes (not its primary key) and returns them, to be built after the load. */
function dropJobIndexes(db: ReadModelDb): JobIndex[] {
  const indexes = db
    .prepare<[], JobIndex>("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' AND sql IS NOT NULL")
    .all();
  for (const index of indexes) db.exec(`DROP INDEX ${index.name}`);
  return indexes;
}

/** An event as a plain object (its metadata read): it crosses threads. */
function plainEvent(event: ScannedEvent): ScannedEvent {
  const { globalPosition, streamId, streamVersion, type, data, metadata, recordedAt } = event;
  return { globalPosition, streamId, streamVersion, type, data, metadata, recordedAt };
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
 * Into the read model partition 0 has written its rows into (`db`, still open): copies the other
 * partitions' rows in (SQLite alone keeps the primary key; the jobs indexes stay dropped and are built
 * once after the load, one sort per index instead of keeping them up to date row by row), applies the
 * carried events and the other projections, builds the indexes, hands over in WAL.
 */
function mergeInto(db: ReadModelDb, indexes: JobIndex[], merge: MergeInput): MergeResult {
  const started = performance.now();
  try {
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
      const counts = new Map(merge.counts.map((e) => [`${e[0]}\u0000${e[1]}`, [...e] as CountEntry]));
      const batchCounts = new Map(merge.batchCounts.map((e) => [`${e[0]}\u0000${e[1]}`, [...e] as CountEntry]));
      applyCarried(db, merge.carried, counts, batchCounts);
      // Rows at zero are absent, as live.
      const insertCount = db.prepare('INSERT INTO job_counts (owner, status, count) VALUES (?, ?, ?)');
      for (const entry of counts.values()) if (entry[2] !== 0) insertCount.run(entry);
      const insertBatchCount = db.prepare('INSERT INTO batch_job_counts (batch_id, status, count) VALUES (?, ?, ?)');
      for (const entry of batchCounts.values()) if (entry[2] !== 0) insertBatchCount.run(entry);
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
