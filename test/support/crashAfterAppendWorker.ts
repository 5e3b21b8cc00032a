/**
 * A worker process (store owner) that kills itself with SIGKILL right after an append committed and
 * before the append's result reaches Temporal: for local-activity appends that is exactly the window
 * in which a workflow task is lost after its events were written. Used by crashAfterAppend.int.test.ts.
 *
 * CRASH_STATE_FILE holds how many crashes happened so far (across restarts); CRASH_MAX bounds them.
 * Each run crashes at its ((crashes % 3) + 1)-th committed append, so the window is hit at the first,
 * second and third event of a task in turn.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { NativeConnection } from '@temporalio/worker';
import { openEventStore, type AppendResult } from '../../src/eventstore/index.js';
import { withAfterAppend } from './afterAppend.js';
import { BatchItemStore } from '../../src/batches/batchItemStore.js';
import { JobTypeRegistry } from '../../src/jobs/registry.js';
import { createEngineWorkers, installRuntime, runWorkers } from '../../src/worker/engineWorkers.js';

const env = process.env;
const stateFile = env.CRASH_STATE_FILE!;
const maxCrashes = Number(env.CRASH_MAX ?? 5);
const crashesSoFar = (): number => {
  try {
    return Number(readFileSync(stateFile, 'utf8')) || 0;
  } catch {
    return 0;
  }
};
const crashAt = (crashesSoFar() % 3) + 1;
let committed = 0;

function afterCommit(result: AppendResult): AppendResult {
  if (result.appended > 0 && ++committed === crashAt && crashesSoFar() < maxCrashes) {
    writeFileSync(stateFile, String(crashesSoFar() + 1));
    process.kill(process.pid, 'SIGKILL');
  }
  return result;
}

const eventStore = withAfterAppend(openEventStore(env.EVENTSTORE_PATH!), afterCommit);
const batchItems = new BatchItemStore(env.BATCH_ITEMS_PATH!);
installRuntime();
const connection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS! });
const workers = await createEngineWorkers({
  connection,
  taskQueue: env.TASK_QUEUE!,
  registry: new JobTypeRegistry(),
  resultsDir: env.RESULTS_DIR!,
  eventStore,
  batchItems,
  workflowBundle: { codePath: env.WORKFLOW_BUNDLE! },
});
console.log(`worker ready (crash at append ${crashAt}, ${crashesSoFar()} crashes so far)`);
await runWorkers(workers);
// Stopped (SIGTERM from the test): close what keeps the process alive, or the test waits for an exit
// that never comes.
await connection.close();
eventStore.close();
batchItems.close();
