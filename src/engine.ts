import { dependencyFinishedSignal } from './workflows/poolContract.js';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { openEventStore, type EventStore } from './eventstore/index.js';
import { JobTypeRegistry } from './jobs/registry.js';
import { openReadModelDb, type ReadModelDb } from './projections/readModelDb.js';
import { ReadModelHolder } from './projections/readModelHolder.js';
import { ReadModelRebuilder } from './projections/onlineRebuild.js';
import { readModelProjections } from './projections/readModelProjections.js';
import { BatchReadModel } from './projections/batchReadModel.js';
import { BatchItemStore } from './batches/batchItemStore.js';
import { BatchCommands } from './commands/batchCommands.js';
import { Projector } from './projections/projector.js';
import { JobReadModel } from './projections/jobReadModel.js';
import { PoolWaker } from './commands/poolWaker.js';
import { cancelCallsUnderWay } from './commands/controlWait.js';
import { wakePoolsOnApply } from './commands/poolWakes.js';
import { JobCommands } from './commands/jobCommands.js';
import { ScheduleReadModel } from './projections/scheduleReadModel.js';
import { ScheduleCommands } from './commands/scheduleCommands.js';
import { createApp, type AppOptions } from './api/app.js';
import {
  createEngineWorkers,
  createSchedulerWorker,
  createWebhookWorker,
  installRuntime,
  runWorkers,
} from './worker/engineWorkers.js';
import { Reconciler } from './reconciler/reconciler.js';
import { taskQueueWorkerList, taskQueueWorkers } from './temporal/taskQueueWorkers.js';
import { ThroughputReadModel } from './projections/throughput.js';
import { ensureRetentionSchedule, type RetentionOptions } from './schedules/retentionSchedule.js';
import type { EngineConfig } from './config.js';
import type { RequestLimits } from './api/limits.js';
import { appendHealth } from './eventstore/appendHealth.js';
import { configureHttpEgress } from './jobs/egressGuard.js';
import { FileStore } from './files/fileStore.js';
import { createMatchJobType } from './jobs/match/matchJobType.js';
import { DEFAULT_POOL } from './domain/index.js';
import { POOL_PRIORITY_KEY, poolStartLimit, startPoolWorkflow } from './activities/schedulerActivities.js';
import { PoolGrantWaiters } from './activities/poolGrantWaiters.js';
import { PoolCommands } from './commands/poolCommands.js';
import { WebhookReadModel } from './projections/webhookReadModel.js';
import { WebhookCommands } from './commands/webhookCommands.js';
import { WebhookDispatcher } from './webhooks/webhookDispatcher.js';
import { loadCallbackSecret } from './webhooks/callbackSecret.js';
import { DEFAULT_WEBHOOK_RETRY, type WebhookRetryPolicy } from './webhooks/retryPolicy.js';

export interface EngineOptions {
  /** host:port of the Temporal frontend. */
  temporalAddress: string;
  /** Temporal namespace; default `default`. */
  namespace?: string;
  /** Task queue of job workflows and steps; the store's activities use `<taskQueue>-store`. */
  taskQueue: string;
  /** Event store file (SQLite, WAL, synchronous FULL). */
  eventStorePath: string;
  /** Read model file (derived from the log; rebuildable). */
  readModelPath: string;
  /** Claim-checked batch inputs; default: batch-items.db next to the event store. */
  batchItemsPath?: string;
  /** Jobs' result files go to `<resultsDir>/<job id>/`. */
  resultsDir: string;
  /** Uploaded files (`POST /files`); default: files/ next to the event store. */
  filesDir?: string;
  /** Type of a submit that names none; default `sleep`. */
  defaultJobType?: string;
  /** The job types this engine runs; default: the built-ins (see "Add your own job type" in the README). */
  registry?: JobTypeRegistry;
  /** Run the workers in this process (the default). Tests that crash a worker run it elsewhere. */
  runWorkers?: boolean;
  /** How workflows reach the event store: `local` activities when this process runs the workers and
   * owns the store (the default then), else through the store's task queue. Set `remote` when other
   * worker processes run workflows too. */
  storeAccess?: 'local' | 'remote';
  /** A prebuilt workflow bundle; default: bundle src/workflows when the workers start. */
  workflowBundle?: { codePath: string };
  /** Concurrent job steps per worker; default 100. */
  maxConcurrentSteps?: number;
  /** Threads that run workflow code (WORKFLOW_THREADS); default 1. See EngineWorkerOptions. */
  workflowThreads?: number;
  /** The engine's workflows answer the `__stack_trace` query (WORKFLOW_STACK_TRACES); default false.
   * See EngineWorkerOptions. */
  workflowStackTraces?: boolean;
  /** Threads that fold the log in an online read-model rebuild, besides its writer (REBUILD_THREADS);
   * default one per core. Fewer leave more of the cores to the API while it runs. */
  rebuildThreads?: number;
  /** Commit the event store's grouped appends (every workflow's and step's events, the API's
   * JobSubmitted) in a thread of their own, so the API's thread never waits for their fsync
   * (EVENTSTORE_APPEND_THREAD); default false (see the README's bench:eventstore and bench:submit). */
  eventStoreAppendThread?: boolean;
  /** Resource pools and their limits (POOLS, e.g. `{gpu: 2, default: 50}`), started with the engine.
   * The `default` pool's limit defaults to maxConcurrentSteps; other unnamed pools get that too. */
  pools?: Record<string, number>;
  /** Reconciler scan period (ms); default 1000. */
  reconcileIntervalMs?: number;
  /** How often the reconciler compares the jobs the read model shows open with the job executions
   * Temporal runs, to record the end of those Temporal no longer has (ms); default 60 000. */
  missingSweepMs?: number;
  /** Workflow task timeout of job workflows (ms); default Temporal's 10 s. */
  workflowTaskTimeoutMs?: number;
  /** How long a control waits for its job's or batch's workflow to take it before the API answers 202
   * (sent, not taken yet) (CONTROL_WAIT_MS); default 10 000. */
  controlWaitMs?: number;
  /** How long a submit (and a command) waits for its job to show in the read model before the API
   * answers 202 (accepted, not recorded yet); default 15 000. */
  visibilityTimeoutMs?: number;
  /** Temporal worker log level; default WARN. */
  logLevel?: string;
  /** Where the `http` job type may connect besides public addresses (HTTP_JOB_ALLOWED_HOSTS); default nowhere. */
  httpJobAllowedHosts?: string;
  /** Options of the HTTP API (authentication). */
  appOptions?: AppOptions;
  /** Request size and depth limits of the API and the commands; defaults in DEFAULT_REQUEST_LIMITS. */
  limits?: Partial<RequestLimits>;
  /** Where the engine's own lines go (projector errors, reconciler); default: nowhere. */
  log?: (line: string) => void;
  /** Webhook deliveries (see "Webhooks" in the README). */
  webhooks?: EngineWebhookOptions;
  /** Automatic retention: the `<taskQueue>-retention` Schedule deletes jobs finished longer ago than
   * maxAgeMs, every intervalMs. Undefined (the default): off, and a Schedule left from before is deleted. */
  retention?: RetentionOptions;
}

export interface EngineWebhookOptions {
  /** Signs the deliveries to jobs' callback_url; default: WEBHOOK_CALLBACK_SECRET, else one kept in
   * `webhook-callback-secret` next to the event store (made on the first start). */
  callbackSecret?: string;
  /** Retry schedule of a delivery; default DEFAULT_WEBHOOK_RETRY (about 30 attempts over 24 h). */
  retry?: Partial<WebhookRetryPolicy>;
  /** The longest one POST may take (ms); default 10 000. */
  requestTimeoutMs?: number;
  /** The dispatcher's checkpoint file; default `webhook-dispatch.db` next to the event store. */
  dispatchCheckpointPath?: string;
}

/** The engine options that come from the configuration (everything but the Temporal address, which
 * may belong to a dev server started first, and the API's options). */
export function engineOptionsFromConfig(config: EngineConfig): Omit<EngineOptions, 'temporalAddress' | 'appOptions' | 'log'> {
  return {
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    eventStorePath: config.eventStorePath,
    readModelPath: config.readModelPath,
    batchItemsPath: config.batchItemsPath,
    resultsDir: config.resultsDir,
    filesDir: config.filesDir,
    defaultJobType: config.defaultJobType,
    storeAccess: config.storeAccess,
    workflowBundle: config.workflowBundlePath ? { codePath: config.workflowBundlePath } : undefined,
    maxConcurrentSteps: config.maxConcurrentSteps,
    workflowThreads: config.workflowThreads,
    workflowStackTraces: config.workflowStackTraces,
    rebuildThreads: config.rebuildThreads,
    eventStoreAppendThread: config.eventStoreAppendThread,
    pools: config.pools,
    reconcileIntervalMs: config.reconcileIntervalMs,
    controlWaitMs: config.controlWaitMs,
    logLevel: config.logLevel,
    limits: config.limits,
    httpJobAllowedHosts: config.httpJobAllowedHosts,
    webhooks: config.webhooks,
    retention: config.retention,
  };
}

/** One process of the engine: store, projector, reconciler, workers and API, wired together. */
export interface Engine {
  client: Client;
  eventStore: EventStore;
  /** The read model's connection now (an online rebuild replaces it: do not keep it). */
  readonly readModelDb: ReadModelDb;
  readModel: JobReadModel;
  /** Online rebuilds of the read model (POST /admin/read-model/rebuild). */
  readModelRebuilder: ReadModelRebuilder;
  projector: Projector;
  reconciler: Reconciler;
  commands: JobCommands;
  app: ReturnType<typeof createApp>;
  workers: Worker[];
  registry: JobTypeRegistry;
  /** Uploaded files (inputs of `match` jobs). */
  files: FileStore;
  /** Starts the webhook deliveries of the events in the log. */
  webhookDispatcher: WebhookDispatcher;
  /** Stops the reconciler, the workers (they drain), the projector and the connections; `progress` hears each phase. */
  stop(progress?: (what: string) => void): Promise<void>;
}

export async function startEngine(options: EngineOptions): Promise<Engine> {
  const log = options.log ?? (() => {});
  const namespace = options.namespace ?? 'default';
  const registry = options.registry ?? new JobTypeRegistry();
  const files = new FileStore(options.filesDir ?? path.join(path.dirname(options.eventStorePath), 'files'));
  if (!registry.has('match')) registry.register(createMatchJobType({ files }));
  const eventStore = openEventStore(options.eventStorePath, { appendThread: options.eventStoreAppendThread ?? false });
  // Every reader and the projector hold the read model through this, so a rebuild can swap it.
  const readModelHolder = new ReadModelHolder(openReadModelDb(options.readModelPath));
  const projector = new Projector(eventStore, readModelHolder, readModelProjections());
  projector.on('error', (error) => log(`[projector] ${(error as Error).stack ?? error}`));
  projector.start();

  const connection = await Connection.connect({ address: options.temporalAddress });
  const client = new Client({ connection, namespace });
  const readModel = new JobReadModel(readModelHolder);
  const storeAccess = options.storeAccess ?? (options.runWorkers === false ? 'remote' : 'local');
  // Pools pick from their line by local activity when their workflows run here, next to the read model.
  const pickLocally = storeAccess === 'local' && options.runWorkers !== false;
  const defaultPoolLimit = options.pools?.[DEFAULT_POOL] ?? options.maxConcurrentSteps ?? 100;
  const poolLimits = { [DEFAULT_POOL]: defaultPoolLimit, ...options.pools };
  /** What starting a pool's workflow needs (at start, and for a pool a wake-up found not running). */
  const poolStart = { client, taskQueue: options.taskQueue, storeAccess, pickLocally, poolPriorityKey: POOL_PRIORITY_KEY };
  /** The limit such a start gives a pool: the one recorded for it, else POOLS, else the default. */
  const startLimitOf = (pool: string) => poolStartLimit({ readModelDb: readModelHolder, poolLimits, defaultPoolLimit }, pool);
  const poolWaker = new PoolWaker({
    client,
    taskQueue: options.taskQueue,
    // A pool nobody started yet (a name no config lists): start it; its first run reads its line.
    onError: (pool) => void startPoolWorkflow(poolStart, pool, startLimitOf(pool), 'system').catch(() => undefined),
  });
  // A job just queued (after its time, its dependencies, a resume or a retry) or just ended: its pool
  // hears of it from here at once (see wakePoolsOfQueuedJobs, wakePoolsOfEndedJobs).
  wakePoolsOnApply(projector, poolWaker, (jobId) => readModel.poolOf(jobId));
  // Jobs of this process waiting for their pool's grant within their workflow task (revision 9).
  const poolGrants = new PoolGrantWaiters();
  const commands = new JobCommands({
    client,
    files,
    taskQueue: options.taskQueue,
    registry,
    readModel,
    projection: projector,
    defaultJobType: options.defaultJobType ?? 'sleep',
    storeAccess,
    // Jobs run next to the read model exactly when pools pick locally: they ask their pools locally too.
    askPoolLocally: pickLocally,
    workflowTaskTimeoutMs: options.workflowTaskTimeoutMs,
    controlWaitMs: options.controlWaitMs,
    visibilityTimeoutMs: options.visibilityTimeoutMs,
    maxJobInputBytes: options.limits?.maxJobInputBytes,
    configuredPools: Object.keys(poolLimits),
    eventStore,
    poolGrants,
  });
  const batchItems = new BatchItemStore(
    options.batchItemsPath ?? path.join(path.dirname(options.eventStorePath), 'batch-items.db'),
  );
  const batchReadModel = new BatchReadModel(readModelHolder);
  const batchCommands = new BatchCommands({
    client,
    taskQueue: options.taskQueue,
    registry,
    items: batchItems,
    batches: batchReadModel,
    jobs: readModel,
    projection: projector,
    defaultJobType: options.defaultJobType ?? 'sleep',
    storeAccess,
    askPoolLocally: pickLocally,
    controlWaitMs: options.controlWaitMs,
    maxJobInputBytes: options.limits?.maxJobInputBytes,
    configuredPools: Object.keys(poolLimits),
  });
  // Recurring jobs: Temporal Schedules whose every action starts a jobWorkflow; their changes are
  // recorded by this command side (schedule-<id> streams).
  const scheduleReadModel = new ScheduleReadModel(readModelHolder);
  const scheduleCommands = new ScheduleCommands({
    client,
    taskQueue: options.taskQueue,
    jobs: commands,
    eventStore,
    readModel: scheduleReadModel,
    projection: projector,
    workflowTaskTimeoutMs: options.workflowTaskTimeoutMs,
  });
  // Webhooks: subscriptions recorded by this command side (webhook-<id> streams); deliveries are
  // workflows started by the dispatcher, which follows the log behind the read model.
  // The allow-list also decides which URLs a subscription or a callback_url may name.
  configureHttpEgress(options.httpJobAllowedHosts);
  const storeDir = path.dirname(options.eventStorePath);
  const webhookReadModel = new WebhookReadModel(readModelHolder);
  const webhookRetry = { ...DEFAULT_WEBHOOK_RETRY, ...options.webhooks?.retry };
  const webhookTimeoutMs = options.webhooks?.requestTimeoutMs ?? 10_000;
  const webhookCommands = new WebhookCommands({
    client,
    taskQueue: options.taskQueue,
    eventStore,
    readModel: webhookReadModel,
    projection: projector,
    retry: webhookRetry,
    requestTimeoutMs: webhookTimeoutMs,
    storeAccess,
  });
  const readModelRebuilder = new ReadModelRebuilder({
    store: eventStore,
    holder: readModelHolder,
    projector,
    readModelPath: options.readModelPath,
    threads: options.rebuildThreads,
    log,
  });
  const storeProbe = new Database(options.eventStorePath, { timeout: 1000 });
  const workerList = taskQueueWorkerList(client, namespace, options.taskQueue, { jobTypes: () => registry.names() });
  const app = createApp(
    {
      readModel,
      commands,
      events: eventStore,
      workers: taskQueueWorkers(workerList),
      operations: { workerList, throughput: new ThroughputReadModel(readModelHolder) },
      batches: { readModel: batchReadModel, commands: batchCommands },
      files: { store: files, resultsDir: options.resultsDir },
      pools: new PoolCommands({
        client,
        taskQueue: options.taskQueue,
        readModel,
        projection: projector,
        storeAccess,
        pickLocally,
        poolPriorityKey: POOL_PRIORITY_KEY,
        controlWaitMs: options.controlWaitMs,
      }),
      schedules: { readModel: scheduleReadModel, commands: scheduleCommands },
      webhooks: { readModel: webhookReadModel, commands: webhookCommands },
      readModelRebuild: readModelRebuilder,
      ops: {
        countByStatus: () => readModel.countByStatus(),
        lastPosition: () => eventStore.lastPosition(),
        checkpoint: () => projector.checkpoint(),
        temporalReachable: async () => {
          await client.workflowService.getSystemInfo({});
        },
        // Takes the write lock and lets it go: proves the file is writable and not wedged.
        storeWritable: () => {
          storeProbe.exec('BEGIN IMMEDIATE');
          storeProbe.exec('ROLLBACK');
          // Appends of workflows failing in the last minute: jobs are waiting on their record.
          const health = appendHealth();
          if (health.lastFailureAt !== null && Date.now() - health.lastFailureAt < 60_000)
            throw new Error(
              `appends failed ${Math.round((Date.now() - health.lastFailureAt) / 1000)} s ago: ${health.lastError}`,
            );
        },
      },
    },
    { ...options.appOptions, limits: { ...options.limits, ...options.appOptions?.limits } },
  );

  const workers: Worker[] = [];
  installRuntime(options.logLevel);
  const nativeConnection = await NativeConnection.connect({ address: options.temporalAddress });
  /** Set once the reconciler exists (below): a job a pick found gone may have no execution at all. */
  const missingJobs: { record?: (jobId: string) => Promise<number> } = {};
  // This process owns the read model, so it serves the scheduler's activities whoever runs workflows.
  const scheduler = {
    client,
    taskQueue: options.taskQueue,
    eventStore,
    readModelDb: readModelHolder,
    waitFor: (position: number, timeoutMs?: number) => projector.waitFor(position, timeoutMs),
    poolLimits,
    defaultPoolLimit,
    storeAccess,
    pickLocally,
    poolPriorityKey: POOL_PRIORITY_KEY,
    poolWakes: poolWaker,
    poolGrants,
    onJobGone: (jobId: string) =>
      void missingJobs
        .record?.(jobId)
        .catch((error) => log(`[reconciler] could not look for the workflow of ${jobId}: ${(error as Error).message}`)),
  };
  workers.push(
    await createSchedulerWorker({ connection: nativeConnection, namespace, logLevel: options.logLevel, files, scheduler }),
  );
  workers.push(
    await createWebhookWorker({
      connection: nativeConnection,
      namespace,
      logLevel: options.logLevel,
      taskQueue: options.taskQueue,
      webhooks: {
        webhooks: webhookReadModel,
        callbackSecret: loadCallbackSecret(options.webhooks?.callbackSecret, path.join(storeDir, 'webhook-callback-secret')),
      },
    }),
  );
  if (options.runWorkers !== false) {
    const engineWorkers = await createEngineWorkers({
      connection: nativeConnection,
      namespace,
      taskQueue: options.taskQueue,
      registry,
      resultsDir: options.resultsDir,
      eventStore,
      batchItems,
      workflowBundle: options.workflowBundle,
      maxConcurrentSteps: options.maxConcurrentSteps,
      workflowThreads: options.workflowThreads,
      workflowStackTraces: options.workflowStackTraces,
      logLevel: options.logLevel,
      scheduler,
    });
    workers.push(...engineWorkers);
  }
  const running = runWorkers(workers).catch((error) => log(`[worker] stopped: ${(error as Error).stack ?? error}`));
  // Every configured pool (and `default`) has its admission workflow running; a limit changed at run
  // time (PUT /pools/{name}) stands across restarts. A pool's workflow that is not running (Temporal lost
  // it, or it was terminated while this process was down) starts with the limit recorded for it, as at
  // run time: the one GET /pools shows (it started from POOLS, while the read model kept showing the
  // recorded limit). POOLS seeds a pool not recorded yet.
  for (const name of Object.keys(poolLimits)) {
    await startPoolWorkflow(poolStart, name, startLimitOf(name), 'config');
    // Jobs queued or ended while this process was down were not woken for (their events were applied
    // before, or the wake-up lost): the pool looks at its line and its holders now.
    poolWaker.wake(name, 'engine-start', projector.checkpoint(), { holdersEnded: true });
  }
  // Retention on: its Schedule must exist (a failure stops the start). Off: removing a Schedule left
  // from before is best effort.
  await ensureRetentionSchedule(client, options.taskQueue, options.retention).catch((error) => {
    if (options.retention) throw error;
    log(`[retention] could not remove the retention schedule: ${(error as Error).message}`);
  });
  const reconciler = new Reconciler({
    client,
    eventStore,
    taskQueue: options.taskQueue,
    intervalMs: options.reconcileIntervalMs,
    log,
    schedules: scheduleCommands,
    shownOpen: readModel,
    batchesShownOpen: batchReadModel,
    ...(options.missingSweepMs !== undefined ? { missingSweepMs: options.missingSweepMs } : {}),
    // A job terminated from outside cannot tell its dependents: tell them here, as it would have.
    onJobClosedOutside: async (jobId, status) => {
      for (const dependent of readModel.dependentsWaitingFor(jobId))
        await client.workflow
          .getHandle(dependent.id)
          .signal(dependencyFinishedSignal, { jobId, status })
          .catch(() => undefined);
    },
  });
  missingJobs.record = (jobId) => reconciler.recordMissing(jobId);
  reconciler.start();
  const dispatcher = new WebhookDispatcher({
    client,
    taskQueue: options.taskQueue,
    eventStore,
    jobs: readModel,
    batches: batchReadModel,
    webhooks: webhookReadModel,
    readModelPosition: () => projector.checkpoint(),
    onReadModelMoved: (listener) => {
      projector.on('projected', listener);
      return () => projector.off('projected', listener);
    },
    checkpointPath: options.webhooks?.dispatchCheckpointPath ?? path.join(storeDir, 'webhook-dispatch.db'),
    retry: webhookRetry,
    requestTimeoutMs: webhookTimeoutMs,
    storeAccess,
    log,
  });
  dispatcher.start();

  return {
    client,
    eventStore,
    get readModelDb() {
      return readModelHolder.db;
    },
    readModel,
    readModelRebuilder,
    projector,
    reconciler,
    commands,
    app,
    workers,
    registry,
    files,
    webhookDispatcher: dispatcher,
    async stop(progress: (what: string) => void = () => {}) {
      await reconciler.stop();
      await dispatcher.stop();
      for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      progress('workers stopped');
      await nativeConnection?.close();
      await readModelRebuilder.stop();
      await projector.stop();
      progress('projector stopped');
      await poolWaker.stop(); // after the projector: its last batches may still wake pools
      await cancelCallsUnderWay(client); // (an Update answered from the read model may still be waiting)
      await connection.close();
      readModelHolder.db.close();
      storeProbe.close();
      batchItems.close();
      files.close();
      eventStore.close();
    },
  };
}
