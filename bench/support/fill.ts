/**
 * Fills an event store with the streams of N generated jobs.
 *
 * Two ways in:
 *  - `api`: `store.appendToStream(jobId, events, { expectedVersion: 'no_stream' })`, one call per job,
 *    exactly as the workflows' appendEvents activity writes (each call is its own IMMEDIATE
 *    transaction on the store's connection; the store offers no way to group calls).
 *  - `sql`: the same rows, serialized by the store's own validateAndSerializeAppend (in a worker
 *    thread, ./fillWorker.ts), inserted with the store's INSERT statement through a connection of our
 *    own, one transaction per 10,000 jobs. Used only because the API cannot fill 1M jobs in the time
 *    budget (see `auto`).
 *  - `auto` (default): starts with the API, measures its rate, and switches to `sql` for the rest if
 *    the API would need more than the budget for all N jobs.
 */
import Database from 'better-sqlite3';
import { openEventStore, type EventStore } from '../../src/eventstore/index.js';
import type { JobStatus } from '../../src/domain/index.js';
import type { Worker } from 'node:worker_threads';
import type { FillChunk, FillWorkerInput, FillWorkerMessage } from './fillWorker.js';
import { JobGenerator, type GeneratedJob } from './jobEvents.js';
import type { Progress } from './stats.js';
import { startTsWorker } from './tsWorker.js';

export type FillMode = 'api' | 'sql' | 'auto';

export interface FillOptions {
  jobs: number;
  mode: FillMode;
  /** `auto`: the longest fill (s) the API may take before the rest goes through SQL. */
  apiBudgetS: number;
  /** `auto`: jobs (at most) appended through the API to measure its rate. */
  apiSampleJobs: number;
  /** `auto`: longest time (s) spent measuring the API. */
  apiSampleS: number;
  /** Job ids kept for GET /jobs/{id}. */
  sampleIds: number;
  progress: Progress;
}

export interface FillPart {
  jobs: number;
  events: number;
  ms: number;
  jobsPerSec: number;
  eventsPerSec: number;
}

export interface FillResult {
  /** What was used in the end: 'api', 'sql', or 'api+sql' (first jobs through the API, the rest SQL). */
  mode: string;
  jobs: number;
  events: number;
  ms: number;
  api: FillPart | null;
  sql: FillPart | null;
  /** Projected time for all N jobs through the API (from its measured rate). */
  apiProjectedMs: number | null;
  /** Time the main thread spent generating the events of the API part (part of ms). */
  generateMs: number;
  /** Time the worker spent generating and serializing the SQL part's events (in parallel with the inserts). */
  workerGenerateMs: number;
  byStatus: Record<string, number>;
  byType: Record<string, number>;
  sampleIds: string[];
  /** Generated jobs the SQL part wrote, re-read through the store to check they equal what was generated. */
  verified: number;
}

const SQL_JOBS_PER_TRANSACTION = 10_000;

const part = (jobs: number, events: number, ms: number): FillPart => ({
  jobs,
  events,
  ms: Math.round(ms),
  jobsPerSec: Math.round(jobs / (ms / 1000 || 1e-9)),
  eventsPerSec: Math.round(events / (ms / 1000 || 1e-9)),
});

/**
 * Creates the store at `file`, fills it and returns it open. The SQL part runs with the store closed:
 * its connection holds the file's lock alone.
 */
export async function fillEventStore(file: string, options: FillOptions): Promise<{ store: EventStore; fill: FillResult }> {
  const { jobs: total, progress } = options;
  let store = openEventStore(file);
  const generator = new JobGenerator(total);
  const byStatus: Record<string, number> = {};
  const byType: Record<string, number> = {};
  const sampleIds: string[] = [];
  const sampleEvery = Math.max(1, Math.floor(total / options.sampleIds));
  let generateMs = 0;
  let workerGenerateMs = 0;
  let index = 0;
  let events = 0;
  const verifyJobs: GeneratedJob[] = [];

  const next = (): GeneratedJob => {
    const t0 = performance.now();
    const job = generator.job(index);
    generateMs += performance.now() - t0;
    byStatus[job.status] = (byStatus[job.status] ?? 0) + 1;
    byType[job.type] = (byType[job.type] ?? 0) + 1;
    if (index % sampleEvery === 0 && sampleIds.length < options.sampleIds) sampleIds.push(job.jobId);
    index += 1;
    events += job.events.length;
    return job;
  };
  const report = (mode: string, startedAt: number, force = false) => {
    const s = (performance.now() - startedAt) / 1000;
    progress.line(
      `fill (${mode}): ${index.toLocaleString('en-US')}/${total.toLocaleString('en-US')} jobs ` +
        `(${((index / total) * 100).toFixed(1)}%), ${events.toLocaleString('en-US')} events, ${Math.round(index / s).toLocaleString('en-US')} jobs/s`,
      force,
    );
  };

  const started = performance.now();
  let api: FillPart | null = null;
  let apiProjectedMs: number | null = null;

  // ---- through the store's API ----
  if (options.mode !== 'sql') {
    const limit = options.mode === 'api' ? total : Math.min(total, options.apiSampleJobs);
    const deadline = options.mode === 'api' ? Infinity : started + options.apiSampleS * 1000;
    while (index < limit && performance.now() < deadline) {
      const job = next();
      store.appendToStream(job.jobId, job.events, { expectedVersion: 'no_stream' });
      if ((index & 255) === 0) report('api', started);
    }
    const ms = performance.now() - started;
    api = part(index, events, ms);
    apiProjectedMs = Math.round((ms / index) * total);
    report('api', started, true);
    if (options.mode === 'auto' && index < total && apiProjectedMs <= options.apiBudgetS * 1000) {
      progress.line(`fill: the API would take ~${(apiProjectedMs / 1000).toFixed(0)} s for all jobs: staying with it`, true);
      while (index < total) {
        const job = next();
        store.appendToStream(job.jobId, job.events, { expectedVersion: 'no_stream' });
        if ((index & 255) === 0) report('api', started);
      }
      api = part(index, events, performance.now() - started);
    } else if (index < total) {
      progress.line(
        `fill: the store API appends ${api.jobsPerSec.toLocaleString('en-US')} jobs/s (one transaction per appendToStream call), ` +
          `~${(apiProjectedMs / 1000).toFixed(0)} s for ${total.toLocaleString('en-US')} jobs, over the ${options.apiBudgetS} s budget: ` +
          `the remaining jobs go in through SQL, ${SQL_JOBS_PER_TRANSACTION.toLocaleString('en-US')} jobs per transaction`,
        true,
      );
    }
  }

  // ---- the rest through SQL ----
  let sql: FillPart | null = null;
  if (index < total) {
    const sqlStarted = performance.now();
    const firstIndex = index;
    const eventsBefore = events;
    store.close();
    // Jobs are generated and serialized in a worker thread while this one inserts the previous chunk.
    const worker = startTsWorker(new URL('./fillWorker.ts', import.meta.url), {
      total,
      start: index,
      chunkJobs: SQL_JOBS_PER_TRANSACTION,
      maxInFlight: 2,
      sampleEvery,
      verifyEvery: Math.max(2, Math.floor((total - index) / 20)),
    } satisfies FillWorkerInput);
    const chunks = new ChunkQueue(worker);
    const db = new Database(file);
    try {
      db.pragma('busy_timeout = 5000');
      // This connection bulk-loads a throw-away file while the store is closed: the file's lock is held
      // until it closes, no fsync, no journal (pages are written once, not to the WAL and then again
      // to the file), a large page cache. Reopening the store switches the file back to WAL.
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = OFF');
      db.pragma('synchronous = OFF');
      db.pragma('cache_size = -1048576');
      // The store's own INSERT (src/eventstore/schema/insertEvent.ts), columns and order alike.
      const insert = db.prepare<[string, number, string, string, string, string, string]>(
        `INSERT INTO events (stream_id, stream_version, event_id, type, data, metadata, recorded_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      );
      // One transaction per chunk. recorded_at is the insert's time, as the store sets it per append.
      const insertChunk = db.transaction((rows: (string | number)[]) => {
        let recordedMs = 0;
        let recordedAt = '';
        for (let r = 0; r < rows.length; r += 6) {
          const now = Date.now();
          if (now !== recordedMs) {
            recordedMs = now;
            recordedAt = new Date(now).toISOString();
          }
          insert.run(
            rows[r] as string,
            rows[r + 1] as number,
            rows[r + 2] as string,
            rows[r + 3] as string,
            rows[r + 4] as string,
            rows[r + 5] as string,
            recordedAt,
          );
        }
      });
      for (;;) {
        const chunk = await chunks.next();
        insertChunk.immediate(chunk.rows);
        worker.postMessage('ack');
        index += chunk.jobs;
        events += chunk.events;
        workerGenerateMs += chunk.generateMs;
        for (const [k, n] of Object.entries(chunk.byStatus)) byStatus[k] = (byStatus[k] ?? 0) + n;
        for (const [k, n] of Object.entries(chunk.byType)) byType[k] = (byType[k] ?? 0) + n;
        for (const id of chunk.sampleIds) if (sampleIds.length < options.sampleIds) sampleIds.push(id);
        verifyJobs.push(...chunk.verify);
        report('sql', sqlStarted, true);
        if (chunk.last) break;
      }
    } finally {
      await worker.terminate();
      db.close();
      store = openEventStore(file);
    }
    const journal = new Database(file, { readonly: true });
    const mode = journal.pragma('journal_mode', { simple: true });
    journal.close();
    if (mode !== 'wal') throw new Error(`fill: the event store is in journal mode ${String(mode)} after the SQL fill, not wal`);
    sql = part(index - firstIndex, events - eventsBefore, performance.now() - sqlStarted);
  }

  // The SQL rows must read back through the store exactly as the generated events.
  for (const job of verifyJobs) {
    const stored = store.readStream(job.jobId);
    const same =
      stored.length === job.events.length &&
      stored.every(
        (e, i) =>
          e.streamVersion === i + 1 &&
          e.eventId === job.events[i]!.eventId &&
          e.type === job.events[i]!.type &&
          JSON.stringify(e.data) === JSON.stringify(job.events[i]!.data) &&
          JSON.stringify(e.metadata) === JSON.stringify(job.events[i]!.metadata ?? {}),
      );
    if (!same) throw new Error(`fill: stream ${job.jobId} does not read back as generated`);
  }
  if (store.lastPosition() < events) throw new Error(`fill: the store holds ${store.lastPosition()} events, expected ${events}`);

  const ms = performance.now() - started;
  const fill: FillResult = {
    mode: api && sql ? 'api+sql' : sql ? 'sql' : 'api',
    jobs: index,
    events,
    ms: Math.round(ms),
    api,
    sql,
    apiProjectedMs,
    generateMs: Math.round(generateMs),
    workerGenerateMs: Math.round(workerGenerateMs),
    byStatus: byStatus as Record<JobStatus, number>,
    byType,
    sampleIds,
    verified: verifyJobs.length,
  };
  return { store, fill };
}

/** Chunks from the fill worker, in order; rejects if the worker fails or exits early. */
class ChunkQueue {
  private readonly ready: FillChunk[] = [];
  private waiting: { resolve: (c: FillChunk) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(worker: Worker) {
    worker.on('message', (m: FillWorkerMessage) => (m.ok ? this.push(m.chunk) : this.fail(new Error(`fill worker: ${m.error}`))));
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', (code) => this.fail(new Error(`fill worker exited (code ${code})`)));
  }

  next(): Promise<FillChunk> {
    const chunk = this.ready.shift();
    if (chunk) return Promise.resolve(chunk);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  private push(chunk: FillChunk): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting) waiting.resolve(chunk);
    else this.ready.push(chunk);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(this.failure);
  }
}
