import path from 'node:path';
import type { RequestLimits } from './api/limits.js';
import { parsePoolLimits } from './domain/pools.js';
import { DEFAULT_WEBHOOK_RETRY, type WebhookRetryPolicy } from './webhooks/retryPolicy.js';
import { DURATION_HINT, parseDuration } from './schedules/scheduleSpec.js';
import type { RetentionOptions } from './schedules/retentionSchedule.js';
import { DEFAULT_CONTROL_WAIT_MS } from './commands/controlWait.js';

/** How often the retention Schedule runs unless RETENTION_INTERVAL says otherwise. */
const DEFAULT_RETENTION_INTERVAL_MS = 3_600_000;

/** Everything the engine reads from the environment, in one place (documented in the README). */
export interface EngineConfig {
  /** host:port of a Temporal frontend; when unset, `npm start` runs a dev server itself. */
  temporalAddress?: string;
  /** Temporal namespace. */
  namespace: string;
  /** Task queue of job workflows and job steps; the store's activities use `<taskQueue>-store`. */
  taskQueue: string;
  /** Folder of the SQLite files, the dev server's database and result files. */
  dataDir: string;
  /** Event store file. */
  eventStorePath: string;
  /** Batch inputs (claim check) file. */
  batchItemsPath: string;
  /** Read model file. */
  readModelPath: string;
  /** Jobs' result files go to `<resultsDir>/<job id>/`. */
  resultsDir: string;
  /** Uploaded files (FILES_DIR): `<filesDir>/<owner>/<file id>` and their metadata in `files.db`. */
  filesDir: string;
  /** HTTP port of the API. */
  port: number;
  /** Interface the API binds. */
  host: string;
  /** Job type used when a submit names none. */
  defaultJobType: string;
  /** Concurrent job steps per worker. */
  maxConcurrentSteps: number;
  /** Threads that run workflow code per worker process (WORKFLOW_THREADS, at least 1). */
  workflowThreads: number;
  /** The `__stack_trace` query of the engine's workflows (WORKFLOW_STACK_TRACES=1; default off: the
   * SDK's capture costs about a third of a busy workflow thread, see src/worker/workflowStackTraces.ts). */
  workflowStackTraces: boolean;
  /** Threads that fold the log in a read-model rebuild, besides its writer (REBUILD_THREADS, at least
   * 1); undefined: one per core. */
  rebuildThreads?: number;
  /** Commit the event store's grouped appends in a thread of their own (EVENTSTORE_APPEND_THREAD=1;
   * default off: on 2 cores it cost bench:submit about a sixth of its jobs/s, see the README). */
  eventStoreAppendThread: boolean;
  /** Resource pools and their limits (POOLS=`gpu:2,default:50`); `default` defaults to MAX_CONCURRENT_STEPS. */
  pools: Record<string, number>;
  /** Reconciler scan period (ms): how soon a terminated or timed-out job shows as such. */
  reconcileIntervalMs: number;
  /** How long a control waits for its job's or batch's workflow to take it before the API answers 202
   * (sent, not taken yet) (CONTROL_WAIT_MS, ms). */
  controlWaitMs: number;
  /** How workflows reach the event store: local activities (one process owns the store and runs all
   * workflows: `npm start`) or the `<queue>-store` task queue (several worker processes). */
  storeAccess: 'local' | 'remote';
  /** HS256 secret of the API's bearer tokens; without it (development only) every caller is one local admin. */
  jwtSecret?: string;
  /** Request limits: MAX_REQUEST_BYTES (1 MiB), MAX_BATCH_REQUEST_BYTES (64 MiB), MAX_JOB_INPUT_BYTES (256 KiB), MAX_JSON_DEPTH (64), MAX_UPLOAD_BYTES (512 MiB). */
  limits: Partial<RequestLimits>;
  /** The longest lifetime of an API token, seconds (JWT_MAX_TTL_SECONDS); default 7 days. */
  jwtMaxTtlSeconds: number;
  /** NODE_ENV=production: refuses to start without JWT_SECRET. */
  production: boolean;
  /** Port of the dev server `npm start` runs (TEMPORAL_PORT); default 7233. */
  temporalPort: number;
  /** Port of the dev server's Web UI (TEMPORAL_UI_PORT); default: a free port, printed at start. */
  temporalUiPort?: number;
  /** Web UI of an external Temporal (TEMPORAL_UI_URL), printed at start and used for links. */
  temporalUiUrl?: string;
  /** Temporal worker log level (LOG_LEVEL): ERROR, WARN (default), INFO, DEBUG, TRACE. */
  logLevel: string;
  /** `npm run worker`: this process also serves the store's activities (STORE_OWNER; default true; one process only). */
  storeOwner: boolean;
  /** Where the `http` job type may connect besides public addresses (HTTP_JOB_ALLOWED_HOSTS: host names, IPs, CIDRs, each optionally `:port`). */
  httpJobAllowedHosts?: string;
  /** Modules whose exported job types are registered next to the built-ins (JOB_TYPES, comma-separated paths). */
  jobTypeModules: string[];
  /** A prebuilt workflow bundle (WORKFLOW_BUNDLE); default: bundle the workflows at start (a few seconds). */
  workflowBundlePath?: string;
  /** `npm start`: the longest a stop (SIGTERM, Ctrl-C) may take before the process exits anyway (ms). */
  shutdownTimeoutMs: number;
  /** Webhook deliveries: the callback secret (WEBHOOK_CALLBACK_SECRET), the retry schedule
   * (WEBHOOK_RETRY_HOURS, WEBHOOK_RETRY_INITIAL_MS, WEBHOOK_RETRY_MAX_INTERVAL_MS) and the POST timeout (WEBHOOK_TIMEOUT_MS). */
  webhooks: { callbackSecret?: string; retry: WebhookRetryPolicy; requestTimeoutMs: number };
  /** Automatic retention (RETENTION_MAX_AGE or RETENTION_DAYS, RETENTION_INTERVAL); undefined: off. */
  retention?: RetentionOptions;
}

/**
 * loadConfig for a program's start: a variable that cannot be read stops it with one line naming the
 * variable (exit code 2), not a stack trace.
 */
export function loadConfigOrExit(
  env: NodeJS.ProcessEnv = process.env,
  stop: { error(line: string): void; exit(code: number): never } = { error: console.error, exit: process.exit },
): EngineConfig {
  try {
    return loadConfig(env);
  } catch (error) {
    stop.error(`Configuration: ${(error as Error).message}`);
    return stop.exit(2);
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): EngineConfig {
  const dataDir = path.resolve(env.DATA_DIR ?? 'data');
  return {
    temporalAddress: env.TEMPORAL_ADDRESS || undefined,
    namespace: env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: env.TASK_QUEUE || 'job-engine',
    dataDir,
    eventStorePath: path.resolve(env.EVENTSTORE_PATH ?? path.join(dataDir, 'events.db')),
    batchItemsPath: path.resolve(env.BATCH_ITEMS_PATH ?? path.join(dataDir, 'batch-items.db')),
    readModelPath: path.resolve(env.READMODEL_PATH ?? path.join(dataDir, 'readmodel.db')),
    resultsDir: path.resolve(env.RESULTS_DIR ?? path.join(dataDir, 'results')),
    filesDir: path.resolve(env.FILES_DIR ?? path.join(dataDir, 'files')),
    port: intOf(env, 'PORT', 3000),
    host: env.HOST || '127.0.0.1',
    defaultJobType: env.DEFAULT_JOB_TYPE || 'sleep',
    maxConcurrentSteps: intOf(env, 'MAX_CONCURRENT_STEPS', 100),
    workflowThreads: atLeastOne('WORKFLOW_THREADS', intOf(env, 'WORKFLOW_THREADS', 1)),
    workflowStackTraces: onOff(env, 'WORKFLOW_STACK_TRACES', false),
    rebuildThreads: env.REBUILD_THREADS ? atLeastOne('REBUILD_THREADS', intOf(env, 'REBUILD_THREADS', 1)) : undefined,
    eventStoreAppendThread: onOff(env, 'EVENTSTORE_APPEND_THREAD', false),
    pools: parsePoolLimits(env.POOLS),
    reconcileIntervalMs: intOf(env, 'RECONCILE_INTERVAL_MS', 1000),
    controlWaitMs: positiveIntOf(env, 'CONTROL_WAIT_MS', DEFAULT_CONTROL_WAIT_MS),
    jwtSecret: env.JWT_SECRET || undefined,
    limits: {
      ...(env.MAX_REQUEST_BYTES ? { maxRequestBytes: intOf(env, 'MAX_REQUEST_BYTES', 0) } : {}),
      ...(env.MAX_BATCH_REQUEST_BYTES ? { maxBatchRequestBytes: intOf(env, 'MAX_BATCH_REQUEST_BYTES', 0) } : {}),
      ...(env.MAX_JOB_INPUT_BYTES ? { maxJobInputBytes: intOf(env, 'MAX_JOB_INPUT_BYTES', 0) } : {}),
      ...(env.MAX_JSON_DEPTH ? { maxJsonDepth: intOf(env, 'MAX_JSON_DEPTH', 0) } : {}),
      ...(env.MAX_UPLOAD_BYTES ? { maxUploadBytes: intOf(env, 'MAX_UPLOAD_BYTES', 0) } : {}),
    },
    jwtMaxTtlSeconds: intOf(env, 'JWT_MAX_TTL_SECONDS', 7 * 24 * 3600),
    storeAccess: env.EVENTSTORE_ACCESS === 'remote' ? 'remote' : 'local',
    production: env.NODE_ENV === 'production',
    temporalPort: intOf(env, 'TEMPORAL_PORT', 7233),
    temporalUiPort: env.TEMPORAL_UI_PORT ? intOf(env, 'TEMPORAL_UI_PORT', 0) : undefined,
    temporalUiUrl: env.TEMPORAL_UI_URL || undefined,
    logLevel: env.LOG_LEVEL || 'WARN',
    storeOwner: env.STORE_OWNER !== 'false',
    httpJobAllowedHosts: env.HTTP_JOB_ALLOWED_HOSTS || undefined,
    jobTypeModules: (env.JOB_TYPES ?? '')
      .split(',')
      .map((m) => m.trim())
      .filter(Boolean),
    workflowBundlePath: env.WORKFLOW_BUNDLE ? path.resolve(env.WORKFLOW_BUNDLE) : undefined,
    shutdownTimeoutMs: intOf(env, 'SHUTDOWN_TIMEOUT_MS', 20_000),
    webhooks: {
      callbackSecret: env.WEBHOOK_CALLBACK_SECRET || undefined,
      retry: {
        ...DEFAULT_WEBHOOK_RETRY,
        maxDurationMs: intOf(env, 'WEBHOOK_RETRY_HOURS', DEFAULT_WEBHOOK_RETRY.maxDurationMs / 3_600_000) * 3_600_000,
        initialIntervalMs: intOf(env, 'WEBHOOK_RETRY_INITIAL_MS', DEFAULT_WEBHOOK_RETRY.initialIntervalMs),
        maxIntervalMs: intOf(env, 'WEBHOOK_RETRY_MAX_INTERVAL_MS', DEFAULT_WEBHOOK_RETRY.maxIntervalMs),
      },
      requestTimeoutMs: intOf(env, 'WEBHOOK_TIMEOUT_MS', 10_000),
    },
    retention: retentionOf(env),
  };
}

/** RETENTION_MAX_AGE (`30d`, `12h`) or RETENTION_DAYS (`30`): off when neither is set. */
function retentionOf(env: NodeJS.ProcessEnv): RetentionOptions | undefined {
  const duration = (name: string, value: string) => {
    const ms = parseDuration(value);
    if (!ms) throw new Error(`${name} ${DURATION_HINT}, got ${JSON.stringify(value)}`);
    return ms;
  };
  if (env.RETENTION_MAX_AGE && env.RETENTION_DAYS) throw new Error('Set RETENTION_MAX_AGE or RETENTION_DAYS, not both');
  const maxAgeMs = env.RETENTION_MAX_AGE
    ? duration('RETENTION_MAX_AGE', env.RETENTION_MAX_AGE)
    : env.RETENTION_DAYS
      ? intOf(env, 'RETENTION_DAYS', 0) * 86_400_000
      : 0;
  if (!maxAgeMs) return undefined;
  const intervalMs = env.RETENTION_INTERVAL
    ? duration('RETENTION_INTERVAL', env.RETENTION_INTERVAL)
    : DEFAULT_RETENTION_INTERVAL_MS;
  return { maxAgeMs, intervalMs };
}

function atLeastOne(name: string, n: number): number {
  if (n < 1) throw new Error(`${name} must be at least 1, got ${n}`);
  return n;
}

function onOff(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  throw new Error(`${name}: expected 1 or 0, got ${JSON.stringify(value)}`);
}

/** As intOf, and 0 is refused too (a wait of 0 would answer every control before it could be taken). */
function positiveIntOf(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const n = intOf(env, name, fallback);
  if (n === 0) throw new Error(`${name}: expected a positive integer, got 0`);
  return n;
}

function intOf(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: expected a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}
