/**
 * The public contract of a batch workflow (workflow id = batch id): the same signal/update names as
 * a job — pause, resume, cancel, reprioritize — applied to the batch as a whole, and a `status` query.
 * Imported by workflow code and clients: no I/O here.
 */
import { defineQuery } from '@temporalio/workflow';
import { defineControlContract } from './controlContract.js';
import type { RetrySettings } from '../jobs/jobType.js';
import type { BatchStatus } from '../domain/index.js';
// The domain core owns batch statuses and events; re-exported for clients of this contract.
export { BATCH_STATUSES, TERMINAL_BATCH_STATUSES, BatchEvents, isTerminalBatchStatus } from '../domain/index.js';
export type { BatchStatus } from '../domain/index.js';

/** What happens when jobs fail. */
export type FailurePolicy =
  /** Run every job; the batch completes whatever fails. */
  | { mode: 'continue' }
  /** First failure: cancel what is left; the batch fails. */
  | { mode: 'fail_fast' }
  /** More than `maxFailedPercent` % of all jobs failed: as fail_fast. */
  | { mode: 'threshold'; maxFailedPercent: number };

export interface BatchCounts {
  /** Not started yet. */
  pending: number;
  /** Started, not finished (running, paused or pending inside the job). */
  inFlight: number;
  completed: number;
  failed: number;
  /** Cancelled jobs plus jobs never started because the batch was cancelled or failed fast. */
  cancelled: number;
}

export interface BatchState {
  batchId: string;
  name: string;
  owner: string;
  status: BatchStatus;
  priority: number;
  total: number;
  concurrency: number;
  counts: BatchCounts;
  /** Index of the next job to start. */
  nextIndex: number;
  /** Jobs in flight now. */
  running: string[];
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  /** Runs of this workflow so far (continue-as-new). */
  run: number;
}

export interface BatchWorkflowInput {
  batchId: string;
  name: string;
  description: string | null;
  owner: string;
  priority: number;
  total: number;
  /** Most jobs in flight at once (sliding window). */
  concurrency: number;
  failurePolicy: FailurePolicy;
  retry?: Partial<RetrySettings>;
  actor?: string;
  /** How the workflow and its jobs reach the event store (see eventOutbox.ts). */
  storeAccess?: 'local' | 'remote';
  /** Its jobs ask their pools by local activity (JobWorkflowInput.askPoolLocally). */
  askPoolLocally?: boolean;
  /** Continue-as-new after this many jobs have been started in one run (bounded history). */
  jobsPerRun?: number;
  /** Set by continue-as-new. */
  carried?: {
    state: BatchState;
    pausedByBatch: string[];
    prioritySetByBatch?: boolean;
    /** Ids of the controls taken lately (controlSurface): one sent twice (Update and signal) is taken once. */
    controlIds?: string[];
  };
  /** retry-failed: a new run of a finished batch that reruns only these failed jobs. */
  retryFailed?: { inputs: import('./jobContract.js').JobWorkflowInput[]; previous: BatchCounts };
}

export interface BatchControlResult {
  state: BatchState;
  position: number;
}

export const batchStatusQuery = defineQuery<BatchState>('status');
/** The batch's control signals and updates: the same names and payloads as a job's. */
export const batchControl = defineControlContract<BatchControlResult>();
export const {
  pause: batchPauseUpdate,
  resume: batchResumeUpdate,
  cancel: batchCancelUpdate,
  reprioritize: batchReprioritizeUpdate,
} = batchControl.updates;

/** A batch item as stored at submit (validated and planned then), loaded by the workflow in pages. */
export interface PreparedBatchItem {
  name: string;
  type: string;
  input: unknown;
  priority: number;
  plan: import('../jobs/jobType.js').JobPlan;
  /** Set by the API for every item of a batch with dependencies (a DAG batch): ids known up front. */
  jobId?: string;
  dependsOn?: import('../domain/index.js').Dependency[];
  pool?: string;
  weight?: number;
  /** Where the job's end is POSTed (see JobWorkflowInput.callbackUrl). */
  callbackUrl?: string;
}
