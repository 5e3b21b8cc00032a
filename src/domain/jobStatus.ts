/** A job's statuses, which are final, and the one mapping from a job event to the status after it. */
import { JobEvents } from './jobEvents.js';

/**
 * The life of a job. Waiting states tell why it is not running yet:
 * - `pending`: submitted, its workflow has not looked at it yet (a moment);
 * - `blocked`: waiting for its dependencies (`depends_on`);
 * - `scheduled`: waiting for its time (`scheduled_at` / `delay_seconds`);
 * - `queued`: waiting for a slot in its resource pool (and so for a worker);
 * - `running`: holds a slot and runs its steps;
 * - `retrying`: an attempt failed; waiting out the backoff (`next_retry_at`), slot given back;
 * - `paused`: held by a pause, from any of the above.
 */
export const JOB_STATUSES = [
  'pending',
  'blocked',
  'scheduled',
  'queued',
  'running',
  'retrying',
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
/** Not started yet (or between attempts): what clients that only know `pending` see as pending. */
export const WAITING_JOB_STATUSES: readonly JobStatus[] = ['pending', 'blocked', 'scheduled', 'queued', 'retrying'];
export const isWaitingJobStatus = (status: string): boolean => (WAITING_JOB_STATUSES as readonly string[]).includes(status);
/** The statuses a paused job can return to on resume (JobResumed.data.to). */
export type ResumeTarget = 'pending' | 'blocked' | 'scheduled' | 'queued' | 'running';

const STATUS_AFTER: Partial<Record<string, JobStatus>> = {
  [JobEvents.submitted]: 'pending',
  [JobEvents.retried]: 'pending',
  [JobEvents.blocked]: 'blocked',
  [JobEvents.scheduled]: 'scheduled',
  [JobEvents.queued]: 'queued',
  [JobEvents.started]: 'running',
  [JobEvents.attemptFailed]: 'retrying',
  [JobEvents.paused]: 'paused',
  [JobEvents.completed]: 'completed',
  [JobEvents.failed]: 'failed',
  [JobEvents.cancelled]: 'cancelled',
  [JobEvents.terminated]: 'terminated',
  [JobEvents.timedOut]: 'timed_out',
};

/** The job events after which a job has ended, however it ended (its run holds no slot any more). */
export const JOB_END_EVENT_TYPES: readonly string[] = Object.entries(STATUS_AFTER)
  .filter(([, status]) => isTerminalJobStatus(status!))
  .map(([type]) => type);

const RESUME_TARGETS: readonly string[] = ['pending', 'blocked', 'scheduled', 'queued', 'running'];

/**
 * The status of a job after `type` (with its data), given the status before. The workflow's live
 * state, the projection and the reconciler all use this one function, so they cannot disagree.
 * Events that change no status (progress, reprioritized, dependency met, signal ignored) keep `before`.
 */
export function jobStatusAfter(type: string, data: { to?: unknown; status?: unknown } | undefined, before: JobStatus): JobStatus {
  if (type === JobEvents.resumed) return RESUME_TARGETS.includes(data?.to as string) ? (data!.to as JobStatus) : 'running';
  if (type === JobEvents.reset)
    return (JOB_STATUSES as readonly unknown[]).includes(data?.status) ? (data!.status as JobStatus) : before;
  return STATUS_AFTER[type] ?? before;
}
