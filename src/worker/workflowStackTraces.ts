import { createRequire } from 'node:module';
import type { Worker as NodeWorker, WorkerOptions as NodeWorkerOptions } from 'node:worker_threads';

/**
 * Runs `create` (a `Worker.create` of the Temporal SDK) so that the workflow threads it starts run
 * with (`stackTraces`) or without the SDK's workflow stack traces. Creations are run one at a time,
 * so a worker created meanwhile with the other setting is not affected.
 *
 * Why: the SDK installs a V8 promise hook in each workflow thread that captures and source-maps a
 * stack for every promise workflow code creates, only to answer the `__stack_trace` query (the Web
 * UI's Stack Trace tab; temporalio/sdk-typescript#1587). A short job's workflow creates about 100
 * promises (cancellation scopes, conditions, local activities), so the hook was about a third of the
 * busy workflow thread's time. The SDK has no option for it, but runs without the hook where V8 cannot
 * create one (Bun, old Node): the query then answers "Workflow stack traces are not enabled on this
 * worker". The threads are put in that mode by preloading withoutPromiseHooks.mjs into them: while
 * `create` runs, `Worker` of `node:worker_threads` (what the SDK constructs its threads with) adds
 * that preload to the SDK's workflow-thread file only; every other thread starts as before.
 */
export function createWorkflowWorker<T>(stackTraces: boolean, create: () => Promise<T>): Promise<T> {
  const run = creations.then(() => (stackTraces ? create() : withPreloadedThreads(create)));
  creations = run.catch(() => undefined);
  return run;
}

/** The creation in progress (one at a time). */
let creations: Promise<unknown> = Promise.resolve();

const requireBuiltin = createRequire(import.meta.url);
const PRELOAD = new URL('./withoutPromiseHooks.mjs', import.meta.url).href;

async function withPreloadedThreads<T>(create: () => Promise<T>): Promise<T> {
  const threads = requireBuiltin('node:worker_threads') as typeof import('node:worker_threads');
  const Original = threads.Worker;
  threads.Worker = class extends Original {
    constructor(filename: string | URL, options: NodeWorkerOptions = {}) {
      super(filename, isWorkflowThread(filename) ? withPreload(options) : options);
    }
  } as typeof NodeWorker;
  try {
    return await create();
  } finally {
    threads.Worker = Original;
  }
}

function isWorkflowThread(filename: string | URL): boolean {
  return /[\\/]@temporalio[\\/]worker[\\/].*workflow-worker-thread\.[cm]?js$/.test(String(filename));
}

function withPreload(options: NodeWorkerOptions): NodeWorkerOptions {
  return { ...options, execArgv: [...(options.execArgv ?? process.execArgv), '--import', PRELOAD] };
}
