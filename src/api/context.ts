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
export function loadJob(readModel: Pick<JobReadModel, 'getJob'>, user: ApiUser, jobId: string): JobRow {
  return visibleJob(user, jobId, readModel.getJob(jobId));
}

const mayAccess = (user: ApiUser, row: JobRow) => user.role === 'admin' || row.owner === user.id;

function visibleJob(user: ApiUser, jobId: string, row: JobRow | undefined): JobRow {
  if (!row) throw notFound(`Job not found: ${jobId}`);
  if (!mayAccess(user, row)) throw new ApiError(403, 'Access denied to this job');
  return row;
}

/**
 * The job a control (pause, resume, cancel, priority, terminate; one by one or in bulk) may steer: as
 * loadJob, and also a job whose submit answered 202 that the read model does not have yet (its row as
 * its JobSubmitted makes it, JobCommands.jobOrAccepted): the control goes to its workflow through
 * Temporal all the same. Only the read model's jobs are shown (loadShownJob).
 */
export function loadSteerableJob(deps: Pick<ApiDeps, 'commands'>, user: ApiUser, jobId: string): JobRow {
  return loadJob({ getJob: (id) => deps.commands.jobOrAccepted(id) }, user, jobId);
}

/**
 * A job to show (GET): the read model's only. For a job of the user's whose submit answered 202 and that
 * the read model does not have yet, the 404 says so.
 */
export function loadShownJob(deps: Pick<ApiDeps, 'readModel' | 'commands'>, user: ApiUser, jobId: string): JobRow {
  const row = deps.readModel.getJob(jobId);
  if (!row) {
    const accepted = deps.commands.jobOrAccepted(jobId); // (the read model does not have it: the kept row, if any)
    if (accepted && mayAccess(user, accepted))
      throw notFound(`Job ${jobId} was accepted (its submit answered 202) but is not recorded yet; try again shortly`);
  }
  return visibleJob(user, jobId, row);
}

export const actorOf = (user: ApiUser) => `user:${user.id}`;
