import { existsSync, renameSync, rmSync } from 'node:fs';
import type { EventStore, ScannedEvent } from '../eventstore/index.js';
import type { JobRow } from './jobReadModel.js';
import { openReadModelDb } from './readModelDb.js';
import { JOB_COLUMNS, evolveJob } from './jobProjection.js';
import { batchProjection } from './batchProjection.js';
import { poolProjection } from './poolProjection.js';
import { scheduleProjection } from './scheduleProjection.js';
import { webhookProjection } from './webhookProjection.js';
import { ThroughputTally } from './throughput.js';

export interface RebuildResult {
  events: number;
  jobs: number;
  ms: number;
  /** Where the time went (ms): reading + folding the log, writing the rows, building the indexes. */
  phases: { foldMs: number; writeMs: number; indexMs: number };
}

const removeDb = (file: string) => {
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
};

/** Same checkpoint name as the live Projector, so the rebuilt file can take over. */
const CHECKPOINT = 'read-model';
/** Events between two progress reports (and batch-event flushes). */
const PROGRESS_EVERY = 50_000;

/**
 * Builds a read model from the whole log into `targetPath` (a fresh file). The read model is derived
 * only from events, so this must equal the live one. It streams the log once, folds each job's
 * events in memory with the same `evolveJob` the live projection uses, then writes every row once and
 * builds the indexes after the load (one sort per index instead of keeping seven B-trees up to date
 * row by row); counters are computed from the rows.
 */
export function rebuildReadModel(
  store: EventStore,
  targetPath: string,
  onProgress?: (position: number, last: number) => void,
): RebuildResult {
  const started = performance.now();
  removeDb(targetPath);
  const db = openReadModelDb(targetPath);
  // A fresh file nobody reads until it is complete (and that is thrown away if this fails): no
  // journal, no fsync, one lock for the whole load. Without a journal the pages are written once,
  // not to the WAL first and then again to the file.
  db.pragma('journal_mode = OFF');
  db.pragma('locking_mode = EXCLUSIVE');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144'); // 256 MiB: the index sorts stay in memory
  db.pragma('temp_store = MEMORY');
  db.pragma('threads = 2'); // SQLite's sorter may use a helper thread for CREATE INDEX
  const indexes = db
    .prepare<[], { name: string; sql: string }>(
      "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' AND sql IS NOT NULL",
    )
    .all();
  for (const index of indexes) db.exec(`DROP INDEX ${index.name}`);

  // 1. fold
  const last = store.lastPosition();
  const rows = new Map<string, JobRow>();
  const throughput = new ThroughputTally();
  // Batch, pool and schedule streams are few: applied through their live projections, a chunk at a time.
  const others = [batchProjection(), poolProjection(), scheduleProjection(), webhookProjection()];
  const applyBatchEvents = db.transaction((events: ScannedEvent[]) => {
    for (const event of events) for (const projection of others) projection.apply(db, event);
  });
  let position = 0;
  let events = 0;
  let batchEvents: ScannedEvent[] = [];
  for (const event of store.scanAll({ toPosition: last })) {
    const type = event.type;
    if (type.startsWith('Job')) {
      const before = rows.get(event.streamId);
      // In place: the rows are this function's own, never shared.
      const after = evolveJob(before, event, true);
      if (after === null) rows.delete(event.streamId);
      else if (after && after !== before) rows.set(event.streamId, after);
      throughput.add(event, rows.get(event.streamId)?.owner);
    } else if (type.startsWith('Batch') || type.startsWith('Pool') || type.startsWith('Schedule') || type.startsWith('Webhook')) {
      batchEvents.push(event);
    }
    position = event.globalPosition;
    if (++events % PROGRESS_EVERY === 0) {
      if (batchEvents.length > 0) applyBatchEvents(batchEvents);
      batchEvents = [];
      onProgress?.(position, last);
    }
  }
  if (batchEvents.length > 0) applyBatchEvents(batchEvents);
  onProgress?.(position, last);
  const folded = performance.now();

  // 2. write: positional parameters bind faster than named ones
  const insert = db.prepare(`INSERT INTO jobs (${JOB_COLUMNS.join(', ')}) VALUES (${JOB_COLUMNS.map(() => '?').join(', ')})`);
  const insertCount = db.prepare('INSERT INTO job_counts (owner, status, count) VALUES (?, ?, ?)');
  const insertBatchCount = db.prepare('INSERT INTO batch_job_counts (batch_id, status, count) VALUES (?, ?, ?)');
  db.transaction(() => {
    const counts = new Map<string, [string, string, number]>();
    const batchCounts = new Map<string, [string, string, number]>();
    const bump = (map: Map<string, [string, string, number]>, a: string, b: string) => {
      const key = `${a}\u0000${b}`;
      const entry = map.get(key);
      if (entry) entry[2]++;
      else map.set(key, [a, b, 1]);
    };
    const values: unknown[] = new Array(JOB_COLUMNS.length);
    for (const row of rows.values()) {
      for (let c = 0; c < JOB_COLUMNS.length; c++) values[c] = row[JOB_COLUMNS[c]!] ?? null;
      insert.run(values);
      bump(counts, row.owner, row.status);
      if (row.batch_id) bump(batchCounts, row.batch_id, row.status);
    }
    for (const [owner, status, n] of counts.values()) insertCount.run(owner, status, n);
    for (const [batchId, status, n] of batchCounts.values()) insertBatchCount.run(batchId, status, n);
    throughput.write(db);
    db.prepare('INSERT OR REPLACE INTO projection_checkpoints (name, position) VALUES (?, ?)').run(CHECKPOINT, position);
  })();
  const jobs = rows.size;
  rows.clear();
  const written = performance.now();

  // 3. indexes, then back to the settings every other connection expects
  for (const index of indexes) db.exec(index.sql);
  const indexed = performance.now();
  db.pragma('locking_mode = NORMAL');
  db.pragma('journal_mode = WAL'); // also releases the exclusive lock
  db.close();
  const ms = (t: number) => Math.round(t);
  return {
    events,
    jobs,
    ms: ms(performance.now() - started),
    phases: { foldMs: ms(folded - started), writeMs: ms(written - folded), indexMs: ms(indexed - written) },
  };
}

/** Rebuilds next to the live file, then swaps it in (for a stopped engine: `npm run projections:rebuild`). */
export function rebuildReadModelInPlace(
  store: EventStore,
  readModelPath: string,
  onProgress?: (position: number, last: number) => void,
): RebuildResult {
  const temp = `${readModelPath}.rebuild`;
  const result = rebuildReadModel(store, temp, onProgress);
  removeDb(readModelPath);
  renameSync(temp, readModelPath);
  if (existsSync(`${temp}-wal`)) renameSync(`${temp}-wal`, `${readModelPath}-wal`);
  return result;
}
