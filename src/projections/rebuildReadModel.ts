import { existsSync, renameSync, rmSync } from 'node:fs';
import type { EventStore } from '../eventstore/index.js';
import { openReadModelDb } from './readModelDb.js';
import { readModelProjections } from './readModelProjections.js';
import { Projector } from './projector.js';

export interface RebuildResult {
  events: number;
  jobs: number;
  ms: number;
}

const removeDb = (file: string) => {
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
};

/**
 * Builds a read model from the whole log into `targetPath` (a fresh file). The read model is derived
 * only from events, so this must equal the live one. `onProgress` is called after each batch.
 */
export function rebuildReadModel(
  store: EventStore,
  targetPath: string,
  onProgress?: (position: number, last: number) => void,
): RebuildResult {
  const started = Date.now();
  removeDb(targetPath);
  const db = openReadModelDb(targetPath);
  // A rebuild writes a fresh file nobody reads yet: trade durability of each batch for speed.
  db.pragma('synchronous = OFF');
  const projector = new Projector(store, db, readModelProjections(), { batchSize: 20_000 });
  const last = store.lastPosition();
  projector.on('projected', (position: number) => onProgress?.(position, last));
  const events = projector.catchUp();
  db.pragma('synchronous = NORMAL');
  const jobs = (db.prepare('SELECT COUNT(*) AS n FROM jobs').get() as { n: number }).n;
  db.close();
  return { events, jobs, ms: Date.now() - started };
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
