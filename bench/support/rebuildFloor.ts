/**
 * What SQLite alone needs for the work a rebuild cannot avoid, with no JavaScript in the loop: read
 * every event once, write the rebuilt rows into a fresh file, build the read model's indexes on them.
 * Printed next to the rebuild so its target can be judged against this machine's floor.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';

export interface RebuildFloor {
  /** One pass over the events table reading each event's stream, type, data and metadata. */
  scanMs: number;
  /** INSERT … SELECT of the rebuilt jobs rows into a fresh table (same pragmas as the rebuild). */
  writeMs: number;
  /** CREATE INDEX of every index of the jobs table on those rows (the rebuild's index settings). */
  indexMs: number;
  indexes: number;
  /**
   * Not part of the floor, shown next to it: one JavaScript thread reading every event and decoding
   * its data (JSON.parse), no fold — work a rebuild cannot avoid and the floor leaves out.
   */
  decodeMs: number;
}

/**
 * For CREATE INDEX after the load: a small page cache. SQLite's sorter then sorts runs that fit in it
 * and merges them, instead of one sort of every key in memory: the nine indexes of 1,000,000 jobs took
 * 6.4 s with 8 MiB against 9.1 s with a 256 MiB cache (2–64 MiB all gave 6.2–7.1 s). Helper threads
 * for the sorter gave ~3 % more. SQLite's best at this work, so the floor uses it.
 */
function indexPragmas(db: Database.Database): void {
  db.pragma('cache_size = -8192');
  db.pragma('threads = 2');
}

export function measureRebuildFloor(eventsFile: string, readModelFile: string, scratchFile: string): RebuildFloor {
  const events = new Database(eventsFile, { readonly: true });
  let t = performance.now();
  events.prepare('SELECT sum(length(stream_id) + length(type) + length(data) + length(metadata)) FROM events').pluck().get();
  const scanMs = performance.now() - t;
  t = performance.now();
  for (const data of events.prepare<[], string>('SELECT data FROM events').pluck().iterate()) JSON.parse(data);
  const decodeMs = performance.now() - t;
  events.close();

  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(scratchFile + suffix, { force: true });
  const db = new Database(scratchFile);
  try {
    for (const p of [
      'journal_mode = OFF',
      'locking_mode = EXCLUSIVE',
      'synchronous = OFF',
      'cache_size = -262144',
      'temp_store = MEMORY',
      'threads = 2',
    ])
      db.pragma(p);
    db.prepare('ATTACH ? AS rebuilt').run(readModelFile);
    db.exec(
      db.prepare<[], string>("SELECT sql FROM rebuilt.sqlite_master WHERE type = 'table' AND name = 'jobs'").pluck().get()!,
    );
    const indexes = db
      .prepare<[], string>("SELECT sql FROM rebuilt.sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' AND sql IS NOT NULL")
      .pluck()
      .all();
    t = performance.now();
    db.exec('INSERT INTO main.jobs SELECT * FROM rebuilt.jobs ORDER BY rowid');
    const writeMs = performance.now() - t;
    indexPragmas(db);
    t = performance.now();
    for (const sql of indexes) db.exec(sql);
    const indexMs = performance.now() - t;
    return {
      scanMs: Math.round(scanMs),
      writeMs: Math.round(writeMs),
      indexMs: Math.round(indexMs),
      indexes: indexes.length,
      decodeMs: Math.round(decodeMs),
    };
  } finally {
    db.close();
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(scratchFile + suffix, { force: true });
  }
}
