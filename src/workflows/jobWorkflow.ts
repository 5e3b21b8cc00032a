/**
 * jobWorkflow: one job, from submit to a terminal state. It is the only writer of the job's stream:
 * every state change, whoever caused it (API update, CLI signal, timer, failure), is recorded here
 * through the appendEvents activity with an id derived from (job id, run id, sequence number), so an
 * activity retry, a replay or a worker crash never doubles an event.
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  ActivityFailure,
  CancelledFailure,
  TimeoutFailure,
} from '@temporalio/workflow';
import { TimeoutType } from '@temporalio/common';
import { createEventOutbox, storeActivities } from './eventOutbox.js';
import type { JobStepActivities, RunJobStepOutput } from '../activities/jobStepActivities.js';
import { JobPriorityKey, JobStatusKey } from '../temporal/searchAttributes.js';
import {
  DEFAULT_MAX_WORKER_LOSSES,
  WORKER_LOST,
  INVALID_ARGUMENT,
  INVALID_TRANSITION,
  JobEvents,
  MAX_PRIORITY,
  MIN_PRIORITY,
  cancelSignal,
  cancelUpdate,
  isTerminalJobStatus,
  pauseSignal,
  pauseUpdate,
  reprioritizeSignal,
  reprioritizeUpdate,
  resumeSignal,
  resumeUpdate,
  statusQuery,
  toPriorityKey,
  type ControlPayload,
  type ControlResult,
  type JobResult,
  type JobState,
  type JobStatus,
  type JobWorkflowInput,
  type ReprioritizePayload,
} from './jobContract.js';

export * from './jobContract.js';

const DEFAULT_PROGRESS_INTERVAL_MS = 1000;
const DEFAULT_CONTINUE_AS_NEW_AFTER = 8000;
/** Step durations kept for the remaining-time estimate. */
const DURATION_WINDOW = 20;
const PERMANENT_ERROR_TYPE = 'PermanentJobError';
/** How long a job cancelled with `closeAsCanceled` waits for the Temporal cancel request that follows. */
const CANCEL_REQUEST_WAIT_MS = 30_000;

type Actor = { actor: string; reason?: string };

export async function jobWorkflow(input: JobWorkflowInput): Promise<JobResult> {
  const info = workflowInfo();
  const jobId = input.jobId;
  const plan = input.plan;
  const now = () => Date.now();
  const iso = (ms: number = now()) => new Date(ms).toISOString();

  const store = storeActivities(input.storeAccess);

  // ---- state -------------------------------------------------------------------------------------
  const carried = input.carried;
  const state: JobState = carried?.state ?? {
    jobId,
    name: input.name,
    type: input.type,
    owner: input.owner,
    batchId: input.batchId ?? null,
    status: 'pending',
    pausedFrom: null,
    priority: input.priority,
    completedSteps: input.retryOf?.completedSteps ?? 0,
    totalSteps: plan.totalSteps,
    progress: 0,
    currentStep: input.retryOf?.completedSteps ?? 0,
    message: null,
    stepInFlight: false,
    attempt: (input.retryOf?.attempts ?? 0) + 1,
    maxAttempts: (input.retryOf?.attempts ?? 0) + plan.retry.maxAttempts,
    nextRetryAt: null,
    workerLosses: 0,
    error: null,
    errorType: null,
    createdAt: input.retryOf?.createdAt ?? iso(),
    startedAt: null,
    completedAt: null,
    pausedAt: null,
    activeMs: 0,
    estimatedRemainingS: null,
    resultFiles: input.retryOf?.resultFiles ?? [],
  };
  state.progress = progressOf(state.completedSteps, state.totalSteps);
  let checkpoint: unknown = carried?.checkpoint;
  const stepDurationsMs: number[] = carried?.stepDurationsMs ?? [];
  let lastProgressAt = carried?.lastProgressAt ?? 0;
  let progressDirty = false;
  /** When the current running stretch began (for activeMs, which excludes paused time). */
  let runningSince: number | null = state.status === 'running' ? now() : null;
  let timedOut = false;
  /** Temporal cancellation of this execution was requested (CLI, Web UI, or the API after its cancel). */
  let cancelRequestedByTemporal = false;
  /** The cancel came with closeAsCanceled: a Temporal cancel request is on its way. */
  let cancelRequestExpected = false;
  let stepScope: CancellationScope | undefined;
  let lastResult: unknown = null;

  // ---- the outbox: events recorded here, appended in order by one flusher ------------------------
  const outbox = createEventOutbox({
    streamId: jobId,
    correlationId: input.correlationId ?? input.batchId ?? jobId,
    baseData: { jobId },
    appendEvents: store.appendEvents,
  });
  const record = (type: string, data: Record<string, unknown>, who: Actor) => outbox.record(type, data, who);
  const flushed = (seq?: number) => outbox.flushed(seq);

  // ---- transitions -------------------------------------------------------------------------------
  function setStatus(status: JobStatus): void {
    const t = now();
    if (state.status === 'running' && status !== 'running' && runningSince !== null) {
      state.activeMs += t - runningSince;
      runningSince = null;
    }
    if (status === 'running' && runningSince === null) runningSince = t;
    state.status = status;
    if (isTerminalJobStatus(status)) {
      state.completedAt = iso(t);
      state.currentStep = null;
      state.estimatedRemainingS = status === 'completed' ? 0 : null;
    }
    upsertSearchAttributes([{ key: JobStatusKey, value: status }]);
  }

  const activeMsNow = () => state.activeMs + (runningSince !== null ? now() - runningSince : 0);

  function whyNotPause(): string | undefined {
    if (isTerminalJobStatus(state.status)) return `Job is ${state.status}; it cannot be paused`;
    if (state.status === 'paused') return 'Job is already paused';
    return undefined;
  }
  function whyNotResume(): string | undefined {
    if (state.status !== 'paused') return `Job is ${state.status}, not paused; only a paused job can be resumed`;
    return undefined;
  }
  function whyNotCancel(): string | undefined {
    if (isTerminalJobStatus(state.status)) return `Job is already ${state.status}; it cannot be cancelled`;
    return undefined;
  }
  function whyNotReprioritize(priority: unknown): { type: string; message: string } | undefined {
    if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < MIN_PRIORITY || priority > MAX_PRIORITY)
      return { type: INVALID_ARGUMENT, message: 'Priority must be between 1 (low) and 4 (urgent)' };
    if (isTerminalJobStatus(state.status))
      return { type: INVALID_TRANSITION, message: `Job is ${state.status}; its priority cannot change` };
    if (priority === state.priority) return { type: INVALID_TRANSITION, message: `Job already has priority ${priority}` };
    return undefined;
  }

  function pause(who: Actor): number {
    flushProgress(); // the paused row shows the progress made so far
    state.pausedFrom = state.status === 'pending' ? 'pending' : 'running';
    setStatus('paused');
    state.pausedAt = iso();
    // A running step stops at its next heartbeat and hands back its checkpoint; no slot is held.
    stepScope?.cancel();
    return record(JobEvents.paused, { from: state.pausedFrom }, who);
  }
  function resume(who: Actor): number {
    const to = state.pausedFrom ?? 'running';
    state.pausedFrom = null;
    state.pausedAt = null;
    setStatus(to);
    return record(JobEvents.resumed, { to }, who);
  }
  function cancel(who: Actor, closeAsCanceled = false): number {
    if (closeAsCanceled) cancelRequestExpected = true;
    flushProgress();
    const from = state.status;
    setStatus('cancelled');
    state.pausedFrom = null;
    stepScope?.cancel();
    return record(JobEvents.cancelled, { from, completedSteps: state.completedSteps }, who);
  }
  function reprioritize(priority: number, who: Actor): number {
    const from = state.priority;
    state.priority = priority;
    upsertSearchAttributes([{ key: JobPriorityKey, value: priority }]);
    // The running step keeps its slot; later steps are dispatched with the new priority key.
    return record(JobEvents.reprioritized, { from, to: priority }, who);
  }
  function ignored(signal: string, why: string, who: Actor): void {
    record(JobEvents.signalIgnored, { signal, why, status: state.status }, who);
  }

  const actorOf = (payload: ControlPayload | undefined, fallback: string): Actor => ({
    actor: typeof payload?.actor === 'string' && payload.actor ? payload.actor : fallback,
    ...(typeof payload?.reason === 'string' ? { reason: payload.reason } : {}),
  });
  const priorityOf = (payload: ReprioritizePayload | number | undefined): unknown =>
    typeof payload === 'number' ? payload : payload?.priority;
  const asPayload = (payload: ReprioritizePayload | number | undefined): ControlPayload | undefined =>
    typeof payload === 'number' ? undefined : payload;
  const reject = (type: string, message: string) => {
    throw ApplicationFailure.create({ type, message, nonRetryable: true });
  };
  const answer = async (seq: number): Promise<ControlResult> => {
    await flushed(seq);
    return { state: snapshot(), position: outbox.lastPosition() };
  };

  // ---- the first event, then the handlers (so nothing is recorded before it) ----------------------
  if (!carried) {
    if (input.retryOf) {
      record(
        JobEvents.retried,
        { attempt: state.attempt, maxAttempts: state.maxAttempts, completedSteps: state.completedSteps, runId: info.runId },
        { actor: input.actor ?? 'system' },
      );
    } else {
      record(
        JobEvents.submitted,
        {
          name: input.name,
          type: input.type,
          input: input.input as Record<string, unknown>,
          priority: input.priority,
          owner: input.owner,
          batchId: input.batchId ?? null,
          totalSteps: plan.totalSteps,
          maxAttempts: plan.retry.maxAttempts,
          timeoutMs: input.timeoutMs ?? null,
          runAt: input.runAt ?? null,
          createdAt: state.createdAt,
        },
        { actor: input.actor ?? 'system' },
      );
    }
  }

  setHandler(statusQuery, () => snapshot());

  setHandler(pauseSignal, (p) => {
    const why = whyNotPause();
    if (why) ignored('pause', why, actorOf(p, 'external'));
    else pause(actorOf(p, 'external'));
  });
  setHandler(resumeSignal, (p) => {
    const why = whyNotResume();
    if (why) ignored('resume', why, actorOf(p, 'external'));
    else resume(actorOf(p, 'external'));
  });
  setHandler(cancelSignal, (p) => {
    const why = whyNotCancel();
    if (why) ignored('cancel', why, actorOf(p, 'external'));
    else cancel(actorOf(p, 'external'), p?.closeAsCanceled === true);
  });
  setHandler(reprioritizeSignal, (p) => {
    const priority = priorityOf(p);
    const why = whyNotReprioritize(priority);
    if (why) ignored('reprioritize', why.message, actorOf(asPayload(p), 'external'));
    else reprioritize(priority as number, actorOf(asPayload(p), 'external'));
  });

  setHandler(pauseUpdate, async (p) => answer(pause(actorOf(p, 'external'))), {
    validator: (_payload: ControlPayload) => {
      const why = whyNotPause();
      if (why) reject(INVALID_TRANSITION, why);
    },
  });
  setHandler(resumeUpdate, async (p) => answer(resume(actorOf(p, 'external'))), {
    validator: (_payload: ControlPayload) => {
      const why = whyNotResume();
      if (why) reject(INVALID_TRANSITION, why);
    },
  });
  setHandler(cancelUpdate, async (p) => answer(cancel(actorOf(p, 'external'), p?.closeAsCanceled === true)), {
    validator: (_payload: ControlPayload) => {
      const why = whyNotCancel();
      if (why) reject(INVALID_TRANSITION, why);
    },
  });
  setHandler(
    reprioritizeUpdate,
    async (p) => answer(reprioritize(priorityOf(p) as number, actorOf(asPayload(p), 'external'))),
    {
      validator: (p) => {
        const why = whyNotReprioritize(priorityOf(p));
        if (why) reject(why.type, why.message);
      },
    },
  );

  // `temporal workflow cancel` (or the Web UI's cancel) is the same as the cancel signal.
  CancellationScope.current().cancelRequested.catch(() => {
    cancelRequestedByTemporal = true;
    if (!isTerminalJobStatus(state.status)) cancel({ actor: 'external', reason: 'cancellation requested through Temporal' });
  });

  // ---- the job -------------------------------------------------------------------------------------
  void watchTimeout();
  try {
    await runSteps();
  } catch (error) {
    if (!isCancellation(error)) throw error;
    // Cancelled through Temporal: finish the record, then let the execution close as Canceled.
    await CancellationScope.nonCancellable(async () => {
      if (!isTerminalJobStatus(state.status)) cancel({ actor: 'external', reason: 'cancellation requested through Temporal' });
      await cleanupAfterCancel('cancellation requested through Temporal');
      await flushed();
    });
    throw error;
  }

  if (state.status === 'cancelled') await cleanupAfterCancel('cancelled');
  await flushed();
  await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
  if (state.status === 'cancelled') await closeAsCanceledIfRequested();
  if (state.status === 'failed') {
    throw ApplicationFailure.create({
      type: state.errorType ?? 'JobFailed',
      message: state.error ?? 'job failed',
      nonRetryable: true,
    });
  }
  return { jobId, status: state.status, result: lastResult, resultFiles: state.resultFiles, error: state.error };

  // ---- helpers (hoisted) ---------------------------------------------------------------------------

  async function runSteps(): Promise<void> {
    while (!isTerminalJobStatus(state.status)) {
      await untilRunnable();
      if (isTerminalJobStatus(state.status)) return;
      if (timedOut) return failJob('JobTimeout', timeoutMessage());
      if (state.completedSteps >= state.totalSteps) return completeJob();

      if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > (input.continueAsNewAfterEvents ?? DEFAULT_CONTINUE_AS_NEW_AFTER)) {
        await flushed();
        await condition(allHandlersFinished);
        if (runningSince !== null) {
          state.activeMs += now() - runningSince;
          runningSince = null;
        }
        await continueAsNew<typeof jobWorkflow>({
          ...input,
          carried: { state: snapshot(), checkpoint, stepDurationsMs, lastProgressAt },
        });
      }

      await runOneStep();
    }
  }

  /** Waits while pending (until runAt) or paused; marks the job running when it may run. */
  async function untilRunnable(): Promise<void> {
    for (;;) {
      if (isTerminalJobStatus(state.status) || timedOut) return;
      if (state.status === 'paused') {
        flushProgress();
        await condition(() => state.status !== 'paused');
        continue;
      }
      if (state.status === 'pending') {
        const wait = input.runAt ? Date.parse(input.runAt) - now() : 0;
        if (wait > 0) {
          await condition(() => state.status !== 'pending', wait);
          continue;
        }
        setStatus('running');
        state.startedAt ??= iso();
        record(JobEvents.started, { attempt: state.attempt, step: state.completedSteps, startedAt: state.startedAt }, { actor: 'system' });
        return;
      }
      return; // running
    }
  }

  async function runOneStep(): Promise<void> {
    const step = state.completedSteps;
    state.currentStep = step;
    const steps = proxyActivities<JobStepActivities>({
      taskQueue: info.taskQueue,
      startToCloseTimeout: plan.stepTimeoutMs,
      heartbeatTimeout: plan.heartbeatTimeoutMs,
      // jobWorkflow retries itself, so that each failed attempt becomes an event with its backoff.
      retry: { maximumAttempts: 1 },
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      priority: { priorityKey: toPriorityKey(state.priority) },
    });
    const scope = new CancellationScope();
    stepScope = scope;
    state.stepInFlight = true;
    const startedAt = now();
    let outcome: RunJobStepOutput;
    try {
      outcome = await scope.run(() =>
        steps.runJobStep({
          jobId,
          type: input.type,
          input: input.input,
          step,
          totalSteps: state.totalSteps,
          attempt: state.attempt,
          checkpoint,
        }),
      );
    } catch (error) {
      if (isTerminalJobStatus(state.status) || state.status === 'paused' || timedOut) {
        // The step died while being stopped (e.g. its worker went away); keep the last checkpoint.
        if (isCancellation(error) && CancellationScope.current().consideredCancelled) throw error;
        return;
      }
      if (isCancellation(error)) throw error; // the workflow itself is being cancelled
      await onStepFailure(error, startedAt);
      return;
    } finally {
      stepScope = undefined;
      state.stepInFlight = false;
    }

    if (outcome.outcome === 'interrupted') {
      checkpoint = outcome.checkpoint;
      return;
    }
    // A step that finished as it was being paused still counts as done: it is never run again.
    checkpoint = undefined;
    stepDurationsMs.push(now() - startedAt);
    if (stepDurationsMs.length > DURATION_WINDOW) stepDurationsMs.shift();
    state.completedSteps = step + 1;
    state.currentStep = state.completedSteps < state.totalSteps ? state.completedSteps : null;
    state.progress = progressOf(state.completedSteps, state.totalSteps);
    state.estimatedRemainingS = estimateRemainingS();
    if (outcome.output.resultFiles?.length) {
      for (const f of outcome.output.resultFiles) if (!state.resultFiles.includes(f)) state.resultFiles.push(f);
    }
    if (outcome.output.result !== undefined) lastResult = outcome.output.result;
    progressDirty = true;
    if (state.completedSteps < state.totalSteps && now() - lastProgressAt >= (input.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS)) {
      flushProgress();
    }
  }

  /**
   * The step stopped heartbeating: its worker died (kill -9, OOM, power cut) or hung. That is not the
   * job's fault, so it does not spend the job's retry budget; it is bounded on its own
   * (DEFAULT_MAX_WORKER_LOSSES), and the time since the last heartbeat is not counted as running time.
   */
  async function onWorkerLost(message: string, lastHeartbeatAt: number | undefined, stepStartedAt: number): Promise<void> {
    const t = now();
    const lostMs = Math.max(0, t - Math.max(stepStartedAt, typeof lastHeartbeatAt === 'number' ? lastHeartbeatAt : stepStartedAt));
    if (runningSince !== null) runningSince = Math.min(t, runningSince + lostMs);
    state.workerLosses += 1;
    const why = `step ${state.completedSteps} stopped heartbeating (worker lost or step hung): ${message}`;
    if (state.workerLosses > DEFAULT_MAX_WORKER_LOSSES) {
      return failJob(WORKER_LOST, `${why}; ${state.workerLosses} step runs were lost, giving up`);
    }
    const delay = Math.min(plan.retry.initialIntervalMs, 1000);
    state.nextRetryAt = iso(t + delay);
    record(
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
    await condition(() => state.status !== 'running' || timedOut, delay);
    state.nextRetryAt = null;
  }

  async function onStepFailure(error: unknown, stepStartedAt: number): Promise<void> {
    const failure = error instanceof ActivityFailure ? error.cause : error;
    const message = failure instanceof Error ? failure.message : String(failure);
    let errorType = 'Error';
    let nonRetryable = false;
    if (failure instanceof ApplicationFailure) {
      errorType = failure.type ?? 'Error';
      nonRetryable = failure.nonRetryable || errorType === PERMANENT_ERROR_TYPE;
      const details = failure.details?.[0] as { checkpoint?: unknown } | undefined;
      if (details && details.checkpoint !== undefined) checkpoint = details.checkpoint;
    } else if (failure instanceof TimeoutFailure) {
      errorType = `Timeout${failure.timeoutType !== undefined ? `:${failure.timeoutType}` : ''}`;
      const last = failure.lastHeartbeatDetails as { checkpoint?: unknown; at?: number } | undefined;
      if (last && last.checkpoint !== undefined) checkpoint = last.checkpoint;
      if (failure.timeoutType === TimeoutType.HEARTBEAT) return onWorkerLost(message, last?.at, stepStartedAt);
    }
    const attempt = state.attempt;
    if (nonRetryable || attempt >= state.maxAttempts) {
      return failJob(errorType, message);
    }
    const delay = backoffMs(attempt - (state.maxAttempts - plan.retry.maxAttempts));
    const nextRetryAt = iso(now() + delay);
    state.nextRetryAt = nextRetryAt;
    state.error = message;
    state.errorType = errorType;
    record(JobEvents.attemptFailed, { attempt, error: message, errorType, nextRetryAt, step: state.completedSteps }, { actor: 'system' });
    state.attempt = attempt + 1;
    // Backoff: a pause, cancel or timeout ends the wait early.
    await condition(() => state.status !== 'running' || timedOut, delay);
    state.nextRetryAt = null;
  }

  function backoffMs(failedAttemptsThisRun: number): number {
    const r = plan.retry;
    const base = Math.min(r.maxIntervalMs, r.initialIntervalMs * Math.pow(r.backoffCoefficient, Math.max(0, failedAttemptsThisRun - 1)));
    const spread = base * r.jitter * (Math.random() * 2 - 1); // workflow Math.random is seeded: replay-safe
    return Math.max(1, Math.round(base + spread));
  }

  function completeJob(): void {
    setStatus('completed');
    state.progress = 100;
    state.message = null;
    state.error = null;
    state.errorType = null;
    record(
      JobEvents.completed,
      {
        completedSteps: state.completedSteps,
        totalSteps: state.totalSteps,
        result: (lastResult ?? null) as Record<string, unknown> | null,
        resultFiles: state.resultFiles,
        activeMs: state.activeMs,
        attempt: state.attempt,
      },
      { actor: 'system' },
    );
  }

  function failJob(errorType: string, message: string): void {
    setStatus('failed');
    state.error = message;
    state.errorType = errorType;
    state.nextRetryAt = null;
    record(
      JobEvents.failed,
      { error: message, errorType, attempt: state.attempt, completedSteps: state.completedSteps, activeMs: state.activeMs },
      { actor: 'system' },
    );
  }

  function flushProgress(): void {
    if (!progressDirty) return;
    progressDirty = false;
    lastProgressAt = now();
    record(
      JobEvents.progress,
      {
        completedSteps: state.completedSteps,
        totalSteps: state.totalSteps,
        progress: state.progress,
        currentStep: state.currentStep,
        estimatedRemainingS: state.estimatedRemainingS,
        resultFiles: state.resultFiles,
      },
      { actor: 'system' },
    );
  }

  function estimateRemainingS(): number | null {
    if (stepDurationsMs.length === 0) return null;
    const avg = stepDurationsMs.reduce((a, b) => a + b, 0) / stepDurationsMs.length;
    return Math.round(((state.totalSteps - state.completedSteps) * avg) / 100) / 10;
  }

  function timeoutMessage(): string {
    return `Job timed out after ${Math.round((input.timeoutMs ?? 0) / 1000)}s of running time (paused time not counted)`;
  }

  /** Per-job timeout on running time only: time spent paused or pending does not count. */
  async function watchTimeout(): Promise<void> {
    const limit = input.timeoutMs;
    if (!limit || limit <= 0) return;
    await CancellationScope.nonCancellable(async () => {
      for (;;) {
        if (isTerminalJobStatus(state.status)) return;
        if (state.status !== 'running') {
          await condition(() => state.status === 'running' || isTerminalJobStatus(state.status));
          continue;
        }
        const remaining = limit - activeMsNow();
        if (remaining <= 0) {
          timedOut = true;
          stepScope?.cancel();
          return;
        }
        await condition(() => state.status !== 'running', remaining);
      }
    });
  }

  async function cleanupAfterCancel(reason: string): Promise<void> {
    const steps = proxyActivities<JobStepActivities>({
      taskQueue: info.taskQueue,
      startToCloseTimeout: '1m',
      retry: { maximumAttempts: 3 },
    });
    await CancellationScope.nonCancellable(() =>
      steps.cleanupJob({ jobId, type: input.type, input: input.input, reason }).catch(() => undefined),
    );
  }

  /**
   * A cancelled job closes as Canceled in Temporal only if Temporal cancellation was requested (the
   * SDK closes an execution as Canceled only then). The API and batches request it right after their
   * cancel (closeAsCanceled); wait for that request briefly so the Web UI agrees with the record.
   */
  async function closeAsCanceledIfRequested(): Promise<void> {
    if (!cancelRequestedByTemporal && cancelRequestExpected) {
      await CancellationScope.nonCancellable(() => condition(() => cancelRequestedByTemporal, CANCEL_REQUEST_WAIT_MS));
    }
    if (cancelRequestedByTemporal) throw new CancelledFailure('Job cancelled');
  }

  function snapshot(): JobState {
    return {
      ...state,
      activeMs: activeMsNow(),
      resultFiles: [...state.resultFiles],
    };
  }
}

function progressOf(done: number, total: number): number {
  return total <= 0 ? 0 : Math.floor((done * 100) / total);
}
