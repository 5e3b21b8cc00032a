/** The baselines' worker: bare Temporal workflows and one empty activity on a queue of their own. */
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import * as bareActivities from './activities.js';

export async function startBareWorker(address: string, taskQueue: string, maxActivities?: number) {
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowsPath: fileURLToPath(new URL('./workflows.ts', import.meta.url)),
    activities: bareActivities,
    ...(maxActivities ? { maxConcurrentActivityTaskExecutions: maxActivities } : {}),
  });
  const running = worker.run();
  return {
    /** Drains the worker and closes its connection. */
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}
