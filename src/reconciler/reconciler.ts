import type { Client } from '@temporalio/client';
import type { EventStore, RecordedEvent } from '../eventstore/index.js';
import { JobEvents, isTerminalJobStatus, jobStatusAfter } from '../domain/index.js';

export interface ReconcilerOptions {
  client: Client;
  eventStore: EventStore;
  /** Only workflows of this task queue (one engine per queue). */
  taskQueue: string;
  /** Scan period, ms. */
  intervalMs?: number;
  log?: (line: string) => void;
}

/**
 * A workflow closed from outside (terminated, timed out) cannot write its last event. The reconciler
 * finds such job workflows through visibility — their JobStatus search attribute still says pending,
 * running or paused, since the workflow never got to upsert it — and records JobTerminated or
 * JobTimedOut. The event id is derived from the run id, so scanning twice never records twice.
 */
export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<number> | undefined;
  private readonly seen = new Set<string>();

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

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One pass; returns the number of events recorded. */
  async scanOnce(): Promise<number> {
    this.scanning ??= this.scan().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  private async scan(): Promise<number> {
    const { client, eventStore, taskQueue } = this.options;
    const query =
      `TaskQueue = "${taskQueue}" AND WorkflowType = "jobWorkflow" AND ` +
      `ExecutionStatus IN ("Terminated", "TimedOut") AND JobStatus IN ("pending", "running", "paused")`;
    let recorded = 0;
    for await (const execution of client.workflow.list({ query })) {
      const key = `${execution.workflowId}:${execution.runId}`;
      if (this.seen.has(key)) continue;
      const jobId = execution.workflowId;
      const stream = eventStore.readStream(jobId);
      const last = stream[stream.length - 1];
      // A later run (retry) may have written since; only the run that was closed from outside matters.
      const closedRunStillOpen = stream.some((e: RecordedEvent) => e.metadata.runId === execution.runId) && last && !isTerminalJobStatus(jobStatusAfter(last.type, last.data, 'running'));
      if (closedRunStillOpen) {
        const terminated = execution.status.name === 'TERMINATED';
        let reason: string | undefined;
        if (terminated) reason = await this.terminationReason(jobId, execution.runId);
        const result = eventStore.appendToStream(jobId, [
          {
            eventId: `${jobId}:${execution.runId}:closed-outside`,
            type: terminated ? JobEvents.terminated : JobEvents.timedOut,
            data: {
              jobId,
              at: (execution.closeTime ?? new Date()).toISOString(),
              closedAt: (execution.closeTime ?? new Date()).toISOString(),
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
        recorded += result.appended;
        if (result.appended) this.options.log?.(`[reconciler] recorded ${terminated ? 'JobTerminated' : 'JobTimedOut'} for ${jobId}`);
      }
      this.seen.add(key);
    }
    return recorded + (await this.scanBatches());
  }

  /** The same for batch workflows: a batch terminated or timed out is recorded as failed. (Its jobs
   * are terminated with it by the parent-close policy, and recorded by the job scan.) */
  private async scanBatches(): Promise<number> {
    const { client, eventStore, taskQueue } = this.options;
    const query =
      `TaskQueue = "${taskQueue}" AND WorkflowType = "batchWorkflow" AND ` +
      `ExecutionStatus IN ("Terminated", "TimedOut") AND BatchStatus IN ("queued", "running", "paused")`;
    let recorded = 0;
    for await (const execution of client.workflow.list({ query })) {
      const key = `${execution.workflowId}:${execution.runId}`;
      if (this.seen.has(key)) continue;
      const batchId = execution.workflowId;
      const last = eventStore.readStream(batchId).at(-1);
      if (last && !['BatchCompleted', 'BatchFailed'].includes(last.type)) {
        const terminated = execution.status.name === 'TERMINATED';
        const reason = (terminated ? await this.terminationReason(batchId, execution.runId) : undefined) ?? (terminated ? 'terminated' : 'timed out');
        const closedAt = (execution.closeTime ?? new Date()).toISOString();
        const result = eventStore.appendToStream(batchId, [
          {
            eventId: `${batchId}:${execution.runId}:closed-outside`,
            type: 'BatchFailed',
            data: { batchId, at: closedAt, reason: `batch workflow ${terminated ? 'terminated' : 'timed out'}: ${reason}`, notStarted: 0 },
            metadata: { actor: 'system:reconciler', reason, runId: execution.runId, workflowId: batchId },
          },
        ]);
        recorded += result.appended;
      }
      this.seen.add(key);
    }
    return recorded;
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

/** The job status an event leaves behind, for the event types that end a job. */
