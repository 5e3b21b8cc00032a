/**
 * A worker thread of the read-model rebuild, in one of two roles (`workerData.role`):
 * - `fold`: folds the partitions it is sent, one message each (see rebuildPartition.ts), and reports
 *   each when its rows are in its scratch file;
 * - `write`: the new read model's one writer (see rebuildWriter.ts): copies the scratch files it is
 *   sent, in the order sent, then finishes the file when told.
 * Messages in: `RebuildWorkerOrder`; out: `RebuildWorkerMessage`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { foldPartition, type PartitionInput, type PartitionResult } from './rebuildPartition.js';
import { ReadModelWriter, type FinishInput } from './rebuildWriter.js';

export type RebuildWorkerRole = { role: 'fold' } | { role: 'write'; target: string };

export type RebuildWorkerOrder =
  { kind: 'fold'; input: PartitionInput } | { kind: 'copy'; file: string } | { kind: 'finish'; input: FinishInput };

export type RebuildWorkerMessage =
  | { kind: 'progress'; index: number; position: number }
  | { kind: 'folded'; index: number; result: PartitionResult }
  | { kind: 'copied'; file: string }
  | { kind: 'finished'; jobs: number; copyMs: number }
  | { kind: 'failed'; error: string };

const port = parentPort!;
const post = (message: RebuildWorkerMessage) => port.postMessage(message);
const fail = (error: unknown) => post({ kind: 'failed', error: (error as Error)?.stack ?? String(error) });

try {
  const role = workerData as RebuildWorkerRole;
  const writer = role.role === 'write' ? new ReadModelWriter(role.target) : undefined;
  port.on('message', (order: RebuildWorkerOrder) => {
    try {
      if (order.kind === 'fold') {
        const { index } = order.input;
        const result = foldPartition(order.input, (position) => post({ kind: 'progress', index, position }));
        post({ kind: 'folded', index, result });
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
