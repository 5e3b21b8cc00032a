/**
 * A worker thread of the read-model rebuild: folds one partition (see rebuildPartition.ts), reports
 * it, and — partition 0 — waits for the merge order, merges and reports that. Messages: see
 * `RebuildWorkerMessage`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import {
  foldPartition,
  type MergeInput,
  type MergeResult,
  type PartitionInput,
  type PartitionResult,
} from './rebuildPartition.js';

export type RebuildWorkerMessage =
  | { kind: 'progress'; position: number }
  | { kind: 'folded'; result: PartitionResult }
  | { kind: 'merged'; result: MergeResult }
  | { kind: 'failed'; error: string };

const port = parentPort!;
const post = (message: RebuildWorkerMessage) => port.postMessage(message);
const fail = (error: unknown) => post({ kind: 'failed', error: (error as Error)?.stack ?? String(error) });

try {
  const input = workerData as PartitionInput;
  const partition = foldPartition(input, (position) => post({ kind: 'progress', position }));
  post({ kind: 'folded', result: partition.result });
  if (input.index === 0) {
    port.once('message', (merge: MergeInput) => {
      try {
        post({ kind: 'merged', result: partition.merge(merge) });
      } catch (error) {
        fail(error);
      }
    });
  }
} catch (error) {
  fail(error);
}
