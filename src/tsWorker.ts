/**
 * Starts a worker thread on a TypeScript module under tsx. Node 20 does not apply tsx's --import hooks
 * to a worker's entry module, so the worker starts from a plain-JS stub that registers tsx in its own
 * thread, then imports the entry. The entry reads its input from `workerData`.
 */
import { Worker, type Transferable } from 'node:worker_threads';

const BOOTSTRAP = `
const { workerData, parentPort } = require('node:worker_threads');
import(workerData.__tsxApi)
  .then((tsx) => { tsx.register(); return import(workerData.__entry); })
  .catch((error) => parentPort.postMessage({ ok: false, error: String((error && error.stack) || error) }));
`;

/** `transferList`: ports (or buffers) in `workerData` that move to the worker instead of being copied. */
export function startTsWorker(entry: URL, workerData: Record<string, unknown>, transferList?: Transferable[]): Worker {
  return new Worker(BOOTSTRAP, {
    eval: true,
    ...(transferList ? { transferList } : {}),
    workerData: { ...workerData, __tsxApi: import.meta.resolve('tsx/esm/api'), __entry: entry.href },
  });
}
