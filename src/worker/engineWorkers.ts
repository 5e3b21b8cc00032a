import { fileURLToPath } from 'node:url';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel, type WorkerOptions } from '@temporalio/worker';
import type { EventStore } from '../eventstore/index.js';
import type { JobTypeRegistry } from '../jobs/registry.js';
import { createEventStoreActivities } from '../activities/eventStoreActivities.js';
import { createJobStepActivities } from '../activities/jobStepActivities.js';
import { createBatchActivities } from '../activities/batchActivities.js';
import type { BatchItemStore } from '../batches/batchItemStore.js';
import { createSchedulerActivities, type SchedulerDeps } from '../activities/schedulerActivities.js';
import { createJobSignalActivities } from '../activities/jobSignalActivities.js';
import { createWebhookActivities, type WebhookActivityDeps } from '../activities/webhookActivities.js';
import { createRetentionActivities } from '../activities/retentionActivities.js';
import { createWorkflowWorker } from './workflowStackTraces.js';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface EngineWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  /** Queue of job workflows and steps. */
  taskQueue: string;
  registry: JobTypeRegistry;
  resultsDir: string;
  /** The SQLite owner runs the store's activities (`<taskQueue>-store`); other machines pass none. */
  eventStore?: EventStore;
  /** With eventStore: the batch inputs the batch workflow loads. */
  batchItems?: BatchItemStore;
  /** A prebuilt workflow bundle (tests build one per run); default: bundle workflowsPath now. */
  workflowBundle?: { codePath: string };
  maxConcurrentSteps?: number;
  /**
   * Threads that run workflow code (the SDK's workflowThreadPoolSize); default 1. Every workflow task
   * of this worker waits its turn on one of them (a run stays on one thread), so a control's task can
   * queue behind a burst of other jobs' tasks; a second thread shortens that wait but takes CPU the
   * rest of the process and Temporal need. On 2 cores, with 200 jobs running: bench:control's p99
   * under 100 ms in 3 of 6 runs with 2 threads against 1 of 6 with 1, p50 ~4 ms higher; bench:submit's
   * rate 0.41–0.49× bare against 0.56–0.60×. Worth it with cores to spare and many running jobs.
   */
  workflowThreads?: number;
  /**
   * Workflow stack traces (WORKFLOW_STACK_TRACES): the `__stack_trace` query of the job, batch and
   * pool workflows this worker runs (the Web UI's Stack Trace tab, `temporal workflow stack`).
   * Default false: the SDK captures one for every promise workflow code creates, about a third of a
   * busy workflow thread (see workflowStackTraces.ts); without, that query answers "not enabled".
   * The engine's workflows are its own code: a job's own code runs in its steps, whose errors keep
   * their stacks either way.
   */
  workflowStackTraces?: boolean;
  identity?: string;
  /** After a shutdown request, the longest the workers wait for in-flight tasks before giving up (ms). */
  shutdownForceTimeMs?: number;
  /** Temporal worker log level (LOG_LEVEL); default WARN. */
  logLevel?: string;
  /** The read model's owner (this process): its scheduler activities also run as local activities
   * of the workflows this worker runs (pools with storeAccess `local`). */
  scheduler?: SchedulerDeps;
}

/**
 * The longest the worker holds back a step's heartbeats. Temporal tells a running step it was paused
 * or cancelled in the answer to a heartbeat, so a step stops within this after its job's pause is
 * recorded (the job shows paused at once). Every heartbeat is a write in Temporal's history service:
 * with 200 jobs running, 2 s instead of 500 ms halved the dev server's CPU (67 % → 33 % of a core),
 * which every control of those jobs competes with (bench:control). A lost worker is noticed after the
 * heartbeat timeout (5 s unless the job type says otherwise; the SDK sends at least every 0.8 of it).
 */
export const STEP_HEARTBEAT_THROTTLE = '2s';

/** How often each SDK worker tells Temporal its slots and status (Temporal's ListWorkers). */
export const WORKER_HEARTBEAT_INTERVAL = '10s';

let runtimeInstalled = false;
/** Worker logs at WARN unless told otherwise (LOG_LEVEL; the SDK's INFO is a line per state change). */
export function installRuntime(logLevel: string = 'WARN'): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    // Heartbeats every 10 s (SDK default 60 s): GET /workers shows slots and shut-down workers that fresh.
    Runtime.install({
      logger: new DefaultLogger((logLevel.toUpperCase() as LogLevel) || 'WARN'),
      workerHeartbeatInterval: WORKER_HEARTBEAT_INTERVAL,
    });
  } catch {
    // already installed by the embedding program: keep its logger
  }
}

/** The workers of one process: job workflows and steps, and (on the SQLite owner) the store. */
export async function createEngineWorkers(options: EngineWorkerOptions): Promise<Worker[]> {
  installRuntime(options.logLevel);
  const common: Partial<WorkerOptions> = {
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    // On shutdown, running steps are cancelled at once (they hand back their checkpoint and resume
    // after the next start); whatever still runs after this (e.g. an append retrying against a store
    // that refuses it) is abandoned, so a stop never hangs. Temporal retries it elsewhere.
    shutdownForceTime: options.shutdownForceTimeMs ?? 10_000,
    ...(options.identity ? { identity: options.identity } : {}),
  };
  const jobs = await createWorkflowWorker(options.workflowStackTraces === true, () =>
    Worker.create({
      ...common,
      connection: options.connection,
      taskQueue: options.taskQueue,
      ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath }),
      activities: {
        ...createJobStepActivities({
          registry: options.registry,
          resultsDir: options.resultsDir,
          eventStore: options.eventStore,
        }),
        // The SQLite owner also serves the store as local activities of the workflows it runs.
        ...(options.eventStore ? createEventStoreActivities(options.eventStore) : {}),
        ...(options.batchItems ? createBatchActivities(options.batchItems) : {}),
        ...(options.scheduler ? createSchedulerActivities(options.scheduler) : {}),
        ...(options.scheduler ? createJobSignalActivities(options.scheduler.client) : {}),
      },
      maxConcurrentActivityTaskExecutions: options.maxConcurrentSteps ?? 100,
      workflowThreadPoolSize: options.workflowThreads ?? 1,
      maxHeartbeatThrottleInterval: STEP_HEARTBEAT_THROTTLE,
      defaultHeartbeatThrottleInterval: STEP_HEARTBEAT_THROTTLE,
    }),
  );
  const workers = [jobs];
  if (options.eventStore) {
    workers.push(
      await Worker.create({
        ...common,
        connection: options.connection,
        taskQueue: `${options.taskQueue}-store`,
        activities: {
          ...createEventStoreActivities(options.eventStore),
          ...(options.batchItems ? createBatchActivities(options.batchItems) : {}),
        },
        maxConcurrentActivityTaskExecutions: 200,
      }),
    );
  }
  return workers;
}

/** The scheduler's activities (pools' lines, dependencies' outcomes, retention's reads) on
 * `<taskQueue>-scheduler`: served by the one process that owns the read model (the API's), whoever
 * runs the workflows. `files`: the uploads retention removes once no job names them. */
export async function createSchedulerWorker(
  options: Pick<EngineWorkerOptions, 'connection' | 'namespace' | 'identity' | 'logLevel'> & {
    scheduler: SchedulerDeps;
    files?: { remove(id: string): number };
  },
): Promise<Worker> {
  installRuntime(options.logLevel);
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    taskQueue: `${options.scheduler.taskQueue}-scheduler`,
    activities: {
      ...createSchedulerActivities(options.scheduler),
      ...createRetentionActivities({ ...options.scheduler, files: options.files }),
      // A batch's controls to its jobs (they need a client, as the pool's grants do).
      ...createJobSignalActivities(options.scheduler.client),
    },
    maxConcurrentActivityTaskExecutions: 50,
    shutdownForceTime: 5_000,
    ...(options.identity ? { identity: options.identity } : {}),
  });
}

/** The webhook POSTs (`<taskQueue>-webhooks`): served by the process that owns the read model, where
 * the subscriptions' secrets are; the delivery workflows themselves run on the job workers. */
export async function createWebhookWorker(
  options: Pick<EngineWorkerOptions, 'connection' | 'namespace' | 'identity' | 'logLevel'> & {
    taskQueue: string;
    webhooks: WebhookActivityDeps;
  },
): Promise<Worker> {
  installRuntime(options.logLevel);
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    taskQueue: `${options.taskQueue}-webhooks`,
    activities: createWebhookActivities(options.webhooks),
    maxConcurrentActivityTaskExecutions: 50,
    shutdownForceTime: 5_000,
    ...(options.identity ? { identity: options.identity } : {}),
  });
}

export async function runWorkers(workers: Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.run()));
}
