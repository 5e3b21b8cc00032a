import { DEFAULT_POOL, JOB_END_EVENT_TYPES, JobEvents } from '../domain/index.js';
import type { RecordedEvent } from '../eventstore/index.js';
import type { PoolWaker } from './poolWaker.js';

/**
 * Wakes the pool of every job whose `JobQueued` (or `JobResumed` back into the line) the read model
 * has just applied. A job could ask its pool itself, but that request is a signal from one workflow
 * to another: Temporal delivers it through history's transfer queue and, when the pool's workflow was
 * busy a moment before, only after a back-off (~500 ms seen in the histories; every job of a pool
 * signals the same pool workflow), and a request that crosses the pool's grant to the same job waits
 * for a lock timeout (500 ms). This wake is a client signal, sent by the process that owns the read
 * model as soon as the job is in the line the pool reads, at most one per pool on its way
 * (PoolWaker). Only a wake-up: the job still asks itself if no grant came within a second
 * (jobWorkflow's POOL_WAKE_WAIT_MS), so a lost wake costs time, never a job.
 */
export function wakePoolsOfQueuedJobs(events: readonly RecordedEvent[], waker: Pick<PoolWaker, 'wake'>): void {
  for (const event of events) {
    const intoLine =
      event.type === JobEvents.queued ||
      (event.type === JobEvents.resumed && event.data?.to === 'queued') ||
      (event.type === JobEvents.submitted && submittedStraightIntoLine(event.data));
    if (!intoLine) continue;
    const pool = typeof event.data?.pool === 'string' ? event.data.pool : DEFAULT_POOL;
    waker.wake(pool, event.streamId, event.globalPosition);
  }
}

/**
 * A JobSubmitted recorded ahead of the job's workflow (by the API, or a batch) with nothing to wait for
 * first: the job is in its pool's line from this event on (the pool may grant it early).
 */
function submittedStraightIntoLine(data: Record<string, unknown> | undefined): boolean {
  const dependsOn = data?.dependsOn;
  return !data?.runAt && (!Array.isArray(dependsOn) || dependsOn.length === 0);
}

/** The events after which a job holds no slot any more: its run has ended. */
const ENDING_EVENTS: ReadonlySet<string> = new Set(JOB_END_EVENT_TYPES);

/**
 * Wakes the pool of every job whose end the read model has just applied, to give its slot to the
 * next in line. A finished job does not signal its release (it would be one more workflow task per
 * job and one more signal into the pool's workflow, whose lock every job of the pool contends for):
 * the pool, woken with `holdersEnded`, asks the read model which of its holders have ended. The pool
 * also looks now and then while full, so a lost wake costs time, never a slot. `poolOf` gives a
 * job's pool from the read model (null: no such row; the end event does not carry it).
 */
export function wakePoolsOfEndedJobs(
  events: readonly RecordedEvent[],
  waker: Pick<PoolWaker, 'wake'>,
  poolOf: (jobId: string) => string | null | undefined,
): void {
  for (const event of events) {
    if (!ENDING_EVENTS.has(event.type)) continue;
    const pool = poolOf(event.streamId);
    if (pool) waker.wake(pool, event.streamId, event.globalPosition, { holdersEnded: true });
  }
}

/**
 * Wires both wake-ups to the projector of the process that owns the read model: a job just queued
 * (after its time, its dependencies, a resume or a retry) and a job just ended.
 */
export function wakePoolsOnApply(
  projector: { on(event: 'applied', listener: (events: RecordedEvent[]) => void): unknown },
  waker: Pick<PoolWaker, 'wake'>,
  poolOf: (jobId: string) => string | null | undefined,
): void {
  projector.on('applied', (events) => {
    wakePoolsOfQueuedJobs(events, waker);
    wakePoolsOfEndedJobs(events, waker, poolOf);
  });
}
