/**
 * The public contract of a job workflow: its signals, updates and query, and the shapes they carry.
 * People type these names into `temporal workflow signal|update|query`, so they are stable.
 * This module is imported by workflow code and by clients alike: it must stay free of I/O.
 */
import { defineQuery } from '@temporalio/workflow';
import { defineControlContract } from './controlContract.js';
import { outboxMetadata } from './eventOutbox.js';
import type { JobPlan } from '../jobs/jobType.js';
import { BatchIdKey, JobNameKey, JobPriorityKey, JobStatusKey, JobTypeKey, OwnerKey } from '../temporal/searchAttributes.js';

// The domain core owns statuses, priority, payloads and error types; re-exported here because this
// module is the job workflow's public contract for clients.
import { DEFAULT_POOL, JobEvents } from '../domain/index.js';
export {
  DEFAULT_MAX_WORKER_LOSSES,
  DEFAULT_PRIORITY,
  INVALID_ARGUMENT,
  INVALID_TRANSITION,
  JOB_STATUSES,
  JobEvents,
  MAX_PRIORITY,
  MIN_PRIORITY,
  TERMINAL_JOB_STATUSES,
  WORKER_LOST,
  isTerminalJobStatus,
  toPriorityKey,
} from '../domain/index.js';
export type { ControlPayload, JobPriority, JobStatus, ReprioritizePayload } from '../domain/index.js';
import type { Dependency, DependencyCondition, JobStatus } from '../domain/index.js';

/** The live state of a job, as the `status` query returns it. */
export interface JobState {
  jobId: string;
  name: string;
  type: string;
  owner: string;
  batchId: string | null;
  status: JobStatus;
  /** The status the job was paused from. */
  pausedFrom: JobStatus | null;
  /** Resource pool whose slot it holds while running, and how many slots it takes. */
  pool: string;
  weight: number;
  /** Its dependencies and where each stands. */
  dependsOn: { jobId: string; condition: DependencyCondition; state: 'waiting' | 'met' | 'impossible' }[];
  /** When it may start (ISO), or null. */
  runAt: string | null;
  priority: number;
  completedSteps: number;
  totalSteps: number;
  /** 0..100, integer. */
  progress: number;
  /** 0-based index of the step running or next to run; null when finished. */
  currentStep: number | null;
  message: string | null;
  /** A step activity is in flight (after a pause it may take up to a heartbeat to stop). */
  stepInFlight: boolean;
  /** 1-based attempt number now running (or last run). */
  attempt: number;
  maxAttempts: number;
  nextRetryAt: string | null;
  /** Attempts lost with their worker (heartbeat timeout); bounded on their own, not by maxAttempts. */
  workerLosses: number;
  error: string | null;
  errorType: string | null;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  pausedAt: string | null;
  /** Time spent running (paused time excluded), ms. */
  activeMs: number;
  estimatedRemainingS: number | null;
  resultFiles: string[];
}

/** Workflow-time facts carried into a new run (continue-as-new or retry). */
export interface CarriedJobState {
  state: JobState;
  checkpoint: unknown;
  stepDurationsMs: number[];
  lastProgressAt: number;
  /** The job held its pool slot when it continued as new. */
  holdsSlot?: boolean;
  /** Jobs waiting for this one to end. */
  dependents?: string[];
  /** Ids of the controls taken lately (controlSurface): one sent twice (Update and signal) is taken once. */
  controlIds?: string[];
}

/**
 * The revision of jobWorkflow's behaviour a run is started with (JobWorkflowInput.revision). A change to
 * what the workflow does (its commands) must replay the histories of runs started before it: older runs
 * ask `patched()`, which records a marker and upserts `TemporalChangeVersion` in every new history —
 * four more history events per job for two patches. Runs started with this revision (or later) take
 * every change up to it without asking. A later change raises it and asks `patched()` only for runs
 * started with an older revision.
 *
 * 1: wait for the pool's wake before asking; keep an early grant; the resume into the line wakes the
 *    pool; run-at in two timers; a finished job's slot is freed by the read model; one JobStatus
 *    upsert per workflow task; a queued job waits 3 s (not 1 s) for its pool's wake before it asks.
 * 2: a job started next to the read model (`askPoolLocally`) asks its pool through the read model's
 *    owner (a local activity that hands the request to PoolWaker) instead of signalling it.
 * 3: a job that holds its slot already (an early grant, a resume before its step let the slot go) goes
 *    from queued to running without yielding in between, so the task upserts JobStatus once (running)
 *    instead of twice (queued, then running).
 * 4: a job resumed while its paused step is still in flight (it holds its slot) is running again at
 *    once (`JobResumed` to `running`), and the step after the stopped one starts without a JobStarted.
 * 5: a step that completes records the job's `JobProgress` for its own end (when one is due) in its
 *    activity, where the process owns the event store: the task that sees the step end appends nothing.
 * 6: fewer promises in workflow code (each costs the SDK a captured stack): a wait for the record that
 *    is over already is one resolved promise (no scope, no condition), the others wait on a promise
 *    the outbox's flusher settles; the run's end waits in one non-cancellable scope instead of three;
 *    a running job goes to its next step without a call to the wait-until-runnable loop. Same
 *    commands, resumed in another order.
 * 7: a pool's grant that arrives while the job's JobQueued is still being flushed (the pool was woken by
 *    its commit before the append's completion reached the job) is kept; before, the job overwrote it,
 *    asked again and waited forever (the pool counted it a holder).
 * 8: a control (signal, Update, Temporal's cancel) is taken after whatever else its workflow task
 *    brought: a step that ended in the same task counts first, so a control meeting the last step's
 *    end finds the job completed (before, Temporal refused the closing task and ran it again with the
 *    control first: a paused job with every step done, and the refused task's JobCompleted left in
 *    the log). The run closes only once every control that came is taken and its event stored.
 * 9: a job next to the read model (`askPoolLocally`) that joins its pool's line waits for its grant
 *    within that workflow task (a local activity, `awaitPoolGrant`, that the pool's pick answers in the
 *    same process) and, granted, records JobStarted and starts its step in the same task: no grant
 *    signal, no second task, no timer. Not granted within 1.5 s: it waits for the signal as before.
 */
export const JOB_WORKFLOW_REVISION = 9;

/** Where a job's workflow runs, as its input says (and a batch's, for the jobs it starts). */
export type JobPlacement = Pick<JobWorkflowInput, 'storeAccess' | 'askPoolLocally'>;

/** The placement fields of a job's (or batch's) input: `askPoolLocally` only when set. */
export const jobPlacement = (storeAccess: JobPlacement['storeAccess'], askPoolLocally?: boolean): JobPlacement => ({
  storeAccess,
  ...(askPoolLocally ? { askPoolLocally: true } : {}),
});

export interface JobWorkflowInput {
  /** The behaviour revision this run was started with (JOB_WORKFLOW_REVISION); absent: before revisions. */
  revision?: number;
  /** Empty: the workflow id (runs started by a Temporal Schedule). */
  jobId: string;
  name: string;
  type: string;
  input: unknown;
  priority: number;
  owner: string;
  batchId?: string | null;
  plan: JobPlan;
  /** Active-time limit (paused time excluded), ms. */
  timeoutMs?: number | null;
  /** Job stays pending until then (ISO); pausing a pending job holds it past that. */
  runAt?: string | null;
  /** Resource pool (default: the type's, else `default`) and slots taken (default 1). */
  pool?: string;
  weight?: number;
  /** Jobs that must reach a state first (`blocked` until then). */
  dependsOn?: Dependency[];
  /** The submitter's own small JSON and labels (in JobSubmitted; the read model filters on tags). */
  metadata?: Record<string, unknown>;
  tags?: string[];
  /** Where the job's end is POSTed by the webhook dispatcher (in JobSubmitted). */
  callbackUrl?: string;
  /** The Temporal Schedule that started this run (its id in the API and `temporal schedule`). */
  scheduleId?: string | null;
  /** Who submitted it (metadata.actor of JobSubmitted). */
  actor?: string;
  /** Caller's correlation id (idempotency key, batch id). */
  correlationId?: string | null;
  /** How the workflow reaches the event store (see eventOutbox.ts); default remote. */
  storeAccess?: 'local' | 'remote';
  /** The workers running this job live in the process that owns the read model (the engine with its
   * own workers): it asks its pool through that process's wake-ups, by a local activity (revision 2).
   * Decided when the job starts, so every replay takes the same path. */
  askPoolLocally?: boolean;
  /** Minimal ms between two JobProgress events (throttle); the last one is never dropped. */
  progressIntervalMs?: number;
  /** Continue-as-new once the history holds this many events. */
  continueAsNewAfterEvents?: number;
  /** Set on a new run that continues an earlier one (continue-as-new). */
  carried?: CarriedJobState;
  /** When the command side accepted the submit (ISO): the job's createdAt and its JobSubmitted's `at`,
   * so the command side can record the very JobSubmitted the workflow records (see jobSubmittedData).
   * Absent for batch items and schedule runs: the workflow's own start time is used. */
  submittedAt?: string;
  /** Set when a failed or cancelled job is retried as a new run of the same id. */
  retryOf?: {
    attempts: number;
    completedSteps: number;
    resultFiles: string[];
    createdAt: string;
    /** Why it is retried (metadata.reason of JobRetried). */
    reason?: string;
  };
}

/** The id of the first event of a job's run: the outbox's (stream, run id, sequence 1). */
export const firstEventId = (jobId: string, runId: string): string => `${jobId}:${runId}:1`;

/**
 * The data of a job's JobSubmitted, a function of its workflow input alone. The workflow records it as
 * its first event; the command side records the same event (same id via firstEventId, same data) as
 * soon as Temporal accepted the start, so the job is readable at once — whichever comes second is a
 * no-op in the store. `createdAt` is input.submittedAt, or the workflow's start time.
 */
export function jobSubmittedData(input: JobWorkflowInput, createdAt: string): Record<string, unknown> {
  return {
    jobId: input.jobId,
    at: createdAt,
    name: input.name,
    type: input.type,
    input: input.input as Record<string, unknown>,
    priority: input.priority,
    owner: input.owner,
    batchId: input.batchId ?? null,
    totalSteps: input.plan.totalSteps,
    maxAttempts: input.plan.retry.maxAttempts,
    timeoutMs: input.timeoutMs ?? null,
    runAt: input.runAt ?? null,
    pool: input.pool ?? input.plan.pool ?? DEFAULT_POOL,
    weight: input.weight ?? input.plan.weight ?? 1,
    dependsOn: (input.dependsOn ?? []).map(({ jobId, condition }) => ({ jobId, condition })),
    scheduleId: input.scheduleId ?? null,
    metadata: input.metadata ?? null,
    tags: input.tags ?? [],
    ...(input.callbackUrl ? { callbackUrl: input.callbackUrl } : {}),
    retry: input.plan.retry as unknown as Record<string, unknown>,
    createdAt,
  };
}

/**
 * The JobSubmitted of a job's first run as its workflow records it (id, data, metadata), for whoever
 * records it ahead of the workflow once Temporal has started the run (`runId`): the API's command side,
 * and a batch for the jobs it starts. Computed from the input as the workflow receives it (after the
 * JSON round trip of its payload), with `submittedAt` set: the workflow's data is then the same.
 */
export function jobSubmittedEvent(input: JobWorkflowInput, runId: string) {
  const wire = JSON.parse(JSON.stringify(input)) as JobWorkflowInput;
  return {
    eventId: firstEventId(wire.jobId, runId),
    type: JobEvents.submitted,
    data: jobSubmittedData(wire, wire.submittedAt!),
    metadata: outboxMetadata(
      { actor: wire.actor ?? 'system' },
      { correlationId: wire.correlationId ?? wire.batchId ?? wire.jobId, workflowId: wire.jobId, runId },
    ),
  };
}

export interface JobResult {
  jobId: string;
  status: JobStatus;
  result: unknown;
  resultFiles: string[];
  error: string | null;
}

/** What an Update returns: the new live state and the log position that records it. */
export interface ControlResult {
  state: JobState;
  /** Global position of the last event appended when the update returned (read-your-writes). */
  position: number;
}

/** The job's control signals and updates (names and payloads shared with batches). */
export const jobControl = defineControlContract<ControlResult>();
export const {
  pause: pauseSignal,
  resume: resumeSignal,
  cancel: cancelSignal,
  reprioritize: reprioritizeSignal,
} = jobControl.signals;
export const {
  pause: pauseUpdate,
  resume: resumeUpdate,
  cancel: cancelUpdate,
  reprioritize: reprioritizeUpdate,
} = jobControl.updates;

export const statusQuery = defineQuery<JobState>('status');

/** The search attributes a job workflow starts with (the workflow upserts status and priority later). */
export function jobSearchAttributes(input: Pick<JobWorkflowInput, 'priority' | 'type' | 'owner' | 'name' | 'batchId'>) {
  return [
    { key: JobStatusKey, value: 'pending' },
    { key: JobPriorityKey, value: input.priority },
    { key: JobTypeKey, value: input.type },
    { key: OwnerKey, value: input.owner },
    { key: JobNameKey, value: input.name },
    ...(input.batchId ? [{ key: BatchIdKey, value: input.batchId }] : []),
  ];
}
