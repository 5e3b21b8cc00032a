import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { openEventStore, type ScannedEvent } from '../eventstore/index.js';
import type { JobRow } from './jobReadModel.js';
import { JOB_COLUMNS, JOB_EVENTS_READING_METADATA, evolveJob, runWithJobRow, type Projection } from './jobProjection.js';
import { readModelProjections } from './readModelProjections.js';
import { THROUGHPUT_PROJECTION, ThroughputTally } from './throughput.js';

/**
 * One partition of a rebuild: a range of the log's positions, its job streams folded in memory with
 * the same `evolveJob` the live projection uses, then written once, into a scratch file the rebuild's
 * writer copies into the read model (rebuildWriter.ts). A job row depends on its own stream only (its
 * counters are counted from the final rows), so the streams that begin in a range are that range's
 * alone. A stream that began in an earlier range (its first event here is not its first) cannot be
 * folded here: its events are carried to the writer, which applies them, in log order, to the row the
 * earlier ranges left once every range's rows are in. Streams are short next to a range, so few are
 * carried. Events the other projections read (batches, pools, schedules: few) are handed back to be
 * applied in log order.
 */
export interface PartitionInput {
  /** The event store file (read through read-only connections of this partition's own). */
  eventsFile: string;
  /** The range of positions this partition reads: after `fromPosition`, up to `toPosition` (inclusive). */
  fromPosition: number;
  toPosition: number;
  /** The partition's place: ranges are in position order. */
  index: number;
  /** The scratch file this partition writes its rows into (removed by the writer once copied). */
  file: string;
  /** Events between two progress reports. */
  progressEvery: number;
}

/** An owner/status or batch/status counter: [key, status, count]. */
export type CountEntry = [string, string, number];

export interface PartitionResult {
  /** Events of this partition read. */
  events: number;
  counts: CountEntry[];
  batchCounts: CountEntry[];
  /** Events of the other projections, as plain objects (they cross threads), in position order. */
  forwarded: ScannedEvent[];
  /** Job events of streams that began before this range, as plain objects, in position order. */
  carried: ScannedEvent[];
}

/** Same checkpoint name as the live Projector, so the rebuilt file can take over. */
export const REBUILD_CHECKPOINT = 'read-model';

export const removeDbFiles = (file: string): void => {
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
};

/** The projections other than the jobs fold, and the event-type prefixes they read (null: every event). */
export function otherProjections(): { projections: Projection[]; prefixes: string[] | null } {
  // The jobs fold and job_throughput (counted during the fold: a deleted job's row is gone by the
  // end, but its earlier events counted live) are the partitions' own.
  const projections = readModelProjections().filter((p) => p.name !== 'jobs' && p.name !== THROUGHPUT_PROJECTION);
  const prefixes = projections.every((p) => p.eventTypePrefixes) ? projections.flatMap((p) => [...p.eventTypePrefixes!]) : null;
  return { projections, prefixes };
}

/**
 * A file nobody reads until it is complete (and that is thrown away if this fails): no journal, no
 * fsync, one lock for the whole load. Without a journal the pages are written once.
 */
export function throwawayPragmas(db: Database.Database): void {
  db.pragma('journal_mode = OFF');
  db.pragma('locking_mode = EXCLUSIVE');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144'); // 256 MiB: the writer's indexes keep their hot pages in memory
  db.pragma('temp_store = MEMORY');
}

/** Folds the range of `input` and writes its rows into `input.file`. */
export function foldPartition(input: PartitionInput, onProgress?: (position: number) => void): PartitionResult {
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
      // Job events carry their time (`data.at`): the fold and the throughput tally read the row's
      // recorded_at only for an event without one. Reading it with every row was 3 % of a range's fold.
      lazyRecordedAt: true,
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

  // The rows, in one transaction, into a bare table of a scratch file of this partition's own (no
  // primary key: the writer copies them into the read model, where SQLite alone keeps the key and the
  // indexes). Positional parameters bind faster than named ones.
  removeDbFiles(input.file);
  const db = new Database(input.file);
  throwawayPragmas(db);
  db.exec(`CREATE TABLE jobs (${JOB_COLUMNS.join(', ')})`);
  const insert = db.prepare(`INSERT INTO jobs (${JOB_COLUMNS.join(', ')}) VALUES (${JOB_COLUMNS.map(() => '?').join(', ')})`);
  const counts = new Map<string, CountEntry>();
  const batchCounts = new Map<string, CountEntry>();
  db.transaction(() => {
    for (const row of rows.values()) {
      runWithJobRow(insert, row);
      bump(counts, row.owner, row.status);
      if (row.batch_id) bump(batchCounts, row.batch_id, row.status);
    }
    // This partition's job_throughput (the writer adds the partitions' up in SQLite).
    throughput.write(db, { create: true });
  })();
  rows.clear();
  db.close();

  return {
    events,
    counts: [...counts.values()],
    batchCounts: [...batchCounts.values()],
    forwarded,
    carried,
  };
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
