import { existsSync, renameSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { EventStore } from '../eventstore/index.js';
import { startTsWorker } from '../tsWorker.js';
import { foldPartition, removeDbFiles, sumCounts, type PartitionInput, type PartitionResult } from './rebuildPartition.js';
import type { RebuildWorkerMessage, RebuildWorkerOrder, RebuildWorkerRole } from './rebuildWorker.js';
import { ReadModelWriter, type FinishInput } from './rebuildWriter.js';

export interface RebuildResult {
  events: number;
  jobs: number;
  /** Job events of streams that began in an earlier range than the one that read them (applied by the writer). */
  carried: number;
  ms: number;
  /** Threads that folded the log (0: folded in the calling thread); the writer has one more. */
  threads: number;
  /** Ranges the log was split into. */
  partitions: number;
  /**
   * The nice value the folding threads ran at (they run below the writer and the API; see
   * rebuildWorker.ts); undefined when folded in the calling thread or where threads have none.
   */
  foldPriority: number | undefined;
  /** The log position the new read model is at (its checkpoint). */
  position: number;
  /**
   * Where the time went (ms): until every range was folded and in its scratch file (the writer
   * copying the first ones meanwhile); then until the read model was complete (the last copies, the
   * carried events, counters, other projections). `copyMs`: the writer's time copying rows in (their
   * primary key and indexes with them), most of it during the folds.
   */
  phases: { foldMs: number; mergeMs: number; copyMs: number };
}

export interface RebuildOptions {
  /**
   * Worker threads folding ranges of the log's positions, besides the one that writes the read model;
   * default one per core (at most 8). 0: everything in the calling thread (it blocks that thread).
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
 * Ranges per folding thread. More, smaller ranges let the writer start sooner and leave less to copy
 * after the last fold; each range boundary may carry a few streams (their later events) to the end.
 */
const RANGES_PER_THREAD = 4;

/**
 * The share of the log each range reads, oldest range first. The folders take the ranges newest
 * first, so the oldest are folded last, and whatever the writer still has to copy once they are
 * folded it copies with the other core idle: those ranges are smaller (the last `threads` a quarter,
 * the `threads` before them half the size of the others). On 2 cores that cut the time after the last
 * fold from 4.1–5.1 s to 1.2–2.7 s of a 1M-job rebuild.
 */
export function rangeWeights(count: number, threads: number): number[] {
  return Array.from({ length: count }, (_, index) =>
    count < 3 * threads ? 1 : index < threads ? 0.25 : index < 2 * threads ? 0.5 : 1,
  );
}

/**
 * Builds a read model from the log into `targetPath` (a fresh file). The read model is derived only
 * from events, so this must equal the live one. The log is split into ranges of positions, folded in
 * worker threads with the same `evolveJob` the live projection uses (a job's row depends on its stream
 * alone): the streams that begin in a range are folded there, the few that began in an earlier one are
 * carried to the end. Each range's rows go into a scratch file, which one more thread, the writer,
 * copies into the new read model as soon as it is there (newest range first, see ReadModelWriter);
 * once all are in, the writer applies the carried events, the counters and the few events of other
 * projections (batches, pools, schedules, through their live projections, in log order).
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
  const count = threads === 0 ? 1 : threads * RANGES_PER_THREAD;
  const weights = rangeWeights(count, threads);
  const upTo = [0];
  for (const weight of weights) upTo.push(upTo[upTo.length - 1]! + weight);
  const bound = (index: number) => Math.round((last * upTo[index]!) / upTo[count]!);
  const inputs: PartitionInput[] = Array.from({ length: count }, (_, index) => ({
    eventsFile: store.path,
    fromPosition: bound(index),
    toPosition: bound(index + 1),
    index,
    file: `${targetPath}.part-${index}`,
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

  let run: PipelineRun;
  try {
    run =
      threads === 0
        ? inThisThread(targetPath, inputs, progress, last)
        : await inWorkers(targetPath, inputs, threads, progress, last, options.signal);
  } catch (error) {
    for (const input of inputs) removeDbFiles(input.file);
    removeDbFiles(targetPath);
    throw error;
  }
  const ms = performance.now() - started;
  const { results } = run;
  return {
    events: results.reduce((n, r) => n + r.events, 0),
    jobs: run.jobs,
    carried: results.reduce((n, r) => n + r.carried.length, 0),
    ms: Math.round(ms),
    threads,
    partitions: count,
    foldPriority: run.foldPriority,
    position: last,
    phases: {
      foldMs: Math.round(run.foldedAt - started),
      mergeMs: Math.round(ms - (run.foldedAt - started)),
      copyMs: run.copyMs,
    },
  };
}

interface PipelineRun {
  results: PartitionResult[];
  /** performance.now() when the last range was folded. */
  foldedAt: number;
  /** Jobs in the new read model. */
  jobs: number;
  copyMs: number;
  foldPriority?: number;
}

/** What the writer needs at the end, from every range's result (in range order: position order). */
function finishInput(results: PartitionResult[], position: number): FinishInput {
  return {
    counts: sumCounts(results.map((r) => r.counts)),
    batchCounts: sumCounts(results.map((r) => r.batchCounts)),
    forwarded: results.flatMap((r) => r.forwarded).sort((a, b) => a.globalPosition - b.globalPosition),
    carried: results.flatMap((r) => r.carried),
    position,
  };
}

function inThisThread(
  target: string,
  inputs: PartitionInput[],
  progress: (index: number, position: number) => void,
  position: number,
): PipelineRun {
  // Every copy comes after every fold here: the indexes are built once, over all the rows.
  const writer = new ReadModelWriter(target, { indexAfterCopies: inputs.length });
  try {
    const results = inputs.map((input) => foldPartition(input, (p) => progress(input.index, p)));
    const foldedAt = performance.now();
    for (const input of [...inputs].reverse()) writer.copy(input.file);
    const jobs = writer.finish(finishInput(results, position));
    return { results, foldedAt, jobs, copyMs: Math.round(writer.copyMs) };
  } catch (error) {
    writer.abandon();
    throw error;
  }
}

/**
 * `threads` folding workers take the ranges newest first, one at a time; the writer worker copies
 * each range as soon as it and every newer one are folded, then finishes once all are in.
 */
async function inWorkers(
  target: string,
  inputs: PartitionInput[],
  threads: number,
  progress: (index: number, position: number) => void,
  position: number,
  signal: AbortSignal | undefined,
): Promise<PipelineRun> {
  const workers: Worker[] = [];
  let onAbort: (() => void) | undefined;
  try {
    return await new Promise<PipelineRun>((resolve, reject) => {
      onAbort = () => reject(new Error('rebuild aborted'));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort);
      const results: PartitionResult[] = new Array(inputs.length);
      const order = [...inputs].reverse(); // newest range first
      let nextFold = 0;
      let nextCopy = 0;
      let copied = 0;
      let folded = 0;
      let foldedAt = 0;
      let foldPriority: number | undefined;
      let settled = false;
      const fail = (error: Error) => {
        settled = true;
        reject(error);
      };
      const start = (role: RebuildWorkerRole, name: string) => {
        const worker = startTsWorker(new URL('./rebuildWorker.ts', import.meta.url), { ...role });
        workers.push(worker);
        worker.on('error', fail);
        worker.on('exit', (code) => {
          if (!settled) fail(new Error(`rebuild ${name}: its thread exited (code ${code}) before the rebuild finished`));
        });
        return worker;
      };
      const send = (worker: Worker, order: RebuildWorkerOrder) => worker.postMessage(order);

      // The first `threads` ranges copied (the newest, full-sized: about a third of the rows) go in
      // without the jobs' indexes, built over them once they are in (see ReadModelWriter).
      const writer = start({ role: 'write', target, options: { indexAfterCopies: threads } }, 'writer');
      writer.on('message', (message: RebuildWorkerMessage | { ok: false; error: string }) => {
        if (!('kind' in message) || message.kind === 'failed') return fail(new Error(`rebuild writer: ${message.error}`));
        if (message.kind === 'copied') {
          if (++copied === inputs.length) send(writer, { kind: 'finish', input: finishInput(results, position) });
        } else if (message.kind === 'finished') {
          settled = true;
          resolve({ results, foldedAt, jobs: message.jobs, copyMs: message.copyMs, foldPriority });
        }
      });
      // Copies in `order`: a range goes once it and every range before it in that order are folded.
      const copyReady = () => {
        while (nextCopy < order.length && results[order[nextCopy]!.index])
          send(writer, { kind: 'copy', file: order[nextCopy++]!.file });
      };
      const folder = (n: number) => {
        const worker = start({ role: 'fold' }, `folder ${n}`);
        const next = () => {
          if (nextFold < order.length) send(worker, { kind: 'fold', input: order[nextFold++]! });
        };
        worker.on('message', (message: RebuildWorkerMessage | { ok: false; error: string }) => {
          if (!('kind' in message) || message.kind === 'failed') return fail(new Error(`rebuild folder ${n}: ${message.error}`));
          if (message.kind === 'progress') return progress(message.index, message.position);
          if (message.kind !== 'folded') return;
          results[message.index] = message.result;
          foldPriority = message.priority;
          if (++folded === inputs.length) foldedAt = performance.now();
          next();
          copyReady();
        });
        next();
      };
      for (let n = 0; n < Math.min(threads, inputs.length); n++) folder(n);
    });
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
