import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { EventStore, RecordedEvent } from '../eventstore/index.js';
import { BatchEvents, JOB_STATUSES, JobEvents, isTerminalJobStatus, jobStatusAfter } from '../domain/index.js';
import { settledWithin } from '../commands/pollUntil.js';

type ClosedExecution = { workflowId: string; runId: string; status: { name: string }; closeTime?: Date };

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
}

/** How old a job's last event must be before a job whose workflow Temporal does not have is recorded terminated. */
const MISSING_AFTER_MS = 30_000;

/**
 * A workflow closed from outside (terminated, timed out) cannot write its last event. The reconciler
 * finds such job workflows through visibility — their JobStatus search attribute still names a
 * status that is not final, since the workflow never got to upsert it — and records JobTerminated or
 * JobTimedOut. The event id is derived from the run id, so scanning twice never records twice.
 */
export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<number> | undefined;
  private readonly seen = new Set<string>();
  /** Looks for missing workflows under way (recordMissing), waited for by `stop`. */
  private readonly lookingForMissing = new Set<Promise<number>>();
  /** Jobs too young to be missing when a pick found them gone: looked at again then. */
  private readonly lookAgain = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly options: ReconcilerOptions) {}

  start(): void {
    const tick = () => {
      void this.scanOnce()
        .catch((error) => this.options.log?.(`[reconciler] scan failed: ${(error as Error).message}`))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, this.options.intervalMs ?? 1000);
        });
    };
    this.timer = setTimeout(tick, 0);
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
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.scanning) await settledWithin(this.scanning, boundMs);
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
    try {
      await this.options.client.workflow.getHandle(jobId).describe();
      return 0;
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
    const runId = [...stream].reverse().find((e) => typeof e.metadata.runId === 'string')?.metadata.runId ?? 'no-run';
    const at = new Date().toISOString();
    const reason = 'its workflow is not in Temporal (its execution and history are gone)';
    // Two looks at once: the first one's time stands (same id and type).
    const result = this.options.eventStore.appendToStream(
      jobId,
      [
        {
          eventId: `${jobId}:${runId}:missing`,
          type: JobEvents.terminated,
          data: { jobId, at, closedAt: at, runId, reason },
          metadata: { actor: 'system:reconciler', reason, runId, workflowId: jobId },
        },
      ],
      { duplicates: 'same-type' },
    );
    if (result.appended) {
      this.options.log?.(`[reconciler] recorded JobTerminated for ${jobId}: ${reason}`);
      await this.tellDependents(jobId, 'terminated');
    }
    return result.appended;
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
          notStarted: 0,
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
