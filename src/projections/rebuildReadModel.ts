import { existsSync, renameSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { EventStore } from '../eventstore/index.js';
import { startTsWorker } from '../tsWorker.js';
import {
  foldPartition,
  removeDbFiles,
  sumCounts,
  type MergeInput,
  type MergeResult,
  type PartitionInput,
  type PartitionResult,
} from './rebuildPartition.js';
import type { RebuildWorkerMessage } from './rebuildWorker.js';

export interface RebuildResult {
  events: number;
  jobs: number;
  /** Job events of streams that began in an earlier range than the one that read them (applied by the merge). */
  carried: number;
  ms: number;
  /** Threads that folded the log (0: folded in the calling thread). */
  threads: number;
  /** The log position the new read model is at (its checkpoint). */
  position: number;
  /**
   * Where the time went (ms): reading + folding the log (until the last partition is folded),
   * writing the rows (partitions' own writes, then the copy into one file), building the indexes.
   */
  phases: { foldMs: number; writeMs: number; indexMs: number };
}

export interface RebuildOptions {
  /**
   * Worker threads, each folding a range of the log's positions (partition 0's a little shorter, see
   * FIRST_RANGE_WEIGHT); default one per core (at most 8). 0: one partition, folded in the calling thread (it blocks that thread).
   */
  threads?: number;
  /** Last position applied (inclusive); default the end of the log when the rebuild starts. */
  toPosition?: number;
  /** Called as the log is read: how many of its positions the partitions have read together, of `last`. */
  onProgress?: (position: number, last: number) => void;
  /** Ends the worker threads and fails the rebuild (its files removed), e.g. when the engine stops. */
  signal?: AbortSignal;
}

/** Events of a partition between two progress reports. */
const PROGRESS_EVERY = 50_000;
const MAX_DEFAULT_THREADS = 8;
/**
 * Partition 0's share of the log next to another partition's: it writes its rows straight into the
 * read model, keeping the primary key's index row by row, while the others write bare scratch tables
 * (which the merge then copies in). Measured per job of the bench's log (2 cores): fold 26 µs, write
 * 14 µs into the read model against 9 µs into a scratch table, so partition 0 finishes with the
 * others when its range is (26 + 9) / (26 + 14) ≈ 0.88 of theirs.
 */
const FIRST_RANGE_WEIGHT = 0.88;

/**
 * Builds a read model from the log into `targetPath` (a fresh file). The read model is derived only
 * from events, so this must equal the live one. The log is split into ranges of positions folded in
 * parallel, each in a worker thread of its own with the same `evolveJob` the live projection uses (a
 * job's row depends on its stream alone): the streams that begin in a range are folded there, the few
 * that began in an earlier one are carried to the merge. Partition 0 writes its rows straight into the
 * target, the others into scratch files of their own, which partition 0 then copies in by SQLite alone
 * before it applies the carried events. The indexes are built after the load, counters are counted from the rows, and the
 * few events of other projections (batches, pools, schedules) are applied through their live
 * projections in log order.
 */
export async function rebuildReadModel(
  store: EventStore,
  targetPath: string,
  options: RebuildOptions = {},
): Promise<RebuildResult> {
  const started = performance.now();
  if (!store.path || store.path === ':memory:') throw new Error('rebuildReadModel needs a file-backed event store');
  const threads = options.threads ?? Math.min(MAX_DEFAULT_THREADS, availableParallelism());
  if (!(Number.isInteger(threads) && threads >= 0)) throw new RangeError(`threads must be an integer >= 0, got ${threads}`);
  const last = options.toPosition ?? store.lastPosition();
  const count = Math.max(1, threads);
  // Range ends: partition 0's range is the shorter (see FIRST_RANGE_WEIGHT), the others share the rest.
  const weight = (index: number) => (index === 0 ? 0 : FIRST_RANGE_WEIGHT + (index - 1));
  const bound = (index: number) =>
    index === count ? last : Math.round((last * weight(index)) / (FIRST_RANGE_WEIGHT + (count - 1)));
  const inputs: PartitionInput[] = Array.from({ length: count }, (_, index) => ({
    eventsFile: store.path,
    fromPosition: bound(index),
    toPosition: bound(index + 1),
    index,
    file: `${targetPath}.part-${index}`,
    target: targetPath,
    progressEvery: PROGRESS_EVERY,
  }));
  const read = new Array<number>(count).fill(0);
  const progress = (index: number, position: number) => {
    read[index] = position - inputs[index]!.fromPosition;
    options.onProgress?.(
      read.reduce((sum, n) => sum + n, 0),
      last,
    );
  };

  let folded: number;
  let merged: MergeResult;
  let results: PartitionResult[];
  try {
    if (threads === 0) {
      const partition = foldPartition(inputs[0]!, (position) => progress(0, position));
      results = [partition.result];
      folded = performance.now() - results[0]!.writeMs;
      merged = partition.merge(mergeInput(results, [], last));
    } else {
      ({ results, merged, folded } = await foldInWorkers(inputs, progress, last, options.signal));
    }
  } catch (error) {
    for (const input of inputs) removeDbFiles(input.file);
    removeDbFiles(targetPath);
    throw error;
  }
  const ms = performance.now() - started;
  return {
    events: results.reduce((n, r) => n + r.events, 0),
    jobs: results.reduce((n, r) => n + r.jobs, 0),
    carried: results.reduce((n, r) => n + r.carried.length, 0),
    ms: Math.round(ms),
    threads,
    position: last,
    phases: {
      foldMs: Math.round(folded - started),
      writeMs: Math.round(ms - merged.indexMs - (folded - started)),
      indexMs: merged.indexMs,
    },
  };
}

function mergeInput(results: PartitionResult[], parts: string[], position: number): MergeInput {
  return {
    parts,
    counts: sumCounts(results.map((r) => r.counts)),
    batchCounts: sumCounts(results.map((r) => r.batchCounts)),
    forwarded: results.flatMap((r) => r.forwarded).sort((a, b) => a.globalPosition - b.globalPosition),
    // Partitions are ranges in position order.
    carried: results.flatMap((r) => r.carried),
    position,
  };
}

/** One worker per partition; when all have folded, worker 0 merges. Returns when it has. */
async function foldInWorkers(
  inputs: PartitionInput[],
  progress: (index: number, position: number) => void,
  position: number,
  signal: AbortSignal | undefined,
): Promise<{ results: PartitionResult[]; merged: MergeResult; folded: number }> {
  const workers: Worker[] = [];
  let onAbort: (() => void) | undefined;
  try {
    const results: PartitionResult[] = new Array(inputs.length);
    let foldedAt = 0;
    const merged = await new Promise<MergeResult>((resolve, reject) => {
      onAbort = () => reject(new Error('rebuild aborted'));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort);
      let pending = inputs.length;
      for (const input of inputs) {
        const worker = startTsWorker(new URL('./rebuildWorker.ts', import.meta.url), { ...input });
        workers.push(worker);
        let done = false;
        worker.on('message', (message: RebuildWorkerMessage | { ok: false; error: string }) => {
          if (!('kind' in message) || message.kind === 'failed')
            return reject(new Error(`rebuild partition ${input.index}: ${message.error}`));
          if (message.kind === 'progress') return progress(input.index, message.position);
          if (message.kind === 'merged') {
            done = true;
            return resolve(message.result);
          }
          results[input.index] = message.result;
          if (input.index !== 0) done = true;
          if (--pending > 0) return;
          foldedAt = performance.now() - Math.max(...results.map((r) => r.writeMs));
          workers[0]!.postMessage(
            mergeInput(
              results,
              inputs.slice(1).map((i) => i.file),
              position,
            ),
          );
        });
        worker.on('error', reject);
        worker.on('exit', (code) => {
          if (!done) reject(new Error(`rebuild partition ${input.index}: its thread exited (code ${code}) before it finished`));
        });
      }
    });
    return { results, merged, folded: foldedAt };
  } finally {
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Rebuilds next to the live file, then moves it in place (for a stopped engine: `npm run projections:rebuild`). */
export async function rebuildReadModelInPlace(
  store: EventStore,
  readModelPath: string,
  options: RebuildOptions = {},
): Promise<RebuildResult> {
  const temp = `${readModelPath}.rebuild`;
  const result = await rebuildReadModel(store, temp, options);
  removeDbFiles(readModelPath);
  renameSync(temp, readModelPath);
  if (existsSync(`${temp}-wal`)) renameSync(`${temp}-wal`, `${readModelPath}-wal`);
  return result;
}
