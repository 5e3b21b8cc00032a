import { existsSync, renameSync, rmSync } from 'node:fs';
import type { EventStore } from '../eventstore/index.js';
import type { JobRow } from './jobReadModel.js';
import { openReadModelDb } from './readModelDb.js';
import { JOB_COLUMNS, evolveJob } from './jobProjection.js';
import { batchProjection } from './batchProjection.js';

export interface RebuildResult {
  events: number;
  jobs: number;
  ms: number;
}

const removeDb = (file: string) => {
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
};

/** Same checkpoint name as the live Projector, so the rebuilt file can take over. */
const CHECKPOINT = 'read-model';
const PAGE = 50_000;

/**
 * Builds a read model from the whole log into `targetPath` (a fresh file). The read model is derived
 * only from events, so this must equal the live one. It folds each job's events in memory with the
 * same `evolveJob` the live projection uses, then writes every row once and builds the indexes after
 * the load (cheaper than keeping them up to date row by row); counters are computed from the rows.
 */
export function rebuildReadModel(
  store: EventStore,
  targetPath: string,
  onProgress?: (position: number, last: number) => void,
): RebuildResult {
  const started = Date.now();
  removeDb(targetPath);
  const db = openReadModelDb(targetPath);
  // A fresh file nobody reads yet: no need to make each step durable.
  db.pragma('synchronous = OFF');
  const indexes = db
    .prepare<[], { name: string; sql: string }>("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' AND sql IS NOT NULL")
    .all();
  for (const index of indexes) db.exec(`DROP INDEX ${index.name}`);

  const last = store.lastPosition();
  const rows = new Map<string, JobRow>();
  const batches = batchProjection();
  const applyBatchEvents = db.transaction((events: Parameters<typeof batches.apply>[1][]) => {
    for (const event of events) batches.apply(db, event);
  });
  let position = 0;
  let events = 0;
  for (;;) {
    const page = store.readAll({ fromPosition: position, limit: PAGE });
    if (page.length === 0) break;
    const batchEvents = [];
    for (const event of page) {
      if (event.type.startsWith('Job')) {
        const before = rows.get(event.streamId);
        const after = evolveJob(before, event);
        if (after === null) rows.delete(event.streamId);
        else if (after && after !== before) rows.set(event.streamId, after);
      } else if (event.type.startsWith('Batch')) {
        batchEvents.push(event);
      }
    }
    if (batchEvents.length > 0) applyBatchEvents(batchEvents);
    position = page[page.length - 1]!.globalPosition;
    events += page.length;
    onProgress?.(position, last);
  }

  const insert = db.prepare(`INSERT INTO jobs (${JOB_COLUMNS.join(', ')}) VALUES (${JOB_COLUMNS.map((c) => `@${c}`).join(', ')})`);
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
    for (const row of rows.values()) {
      insert.run(row);
      bump(counts, row.owner, row.status);
      if (row.batch_id) bump(batchCounts, row.batch_id, row.status);
    }
    for (const [owner, status, n] of counts.values()) insertCount.run(owner, status, n);
    for (const [batchId, status, n] of batchCounts.values()) insertBatchCount.run(batchId, status, n);
    db.prepare('INSERT OR REPLACE INTO projection_checkpoints (name, position) VALUES (?, ?)').run(CHECKPOINT, position);
  })();
  for (const index of indexes) db.exec(index.sql);
  db.pragma('synchronous = NORMAL');
  db.close();
  return { events, jobs: rows.size, ms: Date.now() - started };
}

/** Rebuilds next to the live file, then swaps it in (for a stopped engine: `npm run projections:rebuild`). */
export function rebuildReadModelInPlace(store: EventStore, readModelPath: string, onProgress?: (position: number, last: number) => void): RebuildResult {
  const temp = `${readModelPath}.rebuild`;
  const result = rebuildReadModel(store, temp, onProgress);
  removeDb(readModelPath);
  renameSync(temp, readModelPath);
  if (existsSync(`${temp}-wal`)) renameSync(`${temp}-wal`, `${readModelPath}-wal`);
  return result;
}
