/**
 * A worker thread of the read-model rebuild, in one of two roles (`workerData.role`):
 * - `fold`: folds the partitions it is sent, one message each (see rebuildPartition.ts), and reports
 *   each when its rows are in its scratch file;
 * - `write`: the new read model's one writer (see rebuildWriter.ts): copies the scratch files it is
 *   sent, in the order sent, then finishes the file when told.
 * Messages in: `RebuildWorkerOrder`; out: `RebuildWorkerMessage`.
 */
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { foldPartition, type PartitionInput, type PartitionResult } from './rebuildPartition.js';
import { ReadModelWriter, type FinishInput, type ReadModelWriterOptions } from './rebuildWriter.js';

export type RebuildWorkerRole = { role: 'fold' } | { role: 'write'; target: string; options: ReadModelWriterOptions };

export type RebuildWorkerOrder =
  { kind: 'fold'; input: PartitionInput } | { kind: 'copy'; file: string } | { kind: 'finish'; input: FinishInput };

export type RebuildWorkerMessage =
  | { kind: 'progress'; index: number; position: number }
  | { kind: 'folded'; index: number; result: PartitionResult; priority: number | undefined }
  | { kind: 'copied'; file: string }
  | { kind: 'finished'; jobs: number; copyMs: number }
  | { kind: 'failed'; error: string };

const port = parentPort!;
const post = (message: RebuildWorkerMessage) => port.postMessage(message);
const fail = (error: unknown) => post({ kind: 'failed', error: (error as Error)?.stack ?? String(error) });

/**
 * How much lower than its creator a folding thread runs (its nice value; Linux keeps one per thread).
 * The folds use every core they are given, the writer is one thread whose copies every range waits
 * for, and an online rebuild shares the cores with the API: both should go first. On 2 cores the
 * writer's copies of a 1M-job rebuild took 16.0–18.2 s instead of 21.0–26.8 s, and during an online
 * rebuild the API kept 88–89 % of its requests/s instead of about half.
 */
const FOLD_THREAD_NICE_STEP = 10;

try {
  const role = workerData as RebuildWorkerRole;
  if (role.role === 'fold') lowerThisThreadsPriority(FOLD_THREAD_NICE_STEP);
  const writer = role.role === 'write' ? new ReadModelWriter(role.target, role.options) : undefined;
  port.on('message', (order: RebuildWorkerOrder) => {
    try {
      if (order.kind === 'fold') {
        const { index } = order.input;
        const result = foldPartition(order.input, (position) => post({ kind: 'progress', index, position }));
        post({ kind: 'folded', index, result, priority: threadPriority() });
      } else if (order.kind === 'copy') {
        writer!.copy(order.file);
        post({ kind: 'copied', file: order.file });
      } else {
        const jobs = writer!.finish(order.input);
        post({ kind: 'finished', jobs, copyMs: Math.round(writer!.copyMs) });
      }
    } catch (error) {
      fail(error);
    }
  });
} catch (error) {
  fail(error);
}

/** This thread's nice value, undefined where there is none to read. */
function threadPriority(): number | undefined {
  try {
    return getPriority();
  } catch {
    return undefined;
  }
}

/** Raises this thread's nice value by `step` (at most 19). Where that is not possible, it runs as it is. */
function lowerThisThreadsPriority(step: number): void {
  const now = threadPriority();
  if (now === undefined) return;
  try {
    setPriority(Math.min(19, now + step));
  } catch {
    // No such thing on this platform, or not allowed: only slower, never wrong.
  }
}
