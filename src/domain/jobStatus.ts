/** A job's statuses, which are final, and the one mapping from a job event to the status after it. */
import { JobEvents } from './jobEvents.js';

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

const STATUS_AFTER: Partial<Record<string, JobStatus>> = {
  [JobEvents.submitted]: 'pending',
  [JobEvents.retried]: 'pending',
  [JobEvents.started]: 'running',
  [JobEvents.paused]: 'paused',
  [JobEvents.completed]: 'completed',
  [JobEvents.failed]: 'failed',
  [JobEvents.cancelled]: 'cancelled',
  [JobEvents.terminated]: 'terminated',
  [JobEvents.timedOut]: 'timed_out',
};

/**
 * The status of a job after `type` (with its data), given the status before. The workflow's live
 * state, the projection and the reconciler all use this one function, so they cannot disagree.
 * Events that change no status (progress, reprioritized, attempt failed, signal ignored) keep `before`.
 */
export function jobStatusAfter(type: string, data: { to?: unknown } | undefined, before: JobStatus): JobStatus {
  if (type === JobEvents.resumed) return data?.to === 'pending' ? 'pending' : 'running';
  return STATUS_AFTER[type] ?? before;
}
