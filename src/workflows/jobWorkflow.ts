/**
 * jobWorkflow: one job, from submit to a terminal state — a thin Temporal shell over the domain core
 * (src/domain: statuses, transitions, control rules). It writes every event of the job's stream:
 * every state change, whoever caused it (API update, CLI signal, timer, failure), is recorded through
 * the appendEvents activity with an id derived from (job id, run id, sequence number), so an activity
 * retry, a replay or a worker crash never doubles an event.
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  TimeoutFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { TimeoutType } from '@temporalio/common';
import {
  DEFAULT_MAX_WORKER_LOSSES,
  JOB_TIMEOUT,
  JobEvents,
  PERMANENT_ERROR_TYPE,
  WORKER_LOST,
  isTerminalJobStatus,
  jobStatusAfter,
  refuseJobControl,
  toPriorityKey,
  type Actor,
  type ControlAction,
  type ControlPayload,
  type JobStatus,
} from '../domain/index.js';
import type { JobStepActivities, RunJobStepOutput } from '../activities/jobStepActivities.js';
import { JobPriorityKey, JobStatusKey } from '../temporal/searchAttributes.js';
import { installControlSurface } from './controlSurface.js';
import { createEventOutbox, storeActivities, type EventOutbox } from './eventOutbox.js';
import {
  jobControl,
  statusQuery,
  type ControlResult,
  type JobResult,
  type JobState,
  type JobWorkflowInput,
} from './jobContract.js';

export * from './jobContract.js';

const DEFAULT_PROGRESS_INTERVAL_MS = 1000;
const DEFAULT_CONTINUE_AS_NEW_AFTER = 8000;
/** Step durations kept for the remaining-time estimate. */
const DURATION_WINDOW = 20;
/** How long a job cancelled with `closeAsCanceled` waits for the Temporal cancel request that follows. */
const CANCEL_REQUEST_WAIT_MS = 30_000;
const TEMPORAL_CANCEL: Actor = { actor: 'external', reason: 'cancellation requested through Temporal' };

export async function jobWorkflow(input: JobWorkflowInput): Promise<JobResult> {
  // A Temporal Schedule starts every run with the same arguments and its own workflow id
  // (`<schedule's id>-<time>`): such a run takes its job id from the workflow id.
  return new JobRun(input.jobId ? input : { ...input, jobId: workflowInfo().workflowId }).run();
}

/** The state of a job when its first run starts (or a retry run, from what the failed run left). */
function initialJobState(input: JobWorkflowInput, createdAt: string): JobState {
  const retryOf = input.retryOf;
  const completedSteps = retryOf?.completedSteps ?? 0;
  return {
    jobId: input.jobId,
    name: input.name,
    type: input.type,
    owner: input.owner,
    batchId: input.batchId ?? null,
    status: 'pending',
    pausedFrom: null,
    priority: input.priority,
    completedSteps,
    totalSteps: input.plan.totalSteps,
    progress: progressOf(completedSteps, input.plan.totalSteps),
    currentStep: completedSteps,
    message: null,
    stepInFlight: false,
    attempt: (retryOf?.attempts ?? 0) + 1,
    maxAttempts: (retryOf?.attempts ?? 0) + input.plan.retry.maxAttempts,
    nextRetryAt: null,
    workerLosses: 0,
    error: null,
    errorType: null,
    createdAt: retryOf?.createdAt ?? createdAt,
    startedAt: null,
    completedAt: null,
    pausedAt: null,
    activeMs: 0,
    estimatedRemainingS: null,
    resultFiles: retryOf?.resultFiles ?? [],
  };
}

/** One run of a job workflow: its state, and the steps from here to the end (or continue-as-new). */
class JobRun {
  private readonly info = workflowInfo();
  private readonly plan: JobWorkflowInput['plan'];
  private readonly outbox: EventOutbox;
  private readonly state: JobState;
  private checkpoint: unknown;
  private readonly stepDurationsMs: number[];
  private lastProgressAt: number;
  private progressDirty = false;
  /** When the current running stretch began (for activeMs, which excludes paused time). */
  private runningSince: number | null;
  private timedOut = false;
  private stepScope: CancellationScope | undefined;
  private lastResult: unknown = null;
  /** Temporal cancellation of this execution was requested (CLI, Web UI, or the API after its cancel). */
  private cancelRequestedByTemporal = false;
  /** The cancel came with closeAsCanceled: a Temporal cancel request is on its way. */
  private cancelRequestExpected = false;

  constructor(private readonly input: JobWorkflowInput) {
    const carried = input.carried;
    this.plan = input.plan;
    this.state = carried?.state ?? initialJobState(input, this.iso());
    this.checkpoint = carried?.checkpoint;
    this.stepDurationsMs = carried?.stepDurationsMs ?? [];
    this.lastProgressAt = carried?.lastProgressAt ?? 0;
    this.runningSince = this.state.status === 'running' ? Date.now() : null;
    // Events are recorded here, appended in order by one flusher (see eventOutbox.ts).
    this.outbox = createEventOutbox({
      streamId: input.jobId,
      correlationId: input.correlationId ?? input.batchId ?? input.jobId,
      baseData: { jobId: input.jobId },
      appendEvents: storeActivities(input.storeAccess).appendEvents,
    });
  }

  async run(): Promise<JobResult> {
    if (!this.input.carried) this.recordFirstEvent();
    this.installHandlers();
    void this.watchTimeout();
    try {
      await this.runSteps();
    } catch (error) {
      if (!isCancellation(error)) throw error;
      // Cancelled through Temporal: finish the record, then let the execution close as Canceled.
      await CancellationScope.nonCancellable(async () => {
        if (!isTerminalJobStatus(this.state.status)) this.cancel(TEMPORAL_CANCEL);
        await this.cleanupAfterCancel('cancellation requested through Temporal');
        await this.outbox.flushed();
      });
      throw error;
    }
    if (this.state.status === 'cancelled') await this.cleanupAfterCancel('cancelled');
    await this.outbox.flushed();
    await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
    if (this.state.status === 'cancelled') await this.closeAsCanceledIfRequested();
    if (this.state.status === 'failed') {
      throw ApplicationFailure.create({
        type: this.state.errorType ?? 'JobFailed',
        message: this.state.error ?? 'job failed',
        nonRetryable: true,
      });
    }
    const { jobId, status, resultFiles, error } = this.state;
    return { jobId, status, result: this.lastResult, resultFiles, error };
  }

  // ---- the record ----------------------------------------------------------------------------------

  private iso(ms: number = Date.now()): string {
    return new Date(ms).toISOString();
  }

  /** Records an event and moves the live status the way the projection will (domain jobStatusAfter). */
  private transition(type: string, data: Record<string, unknown>, who: Actor): number {
    this.setStatus(jobStatusAfter(type, data, this.state.status));
    return this.outbox.record(type, data, who);
  }

  private setStatus(status: JobStatus): void {
    const previous = this.state.status;
    if (previous === 'running' && status !== 'running') this.stopClock();
    if (status === 'running' && this.runningSince === null) this.runningSince = Date.now();
    this.state.status = status;
    if (isTerminalJobStatus(status)) {
      this.state.completedAt = this.iso();
      this.state.currentStep = null;
      this.state.estimatedRemainingS = status === 'completed' ? 0 : null;
    }
    if (status !== previous) upsertSearchAttributes([{ key: JobStatusKey, value: status }]);
  }

  /** Adds the running stretch so far to activeMs (before the job stops running or continues as new). */
  private stopClock(): void {
    if (this.runningSince === null) return;
    this.state.activeMs += Date.now() - this.runningSince;
    this.runningSince = null;
  }

  private activeMsNow(): number {
    return this.state.activeMs + (this.runningSince !== null ? Date.now() - this.runningSince : 0);
  }

  private recordFirstEvent(): void {
    const { input, state } = this;
    const who = { actor: input.actor ?? 'system' };
    if (input.retryOf) {
      const data = {
        attempt: state.attempt,
        maxAttempts: state.maxAttempts,
        completedSteps: state.completedSteps,
        runId: this.info.runId,
      };
      this.transition(JobEvents.retried, data, who);
      return;
    }
    this.transition(
      JobEvents.submitted,
      {
        name: input.name,
        type: input.type,
        input: input.input as Record<string, unknown>,
        priority: input.priority,
        owner: input.owner,
        batchId: input.batchId ?? null,
        totalSteps: this.plan.totalSteps,
        maxAttempts: this.plan.retry.maxAttempts,
        timeoutMs: input.timeoutMs ?? null,
        runAt: input.runAt ?? null,
        scheduleId: input.scheduleId ?? null,
        createdAt: state.createdAt,
      },
      who,
    );
  }

  // ---- controls (rules: domain refuseJobControl) -------------------------------------------------------

  private installHandlers(): void {
    setHandler(statusQuery, () => this.snapshot());
    installControlSurface<ControlResult>(jobControl, {
      refuse: (action: ControlAction, priority?: unknown) => refuseJobControl(action, this.state, priority),
      pause: (who) => this.pause(who),
      resume: (who) => this.resume(who),
      cancel: (who, payload) => this.cancel(who, payload),
      reprioritize: (priority, who) => this.reprioritize(priority, who),
      ignored: (signal, why, who) => {
        this.outbox.record(JobEvents.signalIgnored, { signal, why, status: this.state.status }, who);
      },
      answer: async (seq) => {
        await this.outbox.flushed(seq);
        return { state: this.snapshot(), position: this.outbox.lastPosition() };
      },
    });
    // `temporal workflow cancel` (or the Web UI's cancel) is the same as the cancel signal.
    CancellationScope.current().cancelRequested.catch(() => {
      this.cancelRequestedByTemporal = true;
      if (!isTerminalJobStatus(this.state.status)) this.cancel(TEMPORAL_CANCEL);
    });
  }

  private pause(who: Actor): number {
    this.flushProgress(); // the paused row shows the progress made so far
    const from = this.state.status === 'pending' ? 'pending' : 'running';
    this.state.pausedFrom = from;
    this.state.pausedAt = this.iso();
    const seq = this.transition(JobEvents.paused, { from }, who);
    // A running step stops at its next heartbeat and hands back its checkpoint; no slot is held.
    this.stepScope?.cancel();
    return seq;
  }

  private resume(who: Actor): number {
    const to = this.state.pausedFrom ?? 'running';
    this.state.pausedFrom = null;
    this.state.pausedAt = null;
    return this.transition(JobEvents.resumed, { to }, who);
  }

  private cancel(who: Actor, payload?: ControlPayload): number {
    if (payload?.closeAsCanceled === true) this.cancelRequestExpected = true;
    this.flushProgress();
    const from = this.state.status;
    this.state.pausedFrom = null;
    const seq = this.transition(JobEvents.cancelled, { from, completedSteps: this.state.completedSteps }, who);
    this.stepScope?.cancel();
    return seq;
  }

  private reprioritize(priority: number, who: Actor): number {
    const from = this.state.priority;
    this.state.priority = priority;
    upsertSearchAttributes([{ key: JobPriorityKey, value: priority }]);
    // The running step keeps its slot; later steps are dispatched with the new priority key.
    return this.transition(JobEvents.reprioritized, { from, to: priority }, who);
  }

  /**
   * A cancelled job closes as Canceled in Temporal only if Temporal cancellation was requested (the
   * SDK closes an execution as Canceled only then). The API and batches request it right after their
   * cancel (closeAsCanceled); wait for that request briefly so the Web UI agrees with the record.
   */
  private async closeAsCanceledIfRequested(): Promise<void> {
    if (!this.cancelRequestedByTemporal && this.cancelRequestExpected) {
      await CancellationScope.nonCancellable(() => condition(() => this.cancelRequestedByTemporal, CANCEL_REQUEST_WAIT_MS));
    }
    if (this.cancelRequestedByTemporal) throw new CancelledFailure('Job cancelled');
  }

  // ---- the steps -------------------------------------------------------------------------------------

  private async runSteps(): Promise<void> {
    const { state } = this;
    while (!isTerminalJobStatus(state.status)) {
      await this.untilRunnable();
      if (isTerminalJobStatus(state.status)) return;
      if (this.timedOut) return this.failJob(JOB_TIMEOUT, this.timeoutMessage());
      if (state.completedSteps >= state.totalSteps) return this.completeJob();
      if (this.historyIsLong()) await this.continueAsNewRun();
      await this.runOneStep();
    }
  }

  private historyIsLong(): boolean {
    const info = workflowInfo();
    return (
      info.continueAsNewSuggested || info.historyLength > (this.input.continueAsNewAfterEvents ?? DEFAULT_CONTINUE_AS_NEW_AFTER)
    );
  }

  private async continueAsNewRun(): Promise<never> {
    await this.outbox.flushed();
    await condition(allHandlersFinished);
    this.stopClock();
    const { checkpoint, stepDurationsMs, lastProgressAt } = this;
    return continueAsNew<typeof jobWorkflow>({
      ...this.input,
      carried: { state: this.snapshot(), checkpoint, stepDurationsMs, lastProgressAt },
    });
  }

  /** Waits while pending (until runAt) or paused; marks the job running when it may run. */
  private async untilRunnable(): Promise<void> {
    const { state } = this;
    for (;;) {
      if (isTerminalJobStatus(state.status) || this.timedOut) return;
      if (state.status === 'paused') {
        this.flushProgress();
        await condition(() => state.status !== 'paused');
        continue;
      }
      if (state.status !== 'pending') return; // running
      const wait = this.input.runAt ? Date.parse(this.input.runAt) - Date.now() : 0;
      if (wait > 0) {
        await condition(() => state.status !== 'pending', wait);
        continue;
      }
      state.startedAt ??= this.iso();
      this.transition(
        JobEvents.started,
        { attempt: state.attempt, step: state.completedSteps, startedAt: state.startedAt },
        { actor: 'system' },
      );
      return;
    }
  }

  private stepActivities(): JobStepActivities {
    return proxyActivities<JobStepActivities>({
      taskQueue: this.info.taskQueue,
      startToCloseTimeout: this.plan.stepTimeoutMs,
      heartbeatTimeout: this.plan.heartbeatTimeoutMs,
      // jobWorkflow retries itself, so that each failed attempt becomes an event with its backoff.
      retry: { maximumAttempts: 1 },
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      priority: { priorityKey: toPriorityKey(this.state.priority) },
    });
  }

  private async runOneStep(): Promise<void> {
    const { state } = this;
    const step = state.completedSteps;
    state.currentStep = step;
    const scope = new CancellationScope();
    this.stepScope = scope;
    state.stepInFlight = true;
    const startedAt = Date.now();
    let outcome: RunJobStepOutput;
    try {
      const request = {
        jobId: this.input.jobId,
        type: this.input.type,
        input: this.input.input,
        step,
        totalSteps: state.totalSteps,
        attempt: state.attempt,
        checkpoint: this.checkpoint,
      };
      outcome = await scope.run(() => this.stepActivities().runJobStep(request));
    } catch (error) {
      if (isTerminalJobStatus(state.status) || state.status === 'paused' || this.timedOut) {
        // The step died while being stopped (e.g. its worker went away); keep the last checkpoint.
        if (isCancellation(error) && CancellationScope.current().consideredCancelled) throw error;
        return;
      }
      if (isCancellation(error)) throw error; // the workflow itself is being cancelled
      return this.onStepFailure(error, startedAt);
    } finally {
      this.stepScope = undefined;
      state.stepInFlight = false;
    }
    if (outcome.outcome === 'interrupted') {
      this.checkpoint = outcome.checkpoint;
      return;
    }
    // A step that finished as it was being paused still counts as done: it is never run again.
    this.onStepDone(step, outcome.output, Date.now() - startedAt);
  }

  private onStepDone(
    step: number,
    output: Extract<RunJobStepOutput, { outcome: 'completed' }>['output'],
    durationMs: number,
  ): void {
    const { state } = this;
    this.checkpoint = undefined;
    this.stepDurationsMs.push(durationMs);
    if (this.stepDurationsMs.length > DURATION_WINDOW) this.stepDurationsMs.shift();
    state.completedSteps = step + 1;
    state.currentStep = state.completedSteps < state.totalSteps ? state.completedSteps : null;
    state.progress = progressOf(state.completedSteps, state.totalSteps);
    state.estimatedRemainingS = this.estimateRemainingS();
    for (const f of output.resultFiles ?? []) if (!state.resultFiles.includes(f)) state.resultFiles.push(f);
    if (output.result !== undefined) this.lastResult = output.result;
    this.progressDirty = true;
    const interval = this.input.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;
    if (state.completedSteps < state.totalSteps && Date.now() - this.lastProgressAt >= interval) this.flushProgress();
  }

  private async onStepFailure(error: unknown, stepStartedAt: number): Promise<void> {
    const failure = error instanceof ActivityFailure ? error.cause : error;
    const message = failure instanceof Error ? failure.message : String(failure);
    let errorType = 'Error';
    let nonRetryable = false;
    if (failure instanceof ApplicationFailure) {
      errorType = failure.type ?? 'Error';
      nonRetryable = failure.nonRetryable || errorType === PERMANENT_ERROR_TYPE;
      const details = failure.details?.[0] as { checkpoint?: unknown } | undefined;
      if (details && details.checkpoint !== undefined) this.checkpoint = details.checkpoint;
    } else if (failure instanceof TimeoutFailure) {
      errorType = `Timeout${failure.timeoutType !== undefined ? `:${failure.timeoutType}` : ''}`;
      const last = failure.lastHeartbeatDetails as { checkpoint?: unknown; at?: number } | undefined;
      if (last && last.checkpoint !== undefined) this.checkpoint = last.checkpoint;
      if (failure.timeoutType === TimeoutType.HEARTBEAT) return this.onWorkerLost(message, last?.at, stepStartedAt);
    }
    const { state } = this;
    const attempt = state.attempt;
    if (nonRetryable || attempt >= state.maxAttempts) return this.failJob(errorType, message);
    const delay = this.backoffMs(attempt - (state.maxAttempts - this.plan.retry.maxAttempts));
    state.nextRetryAt = this.iso(Date.now() + delay);
    state.error = message;
    state.errorType = errorType;
    this.transition(
      JobEvents.attemptFailed,
      { attempt, error: message, errorType, nextRetryAt: state.nextRetryAt, step: state.completedSteps },
      { actor: 'system' },
    );
    state.attempt = attempt + 1;
    await this.backOff(delay);
  }

  /**
   * The step stopped heartbeating: its worker died (kill -9, OOM, power cut) or hung. That is not the
   * job's fault, so it does not spend the job's retry budget; it is bounded on its own
   * (DEFAULT_MAX_WORKER_LOSSES), and the time since the last heartbeat is not counted as running time.
   */
  private async onWorkerLost(message: string, lastHeartbeatAt: number | undefined, stepStartedAt: number): Promise<void> {
    const { state } = this;
    const t = Date.now();
    const lostMs = Math.max(
      0,
      t - Math.max(stepStartedAt, typeof lastHeartbeatAt === 'number' ? lastHeartbeatAt : stepStartedAt),
    );
    if (this.runningSince !== null) this.runningSince = Math.min(t, this.runningSince + lostMs);
    state.workerLosses += 1;
    const why = `step ${state.completedSteps} stopped heartbeating (worker lost or step hung): ${message}`;
    if (state.workerLosses > DEFAULT_MAX_WORKER_LOSSES)
      return this.failJob(WORKER_LOST, `${why}; ${state.workerLosses} step runs were lost, giving up`);
    const delay = Math.min(this.plan.retry.initialIntervalMs, 1000);
    state.nextRetryAt = this.iso(t + delay);
    this.transition(
      JobEvents.attemptFailed,
      {
        attempt: state.attempt,
        error: why,
        errorType: WORKER_LOST,
        nextRetryAt: state.nextRetryAt,
        step: state.completedSteps,
        workerLosses: state.workerLosses,
        countsAsAttempt: false,
      },
      { actor: 'system' },
    );
    await this.backOff(delay);
  }

  /** Waits before the next attempt; a pause, cancel or timeout ends the wait early. */
  private async backOff(delayMs: number): Promise<void> {
    await condition(() => this.state.status !== 'running' || this.timedOut, delayMs);
    this.state.nextRetryAt = null;
  }

  private backoffMs(failedAttemptsThisRun: number): number {
    const r = this.plan.retry;
    const base = Math.min(
      r.maxIntervalMs,
      r.initialIntervalMs * Math.pow(r.backoffCoefficient, Math.max(0, failedAttemptsThisRun - 1)),
    );
    const spread = base * r.jitter * (Math.random() * 2 - 1); // workflow Math.random is seeded: replay-safe
    return Math.max(1, Math.round(base + spread));
  }

  // ---- the end -----------------------------------------------------------------------------------------

  private completeJob(): void {
    const { state } = this;
    this.stopClock();
    state.progress = 100;
    state.message = null;
    state.error = null;
    state.errorType = null;
    const data = {
      completedSteps: state.completedSteps,
      totalSteps: state.totalSteps,
      result: (this.lastResult ?? null) as Record<string, unknown> | null,
      resultFiles: state.resultFiles,
      activeMs: state.activeMs,
      attempt: state.attempt,
    };
    this.transition(JobEvents.completed, data, { actor: 'system' });
  }

  private failJob(errorType: string, message: string): void {
    const { state } = this;
    this.stopClock();
    state.error = message;
    state.errorType = errorType;
    state.nextRetryAt = null;
    const data = {
      error: message,
      errorType,
      attempt: state.attempt,
      completedSteps: state.completedSteps,
      activeMs: state.activeMs,
    };
    this.transition(JobEvents.failed, data, { actor: 'system' });
  }

  private flushProgress(): void {
    if (!this.progressDirty) return;
    const { state } = this;
    this.progressDirty = false;
    this.lastProgressAt = Date.now();
    const data = {
      completedSteps: state.completedSteps,
      totalSteps: state.totalSteps,
      progress: state.progress,
      currentStep: state.currentStep,
      estimatedRemainingS: state.estimatedRemainingS,
      resultFiles: state.resultFiles,
    };
    this.transition(JobEvents.progress, data, { actor: 'system' });
  }

  private estimateRemainingS(): number | null {
    const durations = this.stepDurationsMs;
    if (durations.length === 0) return null;
    const avg = durations.reduce((a, b) => a + b, 0) / durations.length;
    return Math.round(((this.state.totalSteps - this.state.completedSteps) * avg) / 100) / 10;
  }

  private timeoutMessage(): string {
    return `Job timed out after ${Math.round((this.input.timeoutMs ?? 0) / 1000)}s of running time (paused time not counted)`;
  }

  /** Per-job timeout on running time only: time spent paused or pending does not count. */
  private async watchTimeout(): Promise<void> {
    const limit = this.input.timeoutMs;
    if (!limit || limit <= 0) return;
    const { state } = this;
    await CancellationScope.nonCancellable(async () => {
      for (;;) {
        if (isTerminalJobStatus(state.status)) return;
        if (state.status !== 'running') {
          await condition(() => state.status === 'running' || isTerminalJobStatus(state.status));
          continue;
        }
        const remaining = limit - this.activeMsNow();
        if (remaining <= 0) {
          this.timedOut = true;
          this.stepScope?.cancel();
          return;
        }
        await condition(() => state.status !== 'running', remaining);
      }
    });
  }

  private async cleanupAfterCancel(reason: string): Promise<void> {
    const steps = proxyActivities<JobStepActivities>({
      taskQueue: this.info.taskQueue,
      startToCloseTimeout: '1m',
      retry: { maximumAttempts: 3 },
    });
    const request = { jobId: this.input.jobId, type: this.input.type, input: this.input.input, reason };
    await CancellationScope.nonCancellable(() => steps.cleanupJob(request).catch(() => undefined));
  }

  private snapshot(): JobState {
    return { ...this.state, activeMs: this.activeMsNow(), resultFiles: [...this.state.resultFiles] };
  }
}

function progressOf(done: number, total: number): number {
  return total <= 0 ? 0 : Math.floor((done * 100) / total);
}
