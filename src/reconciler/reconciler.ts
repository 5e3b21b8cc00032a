import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { EventStore, RecordedEvent } from '../eventstore/index.js';
import { BatchEvents, JOB_STATUSES, JobEvents, isTerminalJobStatus, jobStatusAfter } from '../domain/index.js';
import { settledWithin } from '../commands/pollUntil.js';

type ClosedExecution = { workflowId: string; runId: string; status: { name: string }; closeTime?: Date };

/** What the read model shows open, for the sweep for missing workflows. */
interface ShownOpen {
  countOpen(): number;
  openNotUpdatedSince(cutoff: string, limit: number): string[];
}

export interface ReconcilerOptions {
  client: Client;
  eventStore: EventStore;
  /** Only workflows of this task queue (one engine per queue). */
  taskQueue: string;
  /** Scan period, ms. */
  intervalMs?: number;
  log?: (line: string) => void;
  /** Schedules changed outside the API (ScheduleCommands.reconcile), on the same scan. */
  schedules?: { reconcile(): Promise<number> };
  /** How old a job's last event must be before a job Temporal has no execution of is recorded
   * terminated (recordMissing); default 30 s. */
  missingAfterMs?: number;
  /** Told of each job recorded as closed from outside: a closed job cannot tell its dependents itself. */
  onJobClosedOutside?: (jobId: string, status: 'terminated' | 'timed_out') => Promise<void>;
  /**
   * The read model's jobs not in a final status (see sweepMissing; the engine's JobReadModel): how
   * many, and the ids of those whose row last changed before a time. Without it there is no sweep.
   */
  shownOpen?: ShownOpen;
  /**
   * The same for batches (the engine's BatchReadModel), and how many of a batch's items no job was
   * started for: a batch whose workflow Temporal does not have is recorded failed, those items with it.
   */
  batchesShownOpen?: ShownOpen & { notStartedOf(batchId: string): number };
  /** How often the jobs shown open are compared with the executions Temporal runs; default 60 s (the
   * first time 10 s after start). */
  missingSweepMs?: number;
}

/** How old a job's last event must be before a job whose workflow Temporal does not have is recorded terminated. */
const MISSING_AFTER_MS = 30_000;
const MISSING_SWEEP_MS = 60_000;
const FIRST_MISSING_SWEEP_MS = 10_000;
/** The next sweep after one that found the read model showing more open jobs than Temporal runs:
 * those too young to be looked at then are looked at soon after (a lost job may hold a pool's slot). */
const MISSING_SWEEP_AGAIN_MS = 15_000;
/** Jobs looked up per sweep at most (the oldest changes first), and per visibility query. */
const MISSING_SWEEP_JOBS = 1_000;
const IDS_PER_QUERY = 100;

/**
 * A workflow closed from outside (terminated, timed out) cannot write its last event. The reconciler
 * finds such job workflows through visibility — their JobStatus search attribute still names a
 * status that is not final, since the workflow never got to upsert it — and records JobTerminated or
 * JobTimedOut. The event id is derived from the run id, so scanning twice never records twice.
 */
export class Reconciler {
  /** The timers of the repeated scan and sweep (see repeat). */
  private readonly timers = new Set<NodeJS.Timeout>();
  private scanning: Promise<number> | undefined;
  private readonly seen = new Set<string>();
  /** Looks for missing workflows under way (recordMissing), waited for by `stop`. */
  private readonly lookingForMissing = new Set<Promise<number>>();
  /** Jobs too young to be missing when a pick found them gone: looked at again then. */
  private readonly lookAgain = new Map<string, NodeJS.Timeout>();
  private stopped = false;
  private sweeping: Promise<number> | undefined;
  /** The last sweep found the read model showing more open jobs than Temporal runs job executions. */
  private sweepFoundMore = false;

  constructor(private readonly options: ReconcilerOptions) {}

  start(): void {
    this.repeat(
      'scan',
      () => this.scanOnce(),
      0,
      () => this.options.intervalMs ?? 1000,
    );
    if (this.options.shownOpen) {
      const every = this.options.missingSweepMs ?? MISSING_SWEEP_MS;
      this.repeat(
        'sweep for missing workflows',
        () => this.sweepMissing(),
        Math.min(every, FIRST_MISSING_SWEEP_MS),
        () => (this.sweepFoundMore ? Math.min(every, MISSING_SWEEP_AGAIN_MS) : every),
      );
    }
  }

  /** Runs `run` after `firstMs`, then `nextMs()` after each run has ended, until `stop`. */
  private repeat(what: string, run: () => Promise<unknown>, firstMs: number, nextMs: () => number): void {
    const schedule = (ms: number) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void run()
          .catch((error) => this.options.log?.(`[reconciler] ${what} failed: ${(error as Error).message}`))
          .finally(() => {
            if (!this.stopped) schedule(nextMs());
          });
      }, ms);
      this.timers.add(timer);
    };
    schedule(firstMs);
  }

  /**
   * No more scans; resolves once the one under way (if any) has ended, or after `boundMs` (Temporal
   * unreachable: the scan's calls retry for about 15 s, and a stop should not wait that long). Its
   * owner closes the Temporal connection only after this: a call of the scan that a retryable error
   * left waiting for its retry would otherwise retry on the closed channel and throw from a timer.
   */
  async stop(boundMs = 3_000): Promise<void> {
    this.stopped = true;
    for (const timer of this.lookAgain.values()) clearTimeout(timer);
    this.lookAgain.clear();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (this.scanning) await settledWithin(this.scanning, boundMs);
    if (this.sweeping) await settledWithin(this.sweeping, boundMs);
    if (this.lookingForMissing.size > 0) await settledWithin(Promise.allSettled(this.lookingForMissing), boundMs);
  }

  /** One pass; returns the number of events recorded. */
  async scanOnce(): Promise<number> {
    this.scanning ??= this.scan().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  private async scan(): Promise<number> {
    const open = JOB_STATUSES.filter((status) => !isTerminalJobStatus(status))
      .map((status) => `"${status}"`)
      .join(', ');
    const jobs = await this.scanClosed('jobWorkflow', `JobStatus IN (${open})`, (e) => this.recordJobEnd(e));
    const batches = await this.scanClosed('batchWorkflow', 'BatchStatus IN ("queued", "running", "paused")', (e) =>
      this.recordBatchEnd(e),
    );
    const schedules = (await this.options.schedules?.reconcile()) ?? 0;
    return jobs + batches + schedules;
  }

  /** Executions of `workflowType` closed from outside (terminated, timed out) whose record still says
   * they run: `record` writes their last event (idempotent by run id). Each run is looked at once. */
  private async scanClosed(
    workflowType: string,
    stillOpen: string,
    record: (execution: ClosedExecution) => Promise<number>,
  ): Promise<number> {
    const query = `TaskQueue = "${this.options.taskQueue}" AND WorkflowType = "${workflowType}" AND ExecutionStatus IN ("Terminated", "TimedOut") AND ${stillOpen}`;
    let recorded = 0;
    for await (const execution of this.options.client.workflow.list({ query })) {
      const key = `${execution.workflowId}:${execution.runId}`;
      if (this.seen.has(key)) continue;
      recorded += await record(execution);
      this.seen.add(key);
    }
    return recorded;
  }

  private async recordJobEnd(execution: ClosedExecution): Promise<number> {
    const jobId = execution.workflowId;
    const stream = this.options.eventStore.readStream(jobId);
    const last = stream[stream.length - 1];
    // A later run (retry) may have written since; only the run that was closed from outside matters.
    const ranHere = stream.some((e: RecordedEvent) => e.metadata.runId === execution.runId);
    if (!ranHere || !last || isTerminalJobStatus(jobStatusAfter(last.type, last.data, 'running'))) return 0;
    const terminated = execution.status.name === 'TERMINATED';
    // A reset (`temporal workflow reset`, the Web UI's Reset) terminates the run it resets, and the job
    // goes on in the new run, which records JobReset itself: the job has not ended.
    if (terminated && (await this.resetRunOf(jobId, execution.runId))) return 0;
    const reason = terminated ? await this.terminationReason(jobId, execution.runId) : undefined;
    const closedAt = (execution.closeTime ?? new Date()).toISOString();
    const result = this.options.eventStore.appendToStream(jobId, [
      {
        eventId: `${jobId}:${execution.runId}:closed-outside`,
        type: terminated ? JobEvents.terminated : JobEvents.timedOut,
        data: {
          jobId,
          at: closedAt,
          closedAt,
          runId: execution.runId,
          reason: reason ?? (terminated ? 'terminated' : 'workflow execution timed out'),
        },
        metadata: {
          actor: 'system:reconciler',
          reason: reason ?? (terminated ? 'terminated through Temporal' : 'workflow execution timed out'),
          runId: execution.runId,
          workflowId: jobId,
        },
      },
    ]);
    if (result.appended) this.options.log?.(`[reconciler] recorded ${terminated ? 'JobTerminated' : 'JobTimedOut'} for ${jobId}`);
    await this.tellDependents(jobId, terminated ? 'terminated' : 'timed_out');
    return result.appended;
  }

  /** The run that a reset of `runId` made, if that is how it was closed (Temporal keeps it in its record). */
  private async resetRunOf(jobId: string, runId: string): Promise<string | undefined> {
    const description = await this.options.client.workflow.getHandle(jobId, runId).describe();
    return description.raw.workflowExtendedInfo?.resetRunId || undefined;
  }

  /**
   * A job the read model shows waiting or running whose workflow is not in Temporal at all (a pool's
   * grant found it gone, e.g. after Temporal lost its database): nothing will ever record its end, and
   * the scan above only sees executions that Temporal still lists as closed. If Temporal has no
   * execution of it, records JobTerminated (once: the id is the job's last run); a job whose
   * execution is there (closed: the scan records it; running: a grant's race) is left alone.
   * Returns the number of events recorded.
   */
  async recordMissing(jobId: string): Promise<number> {
    if (this.stopped) return 0;
    const looking = this.lookForMissing(jobId).finally(() => this.lookingForMissing.delete(looking));
    this.lookingForMissing.add(looking);
    return looking;
  }

  /** One later look per job (see lookForMissing), dropped by `stop`. */
  private lookAgainLater(jobId: string, ms: number): void {
    if (this.stopped || this.lookAgain.has(jobId)) return;
    const timer = setTimeout(() => {
      this.lookAgain.delete(jobId);
      void this.recordMissing(jobId).catch((error) =>
        this.options.log?.(`[reconciler] could not look for the workflow of ${jobId}: ${(error as Error).message}`),
      );
    }, ms + 100);
    timer.unref();
    this.lookAgain.set(jobId, timer);
  }

  private async lookForMissing(jobId: string): Promise<number> {
    const stream = this.options.eventStore.readStream(jobId);
    const last = stream[stream.length - 1];
    if (!last || isTerminalJobStatus(jobStatusAfter(last.type, last.data, 'running'))) return 0;
    // A job recorded moments ago had its workflow started first (the command side records JobSubmitted
    // only after Temporal accepted the start): one Temporal lost is older. A young one is looked at
    // again once it is old enough (its pool leaves it out of its line meanwhile).
    const age = Date.now() - Date.parse((last.data as { at?: string }).at ?? last.recordedAt);
    const after = this.options.missingAfterMs ?? MISSING_AFTER_MS;
    if (!(age >= after)) {
      this.lookAgainLater(jobId, Number.isFinite(age) ? after - age : after);
      return 0;
    }
    const appended = await this.recordGone(jobId, stream, JobEvents.terminated, (at, runId, reason) => ({
      jobId,
      at,
      closedAt: at,
      runId,
      reason,
    }));
    if (appended) await this.tellDependents(jobId, 'terminated');
    return appended;
  }

  /**
   * If Temporal has no execution of `workflowId` at all, records its end as `type` (data from `data`),
   * under an id derived from the last run the stream names: once, however many looks find it gone at
   * once (the first one's time stands: same id and type). Returns the number of events recorded.
   */
  private async recordGone(
    workflowId: string,
    stream: RecordedEvent[],
    type: string,
    data: (at: string, runId: string, reason: string) => Record<string, unknown>,
  ): Promise<number> {
    try {
      await this.options.client.workflow.getHandle(workflowId).describe();
      return 0;
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
    const runId = String([...stream].reverse().find((e) => typeof e.metadata.runId === 'string')?.metadata.runId ?? 'no-run');
    const at = new Date().toISOString();
    const reason = 'its workflow is not in Temporal (its execution and history are gone)';
    const result = this.options.eventStore.appendToStream(
      workflowId,
      [
        {
          eventId: `${workflowId}:${runId}:missing`,
          type,
          data: data(at, runId, reason),
          metadata: { actor: 'system:reconciler', reason, runId, workflowId },
        },
      ],
      { duplicates: 'same-type' },
    );
    if (result.appended) this.options.log?.(`[reconciler] recorded ${type} for ${workflowId}: ${reason}`);
    return result.appended;
  }

  /**
   * Jobs the read model shows open (waiting, running, paused) whose workflow Temporal does not have at
   * all — its database lost or reset while the engine's files stayed: nothing would ever record their
   * end (a running one is in no pool's line, so no pick finds it gone), and a pool begun afresh would
   * count its slot held for ever. Cheap when there are none: Temporal's count of running job executions
   * against the read model's count of open jobs; only when the read model shows more are the jobs
   * whose row has not changed for `missingAfterMs` looked up (by id in visibility, the oldest first),
   * and each one visibility does not know goes to recordMissing, which asks Temporal itself before it
   * records anything (a sweep that found more open jobs than running executions is followed by another
   * within 15 s: jobs too young then are old enough soon). A job whose execution Temporal lists as
   * closed is the closed-execution scan's. Batches are swept the same way (recordBatchMissing).
   * Returns the number of events recorded.
   */
  async sweepMissing(): Promise<number> {
    if (this.stopped || !this.options.shownOpen) return 0;
    this.sweeping ??= this.sweep().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  /** Jobs, then batches (the same way: a batch Temporal lost would show running for ever). */
  private async sweep(): Promise<number> {
    const { shownOpen, batchesShownOpen } = this.options;
    let foundMore = false;
    let recorded = 0;
    for (const [workflowType, open, record] of [
      ['jobWorkflow', shownOpen, (id: string) => this.recordMissing(id)],
      ['batchWorkflow', batchesShownOpen, (id: string) => this.recordBatchMissing(id)],
    ] as const) {
      if (!open || this.stopped) continue;
      const swept = await this.sweepOf(workflowType, open, record);
      foundMore ||= swept.foundMore;
      recorded += swept.recorded;
    }
    this.sweepFoundMore = foundMore;
    return recorded;
  }

  private async sweepOf(
    workflowType: string,
    shownOpen: ShownOpen,
    record: (id: string) => Promise<number>,
  ): Promise<{ foundMore: boolean; recorded: number }> {
    const ofThisEngine = `TaskQueue = "${this.options.taskQueue}" AND WorkflowType = "${workflowType}"`;
    const { count: running } = await this.options.client.workflow.count(`${ofThisEngine} AND ExecutionStatus = "Running"`);
    if (!(shownOpen.countOpen() > running)) return { foundMore: false, recorded: 0 };
    const cutoff = new Date(Date.now() - (this.options.missingAfterMs ?? MISSING_AFTER_MS)).toISOString();
    const candidates = shownOpen.openNotUpdatedSince(cutoff, MISSING_SWEEP_JOBS);
    // An id a query cannot quote (a user's DAG item id with a quote in it) is asked about directly.
    const quotable = candidates.filter((id) => !/["\\]/.test(id));
    const unknown = candidates.filter((id) => /["\\]/.test(id));
    for (let i = 0; i < quotable.length && !this.stopped; i += IDS_PER_QUERY) {
      const ids = quotable.slice(i, i + IDS_PER_QUERY);
      const known = new Set<string>();
      const query = `WorkflowId IN (${ids.map((id) => `"${id}"`).join(', ')})`;
      for await (const execution of this.options.client.workflow.list({ query })) known.add(execution.workflowId);
      unknown.push(...ids.filter((id) => !known.has(id)));
    }
    let recorded = 0;
    for (const id of unknown) {
      if (this.stopped) break;
      recorded += await record(id);
    }
    return { foundMore: true, recorded };
  }

  /**
   * A batch the read model shows open whose workflow Temporal does not have (deleted, or its database
   * lost): recorded failed (once: the id is its last run's), with the items no job was started for;
   * its jobs are the job sweep's. A batch whose workflow Temporal has is left alone, as is one whose
   * last event is younger than `missingAfterMs` (the next sweep looks again).
   */
  private async recordBatchMissing(batchId: string): Promise<number> {
    const stream = this.options.eventStore.readStream(batchId);
    const last = stream.at(-1);
    if (!last || [BatchEvents.completed, BatchEvents.failed].includes(last.type as never)) return 0;
    const age = Date.now() - Date.parse((last.data as { at?: string }).at ?? last.recordedAt);
    if (!(age >= (this.options.missingAfterMs ?? MISSING_AFTER_MS))) return 0;
    return this.recordGone(batchId, stream, BatchEvents.failed, (at, _runId, reason) => ({
      batchId,
      at,
      reason: `batch workflow lost: ${reason}`,
      notStarted: this.notStartedOf(batchId),
    }));
  }

  /** Items of a batch that will never start now that its workflow is closed (0 without the read model). */
  private notStartedOf(batchId: string): number {
    return this.options.batchesShownOpen?.notStartedOf(batchId) ?? 0;
  }

  /** A job closed from outside cannot tell its dependents itself (a failure to is only logged). */
  private async tellDependents(jobId: string, status: 'terminated' | 'timed_out'): Promise<void> {
    await this.options
      .onJobClosedOutside?.(jobId, status)
      .catch((error) =>
        this.options.log?.(`[reconciler] telling the dependents of ${jobId} failed: ${(error as Error).message}`),
      );
  }

  /** A batch terminated or timed out is recorded as failed. (Its jobs are terminated with it by the
   * parent-close policy, and recorded by the job scan.) */
  private async recordBatchEnd(execution: ClosedExecution): Promise<number> {
    const batchId = execution.workflowId;
    const last = this.options.eventStore.readStream(batchId).at(-1);
    if (!last || [BatchEvents.completed, BatchEvents.failed].includes(last.type as never)) return 0;
    const terminated = execution.status.name === 'TERMINATED';
    const reason =
      (terminated ? await this.terminationReason(batchId, execution.runId) : undefined) ??
      (terminated ? 'terminated' : 'timed out');
    const closedAt = (execution.closeTime ?? new Date()).toISOString();
    const result = this.options.eventStore.appendToStream(batchId, [
      {
        eventId: `${batchId}:${execution.runId}:closed-outside`,
        type: BatchEvents.failed,
        data: {
          batchId,
          at: closedAt,
          reason: `batch workflow ${terminated ? 'terminated' : 'timed out'}: ${reason}`,
          notStarted: this.notStartedOf(batchId),
        },
        metadata: { actor: 'system:reconciler', reason, runId: execution.runId, workflowId: batchId },
      },
    ]);
    return result.appended;
  }

  private async terminationReason(workflowId: string, runId: string): Promise<string | undefined> {
    try {
      const history = await this.options.client.workflow.getHandle(workflowId, runId).fetchHistory();
      const last = history.events?.[history.events.length - 1];
      return last?.workflowExecutionTerminatedEventAttributes?.reason ?? undefined;
    } catch {
      return undefined;
    }
  }
}
