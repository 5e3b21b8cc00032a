import type { EventStore } from '../eventstore/index.js';
import type { JobReadModel, JobRow } from '../projections/jobReadModel.js';
import type { JobCommands } from '../commands/jobCommands.js';
import { ApiError, notFound } from './errors.js';
import type { OpsDeps } from './routes/ops.js';
import type { BatchReadModel } from '../projections/batchReadModel.js';
import type { BatchCommands } from '../commands/batchCommands.js';
import type { FilesDeps } from './routes/files.js';
import type { ScheduleReadModel } from '../projections/scheduleReadModel.js';
import type { ScheduleCommands } from '../commands/scheduleCommands.js';
import type { PoolCommands } from '../commands/poolCommands.js';
import type { WebhookReadModel } from '../projections/webhookReadModel.js';
import type { WebhookCommands } from '../commands/webhookCommands.js';
import type { OperationsDeps } from './routes/operations.js';
import type { ReadModelRebuilder } from '../projections/onlineRebuild.js';

/** Who is calling. `admin` sees and controls every job; others only their own. */
export interface ApiUser {
  id: string;
  role: 'admin' | 'user';
}

export type AppEnv = { Variables: { user: ApiUser } };

export interface WorkerInfo {
  active: number;
  total: number;
}

export interface ApiDeps {
  readModel: JobReadModel;
  commands: JobCommands;
  /** The log, read-only: a job's events are served from it. */
  events: EventStore;
  /** Pollers of the task queues, as Temporal reports them. */
  workers: () => Promise<WorkerInfo>;
  /** Health, readiness and metrics sources; omitted → /readyz and /metrics are not served. */
  ops?: OpsDeps;
  /** Resource pools (omitted: no /pools routes). */
  pools?: PoolCommands;
  /** Batches (omitted: no /batches routes). */
  batches?: { readModel: BatchReadModel; commands: BatchCommands };
  /** Uploaded files and jobs' result files (omitted: no /files routes). */
  files?: FilesDeps;
  /** Workers and throughput over time (omitted: no /workers, /stats/timeseries routes). */
  operations?: OperationsDeps;
  /** Schedules: recurring jobs (omitted: no /schedules routes). */
  schedules?: { readModel: ScheduleReadModel; commands: ScheduleCommands };
  /** Webhook subscriptions and their deliveries (omitted: no /webhooks routes). */
  webhooks?: { readModel: WebhookReadModel; commands: WebhookCommands };
  /** Online rebuild of the read model (omitted: no /admin/read-model routes). */
  readModelRebuild?: ReadModelRebuilder;
}

/** Loads a job the user may see: 404 when absent, 403 when it is someone else's. */
export function loadJob(readModel: JobReadModel, user: ApiUser, jobId: string): JobRow {
  const row = readModel.getJob(jobId);
  if (!row) throw notFound(`Job not found: ${jobId}`);
  if (user.role !== 'admin' && row.owner !== user.id) throw new ApiError(403, 'Access denied to this job');
  return row;
}

export const actorOf = (user: ApiUser) => `user:${user.id}`;
