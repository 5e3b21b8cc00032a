import { DEFAULT_POOL, JOB_END_EVENT_TYPES, JobEvents } from '../domain/index.js';
import type { RecordedEvent } from '../eventstore/index.js';
import type { PoolWaker } from './poolWaker.js';

/** The events after which a job holds no slot any more: its run has ended. */
const ENDING_EVENTS: ReadonlySet<string> = new Set(JOB_END_EVENT_TYPES);

/**
 * Wakes the pool of every job that the read model has just put into its pool's line: a `JobSubmitted`
 * recorded ahead of the job's workflow with nothing to wait for first, a `JobQueued` (not the first
 * one of such a job: see below), a `JobResumed` back into the line (unless the job still holds its
 * slot: resumed before its paused step let it go). A job could ask its pool itself, but that request
 * is a signal from one workflow to another: Temporal delivers it through history's transfer queue and,
 * when the pool's workflow was busy a moment before, only after a back-off (~500 ms seen in the
 * histories; every job of a pool signals the same pool workflow), and a request that crosses the
 * pool's grant to the same job waits for a lock timeout (500 ms). This wake is a client signal, sent
 * by the process that owns the read model as soon as the job is in the line the pool reads, at most
 * one per pool on its way (PoolWaker). Only a wake-up: the job still asks itself if no grant came
 * within jobWorkflow's POOL_WAKE_WAIT_MS (3 s), so a lost wake costs time, never a job.
 */
export function wakePoolsOfQueuedJobs(
  events: readonly RecordedEvent[],
  waker: Pick<PoolWaker, 'wake'>,
  wokenAtSubmit: WokenAtSubmit = new WokenAtSubmit(),
): void {
  for (const event of events) {
    if (ENDING_EVENTS.has(event.type)) wokenAtSubmit.take(event.streamId);
    const straightIntoLine = event.type === JobEvents.submitted && submittedStraightIntoLine(event.data);
    const intoLine =
      straightIntoLine ||
      event.type === JobEvents.queued ||
      (event.type === JobEvents.resumed && event.data?.to === 'queued' && event.data?.holdingSlot !== true);
    if (!intoLine) continue;
    // A job in line from its JobSubmitted joins it again with its first JobQueued: its pool has been
    // woken for it already and reads its line in order from then on (a grant, or a place in line that
    // a freed slot reaches), so a second wake would only make the pool read its line once more for
    // nothing — a workflow task and a pick per job. Later JobQueued (a retry, a resume) wake it.
    if (event.type === JobEvents.queued && wokenAtSubmit.take(event.streamId)) continue;
    if (straightIntoLine) wokenAtSubmit.add(event.streamId);
    const pool = typeof event.data?.pool === 'string' ? event.data.pool : DEFAULT_POOL;
    waker.wake(pool, event.streamId, event.globalPosition);
  }
}

/**
 * The jobs whose pool was woken at their JobSubmitted and whose first JobQueued has not come yet (in
 * this process: after a restart the JobQueued wakes, as before). Bounded: past `limit` the oldest go,
 * and theirs then wake the pool as any JobQueued does.
 */
export class WokenAtSubmit {
  private readonly jobs = new Set<string>();
  constructor(private readonly limit = 100_000) {}
  add(jobId: string): void {
    this.jobs.add(jobId);
    if (this.jobs.size > this.limit) this.jobs.delete(this.jobs.values().next().value!);
  }
  /** Whether the job was there (it is not any more). */
  take(jobId: string): boolean {
    return this.jobs.delete(jobId);
  }
  get size(): number {
    return this.jobs.size;
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
  const wokenAtSubmit = new WokenAtSubmit();
  projector.on('applied', (events) => {
    wakePoolsOfQueuedJobs(events, waker, wokenAtSubmit);
    wakePoolsOfEndedJobs(events, waker, poolOf);
  });
}
