import path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { createEngineWorkers, runWorkers } from '../../src/worker/engineWorkers.js';
import { JobTypeRegistry } from '../../src/jobs/registry.js';
import type { EventStore } from '../../src/eventstore/index.js';
import type { BatchItemStore } from '../../src/batches/batchItemStore.js';
import type { TestEngine } from './testEngine.js';

export interface InProcessWorkers {
  /** Shuts the workers down and closes their connection. */
  stop(): Promise<void>;
}

/**
 * The engine's workers, run in the test's process apart from an engine started with `runWorkers:
 * false`: the test chooses what they are given (e.g. a store that holds some appends).
 */
export async function startInProcessWorkers(
  engine: TestEngine,
  options: {
    /** The store the workers append to (default: the engine's). */
    eventStore?: EventStore;
    /** The batch inputs, for workers that run batches. */
    batchItems?: BatchItemStore;
  } = {},
): Promise<InProcessWorkers> {
  const connection = await NativeConnection.connect({ address: engine.temporalAddress });
  const workers = await createEngineWorkers({
    connection,
    taskQueue: engine.taskQueue,
    registry: new JobTypeRegistry(),
    resultsDir: path.join(engine.dir, 'results'),
    eventStore: options.eventStore ?? engine.eventStore,
    ...(options.batchItems ? { batchItems: options.batchItems } : {}),
    workflowBundle: { codePath: engine.workflowBundlePath },
  });
  const running = runWorkers(workers);
  return {
    async stop() {
      for (const worker of workers) worker.shutdown();
      await running;
      await connection.close();
    },
  };
}
