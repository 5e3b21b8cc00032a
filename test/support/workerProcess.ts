import path from 'node:path';
import type { TestEngine } from './testEngine.js';
import { startNodeProcess, type NodeProcess } from './nodeProcess.js';

/**
 * The environment of a worker process (src/worker/main.ts or a test's own worker entry) serving a test
 * engine's task queue and files: the same Temporal server, queue, event store, batch items, result
 * files and workflow bundle. `extra` adds to it or overrides it.
 */
export function workerProcessEnv(
  engine: Pick<TestEngine, 'temporalAddress' | 'taskQueue' | 'dir' | 'workflowBundlePath'>,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: engine.temporalAddress,
    TASK_QUEUE: engine.taskQueue,
    EVENTSTORE_PATH: path.join(engine.dir, 'events.db'),
    BATCH_ITEMS_PATH: path.join(engine.dir, 'batch-items.db'),
    RESULTS_DIR: path.join(engine.dir, 'results'),
    WORKFLOW_BUNDLE: engine.workflowBundlePath,
    ...extra,
  };
}

/** Starts the engine's worker process (src/worker/main.ts) for a test engine; resolves once it is ready. */
export function startWorkerProcess(
  engine: Parameters<typeof workerProcessEnv>[0],
  extra: Record<string, string> = {},
): Promise<NodeProcess> {
  return startNodeProcess({ entry: 'src/worker/main.ts', readyText: 'worker ready', env: workerProcessEnv(engine, extra) });
}
