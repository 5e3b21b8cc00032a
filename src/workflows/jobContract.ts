/**
 * The public contract of a job workflow: its signals, updates and query, and the shapes they carry.
 * People type these names into `temporal workflow signal|update|query`, so they are stable.
 * This module is imported by workflow code and by clients alike: it must stay free of I/O.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { JobPlan } from '../jobs/jobType.js';
import { BatchIdKey, JobNameKey, JobPriorityKey, JobStatusKey, JobTypeKey, OwnerKey } from '../temporal/searchAttributes.js';

export const JOB_STATUSES = [
  'pending',
  'running',
  'paused',
  'completed',
  'failed',
  'cancelled',
  'terminated',
  'timed_out',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled', 'terminated', 'timed_out'];
export const isTerminalJobStatus = (status: string): boolean => (TERMINAL_JOB_STATUSES as readonly string[]).includes(status);

/** 1 low, 2 normal (default), 3 high, 4 urgent. */
export type JobPriority = 1 | 2 | 3 | 4;
export const MIN_PRIORITY = 1;
export const MAX_PRIORITY = 4;
export const DEFAULT_PRIORITY: JobPriority = 2;

/** Temporal task-queue priority keys run 1 (first) … 5 (last); ours run the other way round. */
export const toPriorityKey = (priority: number): number => 5 - priority;

/** Payload of pause, resume and cancel. Everything is optional, so `--input '{}'` or no input works. */
export interface ControlPayload {
  /** Why; kept in the event's metadata. */
  reason?: string;
  /** Who; the API sets `user:<id>`. Signals without it are recorded as `external` (CLI, Web UI). */
  actor?: string;
  /**
   * cancel only, set by the API and by batches: a Temporal cancel request of this execution follows,
   * so the workflow waits for it (up to 30 s) and closes as Canceled in the Web UI and
   * `temporal workflow list`. A workflow cannot request its own cancellation, so a plain `cancel`
   * signal closes the execution as Completed; its `JobStatus` search attribute says `cancelled`.
   */
  closeAsCanceled?: boolean;
}

/** Payload of reprioritize: `{"priority": 4}` (a bare number is accepted too). */
export interface ReprioritizePayload extends ControlPayload {
  priority: number;
}

/** The live state of a job, as the `status` query returns it. */
export interface JobState {
  jobId: string;
  name: string;
  type: string;
  owner: string;
  batchId: string | null;
  status: JobStatus;
  /** The status a paused job returns to on resume. */
  pausedFrom: 'pending' | 'running' | null;
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
}

export interface JobWorkflowInput {
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
  /** Who submitted it (metadata.actor of JobSubmitted). */
  actor?: string;
  /** Caller's correlation id (idempotency key, batch id). */
  correlationId?: string | null;
  /** How the workflow reaches the event store (see eventOutbox.ts); default remote. */
  storeAccess?: 'local' | 'remote';
  /** Minimal ms between two JobProgress events (throttle); the last one is never dropped. */
  progressIntervalMs?: number;
  /** Continue-as-new once the history holds this many events. */
  continueAsNewAfterEvents?: number;
  /** Set on a new run that continues an earlier one (continue-as-new). */
  carried?: CarriedJobState;
  /** Set when a failed or cancelled job is retried as a new run of the same id. */
  retryOf?: {
    attempts: number;
    completedSteps: number;
    resultFiles: string[];
    createdAt: string;
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

export const pauseSignal = defineSignal<[ControlPayload?]>('pause');
export const resumeSignal = defineSignal<[ControlPayload?]>('resume');
export const cancelSignal = defineSignal<[ControlPayload?]>('cancel');
export const reprioritizeSignal = defineSignal<[ReprioritizePayload | number]>('reprioritize');

export const pauseUpdate = defineUpdate<ControlResult, [ControlPayload]>('pause');
export const resumeUpdate = defineUpdate<ControlResult, [ControlPayload]>('resume');
export const cancelUpdate = defineUpdate<ControlResult, [ControlPayload]>('cancel');
export const reprioritizeUpdate = defineUpdate<ControlResult, [ReprioritizePayload | number]>('reprioritize');

export const statusQuery = defineQuery<JobState>('status');

/** errorType of a JobAttemptFailed whose step was lost with its worker (it stopped heartbeating). */
export const WORKER_LOST = 'WorkerLost';
/** A job fails once this many of its step runs were lost with their workers (a step that kills its worker). */
export const DEFAULT_MAX_WORKER_LOSSES = 20;

/** ApplicationFailure types the validators throw; the API maps them to 409 and 400. */
export const INVALID_TRANSITION = 'InvalidTransition';
export const INVALID_ARGUMENT = 'InvalidArgument';

/** Event types of a job stream. */
export const JobEvents = {
  submitted: 'JobSubmitted',
  retried: 'JobRetried',
  started: 'JobStarted',
  progress: 'JobProgress',
  paused: 'JobPaused',
  resumed: 'JobResumed',
  reprioritized: 'JobReprioritized',
  attemptFailed: 'JobAttemptFailed',
  completed: 'JobCompleted',
  failed: 'JobFailed',
  cancelled: 'JobCancelled',
  terminated: 'JobTerminated',
  timedOut: 'JobTimedOut',
  signalIgnored: 'JobSignalIgnored',
  deleted: 'JobDeleted',
} as const;

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
