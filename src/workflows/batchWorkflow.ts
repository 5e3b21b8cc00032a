/**
 * batchWorkflow: a batch of jobs as one lasting object — a thin Temporal shell over the domain core
 * (src/domain: batch statuses, events and control rules). Each job runs as its own jobWorkflow (a
 * child, so it keeps every job control), at most `concurrency` at once (sliding window). The batch can
 * be paused, resumed, reprioritized and cancelled as a unit; it forwards each change to its unfinished
 * jobs and applies it to jobs not started yet. History stays bounded: after `jobsPerRun` starts the
 * window drains and the workflow continues as new, carrying its counts.
 */
import {
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  ParentClosePolicy,
  TerminatedFailure,
  TimeoutFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowIdReusePolicy, type SignalDefinition } from '@temporalio/common';
import type { AppendEventsRequest, EventStoreActivities } from '../activities/eventStoreActivities.js';
import type { BatchActivities } from '../activities/batchActivities.js';
import type { JobControlName, JobSignalActivities, JobSignalRequest } from '../activities/jobSignalActivities.js';
import { BatchStatusKey } from '../temporal/searchAttributes.js';
import {
  BatchEvents,
  isTerminalBatchStatus,
  refuseBatchControl,
  toPriorityKey,
  type Actor,
  type ControlAction,
} from '../domain/index.js';
import { installControlSurface, settleBeforeClose, type ControlSurface } from './controlSurface.js';
import { createEventOutbox, storeActivities, type EventOutbox } from './eventOutbox.js';
import {
  batchControl,
  batchStatusQuery,
  type BatchControlResult,
  type BatchState,
  type BatchStatus,
  type BatchWorkflowInput,
  type PreparedBatchItem,
} from './batchContract.js';
import {
  JOB_WORKFLOW_REVISION,
  jobControl,
  jobPlacement,
  jobSearchAttributes,
  jobSubmittedEvent,
  jobWorkflow,
  type JobWorkflowInput,
} from './jobWorkflow.js';

export * from './batchContract.js';

const PAGE = 200;
/** Controls to jobs per activity of the batch (a fan-out to a whole window is one or two). */
const CONTROLS_PER_SEND = 500;
const CONTROLS_RETRY_MS = 5_000;
const DEFAULT_JOBS_PER_RUN = 1000;

interface Child {
  jobId: string;
  started: boolean;
  priority: number;
  pausedByBatch: boolean;
  cancelSent: boolean;
}

export interface BatchResult {
  batchId: string;
  status: BatchStatus;
  counts: BatchState['counts'];
}

export async function batchWorkflow(input: BatchWorkflowInput): Promise<BatchResult> {
  return new BatchRun(input).run();
}

function initialBatchState(input: BatchWorkflowInput, createdAt: string): BatchState {
  return {
    batchId: input.batchId,
    name: input.name,
    owner: input.owner,
    status: 'queued',
    priority: input.priority,
    total: input.total,
    concurrency: input.concurrency,
    counts: input.retryFailed
      ? { ...input.retryFailed.previous, inFlight: 0, pending: 0 }
      : { pending: input.total, inFlight: 0, completed: 0, failed: 0, cancelled: 0 },
    nextIndex: 0,
    running: [],
    createdAt,
    startedAt: null,
    completedAt: null,
    run: 1,
  };
}

/** One run of a batch workflow: its window of jobs, its controls and its end (or continue-as-new). */
class BatchRun {
  private readonly info = workflowInfo();
  private readonly batchId: string;
  private readonly store: EventStoreActivities & BatchActivities;
  private readonly outbox: EventOutbox;
  private readonly state: BatchState;
  private readonly children = new Map<string, Child>();
  private readonly finished: { jobId: string; status: string }[] = [];
  private cancelRequested: Actor | undefined;
  private failedByPolicy: string | undefined;
  private startedThisRun = 0;
  /** The batch was reprioritized: its priority now overrides each job's own. */
  private prioritySetByBatch: boolean;
  /** The control surface (its ids of controls taken go into a new run). */
  private controls: ControlSurface | undefined;
  /** Pages of claim-checked items, loaded once each even when many starts ask at once. */
  private readonly pages = new Map<number, Promise<PreparedBatchItem[]>>();
  private readonly jobsPerRun: number;
  /** Jobs of this run: the batch's items, or the failed jobs being retried. */
  private readonly total: number;
  /** A start that cannot even prepare its job (its stored item is missing) fails the batch. */
  private startFailure: unknown;
  /**
   * Each job this run starts gets its JobSubmitted recorded by the batch as soon as Temporal started
   * it, as the API does for a submit: the job is readable, in its pool's line and its pool woken before
   * its workflow first runs, so the pool's grant is usually waiting then (one workflow task and a timer
   * fewer per job). Runs begun before this leave it to the job (replay).
   */
  private readonly recordsJobsSubmitted: boolean;
  private readonly submittedToRecord: AppendEventsRequest[] = [];
  private recordingSubmitted = false;
  /**
   * The batch's controls reach its jobs from the engine's process (jobSignalActivities.ts: one
   * activity per fan-out, in order), not as a SignalExternal command per job, whose transfer tasks
   * queue on the batch's own busy history (a resume of 101 jobs under load arrived over 40 s). Runs
   * begun before this send them as commands (replay).
   */
  private readonly controlsFromProcess: boolean;
  private readonly controlsAfterTaskNews: boolean;
  private readonly jobSignals: JobSignalActivities;
  private readonly controlsToSend: JobSignalRequest[] = [];
  private sendingControls = false;
  /** Numbers this run's controls to jobs: with the batch id and the run, each one's request id. */
  private controlsSent = 0;

  constructor(private readonly input: BatchWorkflowInput) {
    this.batchId = input.batchId;
    this.store = storeActivities<EventStoreActivities & BatchActivities>(input.storeAccess);
    this.outbox = createEventOutbox({
      streamId: input.batchId,
      correlationId: input.batchId,
      appendEvents: this.store.appendEvents,
    });
    this.state = input.carried?.state ?? initialBatchState(input, new Date().toISOString());
    if (input.carried) this.state.run += 1;
    this.prioritySetByBatch = input.carried?.prioritySetByBatch ?? false;
    this.jobsPerRun = input.jobsPerRun ?? DEFAULT_JOBS_PER_RUN;
    this.total = input.retryFailed ? input.retryFailed.inputs.length : input.total;
    this.recordsJobsSubmitted = patched('batch-records-jobs-submitted');
    this.controlsFromProcess = patched('batch-controls-from-process');
    // A control is taken after the rest of its task (see controlSurface's takeAfterTaskNews): a batch
    // paused or cancelled as its last job ended records what Temporal's refused closing task did.
    this.controlsAfterTaskNews = patched('controls-after-task-news');
    // Without end: a control must reach its jobs (a repeated send is taken once, by its request id).
    const retry = { initialInterval: '1s', maximumInterval: '10s' } as const;
    // Next to the read model (the single-process default) a local activity: an activity task queues
    // on the server like the commands it replaces (seen: 2–35 s before a loaded dev server handed one
    // out); else the scheduler's queue, served by the process that has the client.
    this.jobSignals =
      input.askPoolLocally === true
        ? proxyLocalActivities<JobSignalActivities>({ startToCloseTimeout: '2m', retry })
        : proxyActivities<JobSignalActivities>({
            taskQueue: `${this.info.taskQueue}-scheduler`,
            startToCloseTimeout: '2m',
            retry,
            // Controls go first, whatever the batch's priority (as the store's appends).
            priority: { priorityKey: 1 },
          });
  }

  async run(): Promise<BatchResult> {
    this.recordFirstEvents();
    this.installHandlers();
    // `temporal workflow cancel` on the batch is its cancel: the window runs out of the reach of
    // Temporal's cancellation, so it can cancel its jobs, wait for them and record the end itself.
    CancellationScope.current().cancelRequested.catch(() =>
      this.controls!.later(() => {
        if (!this.finishing()) this.cancel({ actor: 'external', reason: 'cancellation requested through Temporal' });
      }),
    );
    await CancellationScope.nonCancellable(() => this.runWindow());
    this.recordEnd();
    if (this.controlsAfterTaskNews) await this.settleBeforeClose();
    else {
      await this.outbox.flushed();
      await condition(() => allHandlersFinished() && !this.sendingControls && this.controlsToSend.length === 0);
    }
    return { batchId: this.batchId, status: this.state.status, counts: this.state.counts };
  }

  private setStatus(status: BatchStatus): void {
    this.state.status = status;
    upsertSearchAttributes([{ key: BatchStatusKey, value: status }]);
  }

  private recordFirstEvents(): void {
    const { input, state, batchId } = this;
    if (input.retryFailed) {
      this.outbox.record(BatchEvents.retryStarted, { batchId, jobs: this.total }, { actor: input.actor ?? 'system' });
    } else if (!input.carried) {
      const { name, description, owner, priority, total, concurrency, failurePolicy } = input;
      const data = { batchId, name, description, owner, priority, total, concurrency, failurePolicy, createdAt: state.createdAt };
      this.outbox.record(BatchEvents.created, data, { actor: input.actor ?? 'system' });
    }
    if (input.carried) return;
    this.setStatus('running');
    state.startedAt = new Date().toISOString();
    this.outbox.record(BatchEvents.started, { batchId, startedAt: state.startedAt }, { actor: 'system' });
  }

  // ---- controls (rules: domain refuseBatchControl) ---------------------------------------------------

  private finishing(): boolean {
    return isTerminalBatchStatus(this.state.status) || this.cancelRequested !== undefined || this.failedByPolicy !== undefined;
  }

  private installHandlers(): void {
    setHandler(batchStatusQuery, () => this.snapshot());
    this.controls = installControlSurface<BatchControlResult>(
      batchControl,
      {
        refuse: (action: ControlAction, priority?: unknown) =>
          refuseBatchControl(
            action,
            {
              status: this.state.status,
              priority: this.state.priority,
              finishing: this.finishing(),
              cancelRequested: this.cancelRequested !== undefined,
            },
            priority,
          ),
        pause: (who) => this.pause(who),
        resume: (who) => this.resume(who),
        cancel: (who) => this.cancel(who),
        reprioritize: (priority, who) => this.reprioritize(priority, who),
        ignored: (signal, why, who) => {
          this.outbox.record(BatchEvents.signalIgnored, { batchId: this.batchId, signal, why, status: this.state.status }, who);
        },
        answer: async (seq) => {
          await this.outbox.flushed(seq);
          return { state: this.snapshot(), position: this.outbox.lastPosition() };
        },
      },
      {
        carriedIds: this.input.carried?.controlIds,
        takeAfterTaskNews: this.controlsAfterTaskNews,
        // A job's end reaches the window through `finished` and a condition: controls come after it.
        readyToTake: () => this.finished.length === 0,
      },
    );
  }

  private pause(who: Actor): number {
    this.setStatus('paused');
    const seq = this.outbox.record(BatchEvents.paused, { batchId: this.batchId, inFlight: this.children.size }, who);
    this.syncChildren(who);
    return seq;
  }

  private resume(who: Actor): number {
    this.setStatus('running');
    const seq = this.outbox.record(BatchEvents.resumed, { batchId: this.batchId }, who);
    this.syncChildren(who);
    return seq;
  }

  private cancel(who: Actor): number {
    // Kept for the batch's last event: who asked, not the Update that asked (its id names one event).
    this.cancelRequested = { actor: who.actor, ...(who.reason !== undefined ? { reason: who.reason } : {}) };
    const data = { batchId: this.batchId, inFlight: this.children.size, notStarted: this.remaining() };
    const seq = this.outbox.record(BatchEvents.cancelRequested, data, who);
    this.syncChildren(who);
    return seq;
  }

  private reprioritize(priority: number, who: Actor): number {
    const from = this.state.priority;
    this.state.priority = priority;
    this.prioritySetByBatch = true;
    const seq = this.outbox.record(BatchEvents.reprioritized, { batchId: this.batchId, from, to: priority }, who);
    this.syncChildren(who);
    return seq;
  }

  // ---- the window ----------------------------------------------------------------------------------------

  private remaining(): number {
    return Math.max(0, this.total - this.state.nextIndex);
  }

  private canStart(): boolean {
    const { state } = this;
    return (
      state.status === 'running' &&
      !this.finishing() &&
      this.children.size < state.concurrency &&
      state.nextIndex < this.total &&
      this.startedThisRun < this.jobsPerRun
    );
  }

  private async runWindow(): Promise<void> {
    const { state, children } = this;
    const drained = () =>
      children.size === 0 && (this.finishing() || state.nextIndex >= this.total || this.startedThisRun >= this.jobsPerRun);
    for (;;) {
      await condition(() => this.startFailure !== undefined || this.finished.length > 0 || this.canStart() || drained());
      if (this.startFailure !== undefined) throw this.startFailure;
      while (this.finished.length > 0) this.onFinished(this.finished.shift()!);
      if (children.size === 0 && (this.finishing() || state.nextIndex >= this.total)) return;
      if (children.size === 0 && this.startedThisRun >= this.jobsPerRun && state.status === 'running')
        await this.continueAsNewRun();
      // Not awaited: a start completes only when the server reports the child started (another
      // workflow task), and waiting for it here would hold back finished jobs and the next starts.
      // A started-but-not-yet-confirmed job is already in `children`, so the window and the drain
      // checks count it.
      while (this.canStart()) {
        this.startNext().catch((error: unknown) => {
          this.startFailure ??= error;
        });
      }
    }
  }

  /** Before the run closes or continues as new: its record stored, its controls taken and sent. */
  private settleBeforeClose(): Promise<void> {
    return settleBeforeClose(this.controls!, this.outbox, () => !this.sendingControls && this.controlsToSend.length === 0);
  }

  /** Drained: continue as new with a fresh history. */
  private async continueAsNewRun(): Promise<never> {
    if (this.controlsAfterTaskNews) await this.settleBeforeClose();
    else {
      await this.outbox.flushed();
      await condition(() => allHandlersFinished() && !this.sendingControls && this.controlsToSend.length === 0);
    }
    this.state.running = [];
    const carried = {
      state: this.snapshot(),
      pausedByBatch: [],
      prioritySetByBatch: this.prioritySetByBatch,
      ...this.controls?.carried(),
    };
    return continueAsNew<typeof batchWorkflow>({ ...this.input, carried });
  }

  private recordEnd(): void {
    const { state, batchId } = this;
    const notStarted = this.remaining();
    state.counts.cancelled += notStarted;
    state.counts.pending = 0;
    state.completedAt = new Date().toISOString();
    const summary = { batchId, counts: { ...state.counts }, total: state.total, notStarted };
    if (this.failedByPolicy) {
      this.setStatus('failed');
      this.outbox.record(
        BatchEvents.failed,
        { ...summary, reason: this.failedByPolicy },
        { actor: 'system', reason: this.failedByPolicy },
      );
    } else if (this.cancelRequested) {
      this.setStatus('cancelled');
      this.outbox.record(BatchEvents.completed, { ...summary, status: 'cancelled' }, this.cancelRequested);
    } else {
      this.setStatus('completed');
      this.outbox.record(BatchEvents.completed, { ...summary, status: 'completed' }, { actor: 'system' });
    }
  }

  private async nextItem(index: number): Promise<PreparedBatchItem> {
    const offset = index - (index % PAGE);
    let page = this.pages.get(offset);
    if (!page) {
      page = this.store.loadBatchItems({ batchId: this.batchId, offset, limit: PAGE });
      this.pages.set(offset, page);
      for (const key of this.pages.keys()) if (key < offset - PAGE) this.pages.delete(key);
    }
    const item = (await page)[index - offset];
    if (!item) throw ApplicationFailure.nonRetryable(`batch item ${index} of ${this.batchId} is missing`, 'BatchItemMissing');
    return item;
  }

  /** The job input of item `index`: a stored item, or a failed job of this batch run again. */
  private async jobInputOf(index: number, jobId: string): Promise<JobWorkflowInput> {
    const { state, input, batchId } = this;
    const retry = input.retryFailed?.inputs[index];
    if (retry) {
      // A failed job of this batch, run again as a new run of the same job id (its stream continues).
      state.counts.failed = Math.max(0, state.counts.failed - 1);
      return { ...retry, priority: this.prioritySetByBatch ? state.priority : retry.priority };
    }
    const item = await this.nextItem(index);
    return {
      revision: JOB_WORKFLOW_REVISION,
      jobId: item.jobId ?? jobId,
      ...(item.dependsOn?.length ? { dependsOn: item.dependsOn } : {}),
      ...(item.pool ? { pool: item.pool } : {}),
      ...(item.weight ? { weight: item.weight } : {}),
      ...(item.callbackUrl ? { callbackUrl: item.callbackUrl } : {}),
      name: item.name,
      type: item.type,
      input: item.input,
      // A job's own priority, unless the batch has been reprioritized since it was created.
      priority: this.prioritySetByBatch ? state.priority : item.priority,
      owner: input.owner,
      batchId,
      plan: { ...item.plan, retry: { ...item.plan.retry, ...input.retry } },
      // When the batch records the job's JobSubmitted (createdAt, `at`): the batch's clock, so the
      // job's own record of it is the same event.
      ...(this.recordsJobsSubmitted ? { submittedAt: new Date().toISOString() } : {}),
      actor: `batch:${batchId}`,
      correlationId: batchId,
      ...jobPlacement(input.storeAccess, input.askPoolLocally),
    };
  }

  private async startNext(): Promise<void> {
    const { state } = this;
    const index = state.nextIndex++;
    this.startedThisRun++;
    state.counts.pending = Math.max(0, state.counts.pending - 1);
    state.counts.inFlight++;
    const retry = this.input.retryFailed?.inputs[index];
    // Counted in flight before the item loads (the end check must not see an empty window meanwhile).
    const provisional = retry?.jobId ?? `job_${uuid4()}`;
    const child: Child = {
      jobId: provisional,
      started: false,
      priority: state.priority,
      pausedByBatch: false,
      cancelSent: false,
    };
    this.children.set(provisional, child);
    const jobInput = await this.jobInputOf(index, provisional);
    if (jobInput.jobId !== provisional) {
      // Items of a DAG batch come with their ids (their dependents name them).
      this.children.delete(provisional);
      child.jobId = jobInput.jobId;
      this.children.set(child.jobId, child);
    }
    const jobId = child.jobId;
    child.priority = jobInput.priority;
    try {
      const handle = await startChild(jobWorkflow, {
        workflowId: jobId,
        args: [jobInput],
        taskQueue: this.info.taskQueue,
        parentClosePolicy: ParentClosePolicy.TERMINATE,
        priority: { priorityKey: toPriorityKey(jobInput.priority) },
        typedSearchAttributes: jobSearchAttributes(jobInput),
        ...(retry ? { workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE } : {}),
      });
      child.started = true;
      if (this.recordsJobsSubmitted && !retry) this.recordJobSubmitted(jobInput, handle.firstExecutionRunId);
      handle.result().then(
        (result) => this.finished.push({ jobId, status: result.status }),
        (error) => this.finished.push({ jobId, status: statusOfFailure(error) }),
      );
      await this.syncChild(child, { actor: `batch:${this.batchId}` });
    } catch {
      // The window runs in a non-cancellable scope, so this is a start that failed (not a cancel).
      this.finished.push({ jobId, status: 'failed' });
    }
  }

  /** Queues a started job's JobSubmitted; one local activity records those of a workflow task together. */
  private recordJobSubmitted(jobInput: JobWorkflowInput, runId: string): void {
    this.submittedToRecord.push({ streamId: jobInput.jobId, events: [jobSubmittedEvent(jobInput, runId)] });
    if (this.recordingSubmitted) return;
    this.recordingSubmitted = true;
    void (async () => {
      while (this.submittedToRecord.length > 0) {
        const requests = this.submittedToRecord.splice(0, PAGE);
        // Only ahead of the job: its workflow records the same event anyway, so a failure loses nothing.
        await this.store.appendEventsToStreams(requests).catch(() => undefined);
      }
      this.recordingSubmitted = false;
    })();
  }

  private onFinished({ jobId, status }: { jobId: string; status: string }): void {
    const { state } = this;
    if (!this.children.delete(jobId)) return;
    state.counts.inFlight = Math.max(0, state.counts.inFlight - 1);
    if (status === 'completed') state.counts.completed++;
    else if (status === 'cancelled' || status === 'terminated') state.counts.cancelled++;
    else state.counts.failed++;
    if (status === 'failed' && !this.finishing()) this.applyFailurePolicy(jobId);
  }

  private applyFailurePolicy(failedJobId: string): void {
    const { state } = this;
    const policy = this.input.failurePolicy;
    const failedPercent = (state.counts.failed * 100) / Math.max(1, state.total);
    if (policy.mode === 'fail_fast') this.failedByPolicy = `job ${failedJobId} failed (fail-fast)`;
    else if (policy.mode === 'threshold' && failedPercent > policy.maxFailedPercent)
      this.failedByPolicy = `${state.counts.failed} of ${state.total} jobs failed (more than ${policy.maxFailedPercent}%)`;
    if (this.failedByPolicy) this.syncChildren({ actor: 'system', reason: this.failedByPolicy });
  }

  private syncChildren(who: Actor): void {
    for (const child of this.children.values()) void this.syncChild(child, who);
  }

  /** Brings one started job in line with the batch: cancelled, paused, resumed, reprioritized. */
  private async syncChild(child: Child, who: Actor): Promise<void> {
    if (!child.started) return;
    const { state } = this;
    const payload = { actor: who.actor, reason: who.reason ?? `batch ${this.batchId}` };
    if (this.finishing()) {
      if (!child.cancelSent) {
        child.cancelSent = true;
        // closeAsCanceled + Temporal's cancel request: the job's execution closes as Canceled.
        await this.sendToJob(child.jobId, 'cancel', { ...payload, closeAsCanceled: true });
      }
      return;
    }
    if (state.status === 'paused' && !child.pausedByBatch) {
      child.pausedByBatch = true;
      await this.sendToJob(child.jobId, 'pause', payload);
    } else if (state.status === 'running' && child.pausedByBatch) {
      child.pausedByBatch = false;
      await this.sendToJob(child.jobId, 'resume', payload);
    }
    if (this.prioritySetByBatch && child.priority !== state.priority) {
      child.priority = state.priority;
      await this.sendToJob(child.jobId, 'reprioritize', { ...payload, priority: state.priority });
    }
  }

  /**
   * One control to one of the batch's jobs. Queued for the engine's process, which sends the queue in
   * order (`sendControls`); in runs begun before that, a SignalExternal command (and for a cancel,
   * Temporal's cancel request after it), awaited — the commands as those runs issued them.
   */
  private async sendToJob(jobId: string, control: JobControlName, payload: JobSignalRequest['payload']): Promise<void> {
    if (this.controlsFromProcess) {
      const requestId = `${this.batchId}/${this.state.run}/${++this.controlsSent}`;
      this.controlsToSend.push({ jobId, control, payload: { ...payload, requestId } });
      this.sendControls();
      return;
    }
    const handle = getExternalWorkflowHandle(jobId);
    // Not cancellable: a cancel of the batch itself must still reach its jobs. A failure means the
    // job has just finished, which is fine.
    const send = (signal: () => Promise<void>) => CancellationScope.nonCancellable(signal).catch(() => undefined);
    await send(() => handle.signal(jobControl.signals[control] as SignalDefinition<[JobSignalRequest['payload']]>, payload));
    if (control === 'cancel') await send(() => handle.cancel());
  }

  /**
   * Sends the queued controls, one activity at a time and in the order queued, so a job told to pause
   * and then to resume hears it in that order. Not cancellable, as the commands it replaces: a cancel
   * of the batch itself must still reach its jobs. The run ends (or continues as new) once it is done.
   */
  private sendControls(): void {
    if (this.sendingControls) return;
    this.sendingControls = true;
    void CancellationScope.nonCancellable(async () => {
      // Lets the code that queued this control queue the rest of its fan-out first (syncChildren runs
      // to its end before this microtask), so a control reaches a whole window in one call.
      await Promise.resolve();
      while (this.controlsToSend.length > 0) {
        const requests = this.controlsToSend.splice(0, CONTROLS_PER_SEND);
        try {
          await this.jobSignals.signalJobs({ requests });
        } catch {
          // Retried without end by Temporal, so only a failure it gives up on lands here (the activity
          // not served at all, say): keep the controls, in order, and try again.
          this.controlsToSend.unshift(...requests);
          await sleep(CONTROLS_RETRY_MS);
        }
      }
    }).finally(() => {
      this.sendingControls = false;
      // Queued after the loop's last look and before this callback: send it too.
      if (this.controlsToSend.length > 0) this.sendControls();
    });
  }

  private snapshot(): BatchState {
    return { ...this.state, counts: { ...this.state.counts }, running: [...this.children.keys()] };
  }
}

function statusOfFailure(error: unknown): string {
  if (error instanceof ChildWorkflowFailure) {
    if (error.cause instanceof TerminatedFailure) return 'terminated';
    if (error.cause instanceof TimeoutFailure) return 'failed';
    if (isCancellation(error.cause)) return 'cancelled';
  }
  if (isCancellation(error)) return 'cancelled';
  return 'failed';
}
