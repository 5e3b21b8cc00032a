/**
 * A worker process on its own: job workflows and steps, plus the store's activities when it owns the
 * SQLite file (EVENTSTORE_PATH set, the default). Used by tests that kill a worker, and by the
 * production stack's worker service.
 */
import { NativeConnection } from '@temporalio/worker';
import { loadConfigOrExit } from '../config.js';
import { openEventStore } from '../eventstore/index.js';
import { loadJobTypeRegistry } from '../jobs/loadJobTypes.js';
import { configureHttpEgress } from '../jobs/egressGuard.js';
import { BatchItemStore } from '../batches/batchItemStore.js';
import { createEngineWorkers, installRuntime, runWorkers } from './engineWorkers.js';
import { FileStore } from '../files/fileStore.js';
import { createMatchJobType } from '../jobs/match/matchJobType.js';

const config = loadConfigOrExit();
if (!config.temporalAddress) {
  console.error('TEMPORAL_ADDRESS is required for a standalone worker');
  process.exit(2);
}
const ownsStore = config.storeOwner;
const eventStore = ownsStore ? openEventStore(config.eventStorePath, { appendThread: config.eventStoreAppendThread }) : undefined;
const batchItems = ownsStore ? new BatchItemStore(config.batchItemsPath) : undefined;
installRuntime(config.logLevel);
configureHttpEgress(config.httpJobAllowedHosts);
const connection = await NativeConnection.connect({ address: config.temporalAddress });
// The match job reads uploaded files: FILES_DIR must be the API's (a shared volume with several hosts).
const files = new FileStore(config.filesDir);
const registry = await loadJobTypeRegistry(config.jobTypeModules);
if (!registry.has('match')) registry.register(createMatchJobType({ files }));
const workers = await createEngineWorkers({
  connection,
  namespace: config.namespace,
  taskQueue: config.taskQueue,
  registry,
  resultsDir: config.resultsDir,
  eventStore,
  batchItems,
  workflowBundle: config.workflowBundlePath ? { codePath: config.workflowBundlePath } : undefined,
  logLevel: config.logLevel,
  maxConcurrentSteps: config.maxConcurrentSteps,
  workflowThreads: config.workflowThreads,
  workflowStackTraces: config.workflowStackTraces,
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => workers.forEach((w) => w.shutdown()));
}
console.log(`worker ready on ${config.taskQueue}${ownsStore ? ' (+store)' : ''}`);
await runWorkers(workers);
await connection.close();
eventStore?.close();
batchItems?.close();
files.close();
