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
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { TimeoutType } from '@temporalio/common';
import {
  DEFAULT_MAX_WORKER_LOSSES,
  DEFAULT_POOL,
  DEPENDENCY_FAILED,
  dependencyVerdict,
  poolWorkflowId,
  JOB_TIMEOUT,
  JobEvents,
  PERMANENT_ERROR_TYPE,
  WORKER_LOST,
  isTerminalJobStatus,
  jobStatusAfter,
  progressAfterStep,
  progressPercent,
  withResultFiles,
  withStepDuration,
  refuseJobControl,
  toPriorityKey,
  type Actor,
  type ControlAction,
  type ControlPayload,
  type JobProgressData,
  type JobStatus,
  type ResumeTarget,
} from '../domain/index.js';
import {
  dependencyFinishedSignal,
  poolReleaseSignal,
  poolRequestSignal,
  poolSlotGrantedSignal,
  watchDependencySignal,
} from './poolContract.js';
import type { JobStepActivities, RunJobStepInput, RunJobStepOutput } from '../activities/jobStepActivities.js';
import { JobPriorityKey, JobStatusKey } from '../temporal/searchAttributes.js';
import { installControlSurface, settleBeforeClose, type ControlSurface } from './controlSurface.js';
import { createEventOutbox, outboxMetadata, schedulerActivities, storeActivities, type EventOutbox } from './eventOutbox.js';
import type { NewEvent } from '../eventstore/index.js';
import {
  firstEventId,
  jobControl,
  jobSubmittedData,
  statusQuery,
  type ControlResult,
  type JobResult,
  type JobState,
  type JobWorkflowInput,
} from './jobContract.js';

export * from './jobContract.js';

const DEFAULT_PROGRESS_INTERVAL_MS = 1000;
const DEFAULT_CONTINUE_AS_NEW_AFTER = 8000;
/**
 * A step records its end's progress only while the job has at most this many result files: the list
 * goes into the step's input, which Temporal keeps in the history of every step (a job writing a file
 * per step would grow its history by the whole list each step). Beyond it the workflow records it.
 */
const MAX_RESULT_FILES_IN_STEP_INPUT = 50;
/** How long a job cancelled with `closeAsCanceled` waits for the Temporal cancel request that follows. */
const CANCEL_REQUEST_WAIT_MS = 30_000;
const TEMPORAL_CANCEL: Actor = { actor: 'external', reason: 'cancellation requested through Temporal' };
/** A queued job re-sends its request this often (in case its pool was restarted and lost the wake-up). */
const POOL_REQUEST_REPEAT_MS = 5 * 60_000;
/**
 * A queued job first waits this long for its grant before it asks its pool itself. The read model's
 * owner wakes the pool as soon as the job's JobQueued is applied (wakePoolsOfQueuedJobs), and the
 * grant usually comes within tens of ms; a request sent at once would cross it — two workflows
 * signalling each other, which Temporal resolves only after a lock timeout (~500 ms seen in the
 * histories). Under a burst the grant takes longer, and a job that asks meanwhile only adds work to
 * the pool it waits for: with 1 s, 125 of 200 jobs of a 600-job batch asked (each ask: a signal, its
 * confirmation's workflow task, a second timer). Still short, because a wake-up can be missed (30 s
 * left tests waiting on a lost one). Runs started before behaviour revision 1 keep 1 s (replay).
 */
const POOL_WAKE_WAIT_MS = 3_000;
/**
 * How long a job that just joined its line waits for its grant inside that workflow task (revision 9,
 * next to the read model: `awaitPoolGrant`). Usually the pool's pick answers within tens of ms; a pool
 * that is full answers later, by signal, as before — meanwhile the task is open and a control sent to
 * the job waits for it, so the wait stays short.
 */
const POOL_GRANT_IN_TASK_MS = 1_500;
const POOL_WAKE_WAIT_BEFORE_REVISION_1_MS = 1_000;
/** A blocked job re-checks its dependencies this often (one closed from outside sends no word). */
const DEPENDENCY_RECHECK_MS = 5 * 60_000;
/** ... and this often while a dependency is not known yet (a DAG batch item not started yet). */
const DEPENDENCY_UNKNOWN_RECHECK_MS = 2_000;
/**
 * A wait for a run-at time longer than twice this ends this much early and sets a second, short timer
 * for the rest. A timer's length is counted from the start of the workflow task that sets it (the
 * workflow's clock) but runs from the task's end, so a task that took long on a busy worker — a
 * submit burst — made the job start late by as much; the second timer is set from a task near the
 * run-at time, which is short unless the worker is busy then.
 */
const RUN_AT_LEAD_MS = 2_000;

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
    pool: input.pool ?? input.plan.pool ?? DEFAULT_POOL,
    weight: input.weight ?? input.plan.weight ?? 1,
    dependsOn: (input.dependsOn ?? []).map((d) => ({ jobId: d.jobId, condition: d.condition, state: 'waiting' as const })),
    runAt: input.runAt ?? null,
    priority: input.priority,
    completedSteps,
    totalSteps: input.plan.totalSteps,
    progress: progressPercent(completedSteps, input.plan.totalSteps),
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
  private readonly correlationId: string;
  private readonly state: JobState;
  private checkpoint: unknown;
  private stepDurationsMs: number[];
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
  /** Our pool slot: none, asked for, or held (given back on pause, between attempts and at the end). */
  private slot: 'none' | 'waiting' | 'held';
  /** Jobs that asked to be told when this one ends (dependents). */
  private readonly dependents: Set<string>;
  /** Dependencies we asked to tell us when they end. */
  private readonly watching = new Set<string>();
  /** Set once dependents were told of our end: later askers are answered at once. */
  private endAnnounced = false;
  /** The control surface (its ids of controls taken go into a new run). */
  private controls: ControlSurface | undefined;
  /** The slot we hold came before our first task ran (see onSlotGranted). */
  private earlyGrant = false;
  /** Outbox number of the JobResumed that put the job back in its pool's line (0: none pending). */
  private resumedIntoLineSeq = 0;
  /** Signals to pools and dependents still on their way (awaited before the run closes). */
  private readonly outgoing: Promise<unknown>[] = [];
  private readonly scheduler = schedulerActivities();
  /** The JobStatus search attribute as last upserted (or as the run started with). */
  private upsertedStatus: JobStatus;
  private statusUpsertQueued = false;
  /** Waiting for the grant within the task (see acquireSlot): the status the task ends in is not known yet. */
  private statusUpsertHeld = false;
  /** The wait for the grant within the task is on (see endGrantWait). */
  private grantWaitInFlight = false;
  /** Revision 9: a job next to the read model waits for its grant within the task that queued it. */
  private readonly grantsInTask: boolean;
  private readonly poolWakeWaitMs: number;
  /**
   * Revision 6: a wait that is over is one resolved promise (no scope, no condition), and the waits
   * of the run's end share one scope (see eventOutbox's `plainWaits`: each promise costs the SDK a
   * captured stack). Runs started before keep their waits as they were for their whole life: the
   * order in which coroutines resume within a task decides the order of their commands, which a
   * replay must find again.
   */
  private readonly plainWaits: boolean;
  /**
   * Revision 8: a control is taken after the rest of its workflow task (see controlSurface's
   * `takeAfterTaskNews`): a step's end that came with it counts first — the job completes, or takes
   * the control before its next step starts — and the run closes only once every control that came
   * is taken and every event recorded is in the store.
   */
  private readonly controlsAfterTaskNews: boolean;

  constructor(private readonly input: JobWorkflowInput) {
    const carried = input.carried;
    this.plan = input.plan;
    this.state = carried?.state ?? initialJobState(input, input.submittedAt ?? this.iso());
    this.checkpoint = carried?.checkpoint;
    this.stepDurationsMs = carried?.stepDurationsMs ?? [];
    this.lastProgressAt = carried?.lastProgressAt ?? 0;
    this.slot = carried?.holdsSlot ? 'held' : 'none';
    this.dependents = new Set(carried?.dependents ?? []);
    this.runningSince = this.state.status === 'running' ? Date.now() : null;
    this.upsertedStatus = this.state.status;
    this.poolWakeWaitMs = (input.revision ?? 0) >= 1 ? POOL_WAKE_WAIT_MS : POOL_WAKE_WAIT_BEFORE_REVISION_1_MS;
    this.plainWaits = (input.revision ?? 0) >= 6;
    this.controlsAfterTaskNews = this.since(8, 'controls-after-task-news');
    // Runs started before revision 9 never wait for it so (no patch: they keep their path for life).
    this.grantsInTask = (input.revision ?? 0) >= 9 && input.askPoolLocally === true;
    // Events are recorded here, appended in order by one flusher (see eventOutbox.ts).
    this.correlationId = input.correlationId ?? input.batchId ?? input.jobId;
    const { appendEvents } = storeActivities(input.storeAccess);
    this.outbox = createEventOutbox({
      streamId: input.jobId,
      correlationId: this.correlationId,
      baseData: { jobId: input.jobId },
      // A reset run sends its JobReset ahead of each append (see resetEvent); other runs as they were.
      appendEvents: this.isResetRun() ? (request) => appendEvents({ ...request, before: [this.resetEvent()] }) : appendEvents,
      plainWaits: this.plainWaits,
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
        // Controls that came with Temporal's cancel are taken first (revision 8): the API and batches
        // send their cancel and then request Temporal's, and the record names who cancelled.
        if (this.controls!.waiting()) await this.controls!.taken();
        if (!isTerminalJobStatus(this.state.status)) this.cancel(TEMPORAL_CANCEL);
        await this.cleanupAfterCancel('cancellation requested through Temporal');
        await this.outbox.flushed();
        await this.announceEnd();
        if (this.controlsAfterTaskNews) await settleBeforeClose(this.controls!, this.outbox);
      });
      throw error;
    }
    if (this.state.status === 'cancelled') await this.cleanupAfterCancel('cancelled');
    await this.outbox.flushed();
    if (this.plainWaits) {
      await CancellationScope.nonCancellable(async () => {
        await this.announceEnd();
        if (!allHandlersFinished()) await condition(allHandlersFinished);
        if (this.outgoing.length > 0) await Promise.all(this.outgoing);
      });
    } else {
      await CancellationScope.nonCancellable(() => this.announceEnd());
      await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
      await CancellationScope.nonCancellable(() => Promise.all(this.outgoing));
    }
    const closeAsCanceled = this.state.status === 'cancelled' && (await this.closesAsCanceled());
    if (this.controlsAfterTaskNews) await settleBeforeClose(this.controls!, this.outbox);
    if (closeAsCanceled) throw new CancelledFailure('Job cancelled');
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
  private transition(type: string, data: Record<string, unknown>, who: Actor, eventId?: string): number {
    this.setStatus(jobStatusAfter(type, data, this.state.status));
    return this.outbox.record(type, data, who, eventId);
  }

  /**
   * Whether this run takes the change `patchId`, made in behaviour revision `revision`: yes if it was
   * started with that revision or later (no marker), else as patched() says (runs from before replay).
   */
  private since(revision: number, patchId: string): boolean {
    return (this.input.revision ?? 0) >= revision || patched(patchId);
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
    if (status === previous) return;
    // One upsert per workflow task, with the status the task ends in (queued → running in one task is
    // one history event, not two). A microtask runs before the task's commands are sent.
    if (!this.since(1, 'status-upsert-per-task')) upsertSearchAttributes([{ key: JobStatusKey, value: status }]);
    else if (!this.statusUpsertQueued) {
      this.statusUpsertQueued = true;
      void Promise.resolve().then(() => {
        this.statusUpsertQueued = false;
        // Queued for a grant that may come within this task: acquireSlot upserts once it is known.
        if (this.statusUpsertHeld) return;
        this.upsertStatus();
      });
    }
  }

  private upsertStatus(): void {
    if (this.state.status === this.upsertedStatus) return;
    this.upsertedStatus = this.state.status;
    upsertSearchAttributes([{ key: JobStatusKey, value: this.upsertedStatus }]);
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

  /**
   * Whether this run was made by a reset (`temporal workflow reset`, the Web UI's Reset): it carries
   * its base run's history up to the reset point, replayed — the events recorded there are in the log
   * already — and goes on from there with a run id of its own. Another run of the job (a first run, a
   * retry, a continue-as-new) is its own original run.
   */
  private isResetRun(): boolean {
    return this.info.runId !== this.info.originalExecutionRunId;
  }

  /**
   * A reset run's JobReset: that the job goes on in this run, and where it stands in it. The run's
   * first appends are its base run's, replayed from their records and never executed again, so no
   * point of its code is sure to append it for real: it goes ahead of every append of the run
   * (`before`), and its id makes all but the first a no-op. Its data is the run's state at that
   * append, which the events of the append then carry on from (the projection re-bases the row on it).
   */
  private resetEvent(): NewEvent {
    const { info, state } = this;
    return {
      eventId: `${this.input.jobId}:${info.runId}:reset`,
      type: JobEvents.reset,
      data: {
        jobId: this.input.jobId,
        at: this.iso(),
        runId: info.runId,
        status: state.status,
        attempt: state.attempt,
        completedSteps: state.completedSteps,
        progress: state.progress,
        currentStep: state.currentStep,
        startedAt: state.startedAt,
        completedAt: state.completedAt,
        pausedAt: state.pausedAt,
        nextRetryAt: state.nextRetryAt,
        error: state.error,
        errorType: state.errorType,
      },
      metadata: outboxMetadata(
        { actor: 'temporal:reset', reason: 'the workflow was reset through Temporal (temporal workflow reset, the Web UI)' },
        { correlationId: this.correlationId, workflowId: info.workflowId, runId: info.runId },
      ),
    };
  }

  private recordFirstEvent(): void {
    const { input, state } = this;
    // A reset to the run's first task records its first event again: under the id its original run
    // gave it (a no-op in the store), not as a second JobSubmitted.
    const eventId = this.isResetRun() ? firstEventId(input.jobId, this.info.originalExecutionRunId) : undefined;
    const who = { actor: input.actor ?? 'system', ...(input.retryOf?.reason ? { reason: input.retryOf.reason } : {}) };
    if (input.retryOf) {
      const data = {
        attempt: state.attempt,
        maxAttempts: state.maxAttempts,
        completedSteps: state.completedSteps,
        runId: this.info.runId,
      };
      this.transition(JobEvents.retried, data, who, eventId);
      return;
    }
    this.transition(JobEvents.submitted, jobSubmittedData(input, state.createdAt), who, eventId);
  }

  // ---- controls (rules: domain refuseJobControl) -------------------------------------------------------

  private installHandlers(): void {
    setHandler(statusQuery, () => this.snapshot());
    this.controls = installControlSurface<ControlResult>(
      jobControl,
      {
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
      },
      { carriedIds: this.input.carried?.controlIds, takeAfterTaskNews: this.controlsAfterTaskNews },
    );
    setHandler(poolSlotGrantedSignal, ({ pool }) => this.onSlotGranted(pool));
    setHandler(watchDependencySignal, ({ dependentId }) => {
      if (this.endAnnounced) this.tellDependent(dependentId);
      else this.dependents.add(dependentId);
    });
    setHandler(dependencyFinishedSignal, ({ jobId, status }) => this.onDependencyOutcome(jobId, status));
    // `temporal workflow cancel` (or the Web UI's cancel) is the same as the cancel signal.
    // Taken as the controls are (after the task's other news, since revision 8).
    CancellationScope.current().cancelRequested.catch(() =>
      this.controls!.later(() => {
        this.cancelRequestedByTemporal = true;
        if (!isTerminalJobStatus(this.state.status)) this.cancel(TEMPORAL_CANCEL);
      }),
    );
  }

  private pause(who: Actor): number {
    this.endGrantWait();
    this.flushProgress(); // the paused row shows the progress made so far
    const from = this.state.status;
    this.state.pausedFrom = from;
    this.state.pausedAt = this.iso();
    const seq = this.transition(JobEvents.paused, { from }, who);
    // A running step stops at its next heartbeat and hands back its checkpoint; then the pool slot
    // goes back (untilRunnable), so the pool's limit holds while the step winds down.
    this.stepScope?.cancel();
    return seq;
  }

  /** A resumed job goes back into line: for its dependencies, its time, or a pool slot. */
  private resume(who: Actor): number {
    const from = this.state.pausedFrom;
    let to: ResumeTarget = this.nextWaitingStatus();
    this.state.pausedFrom = null;
    this.state.pausedAt = null;
    // Resumed before its paused step stopped: the job still holds its slot and its step is still in
    // flight, so it is running again at once. When that step has wound down (it heard of the pause),
    // the next one starts from its checkpoint with nothing to record: no JobStarted, no status change,
    // no local activity in that task. Runs from before this went back in line until then (replay).
    if (to === 'queued' && this.slot === 'held' && this.state.stepInFlight && this.since(4, 'resumed-step-runs-on'))
      to = 'running';
    // Back in line still holding the slot (resumed as its paused step let it go): it runs on at once,
    // with no grant to wait for — said in the event, so that its pool is not woken for it
    // (wakePoolsOfQueuedJobs).
    const holdingSlot = to === 'queued' && this.slot === 'held';
    const data = { to, from, ...(to === 'queued' ? this.queuedData() : {}), ...(holdingSlot ? { holdingSlot } : {}) };
    const seq = this.transition(JobEvents.resumed, data, who);
    // Back in line: like a JobQueued, this event wakes the pool (wakePoolsOfQueuedJobs).
    if (to === 'queued') this.resumedIntoLineSeq = seq;
    return seq;
  }

  private cancel(who: Actor, payload?: ControlPayload, extra: Record<string, unknown> = {}): number {
    this.endGrantWait();
    if (payload?.closeAsCanceled === true) this.cancelRequestExpected = true;
    this.flushProgress();
    const from = this.state.status;
    this.state.pausedFrom = null;
    const seq = this.transition(JobEvents.cancelled, { from, completedSteps: this.state.completedSteps, ...extra }, who);
    this.stepScope?.cancel();
    return seq;
  }

  private reprioritize(priority: number, who: Actor): number {
    this.endGrantWait();
    const from = this.state.priority;
    this.state.priority = priority;
    upsertSearchAttributes([{ key: JobPriorityKey, value: priority }]);
    // The running step keeps its slot; later steps are dispatched with the new priority key.
    return this.transition(JobEvents.reprioritized, { from, to: priority }, who);
  }

  /**
   * Whether a cancelled job closes as Canceled in Temporal: only if Temporal cancellation was requested
   * (the SDK closes an execution as Canceled only then). The API and batches request it right after
   * their cancel (closeAsCanceled); wait for that request briefly so the Web UI agrees with the record.
   */
  private async closesAsCanceled(): Promise<boolean> {
    if (!this.cancelRequestedByTemporal && this.cancelRequestExpected) {
      await CancellationScope.nonCancellable(() => condition(() => this.cancelRequestedByTemporal, CANCEL_REQUEST_WAIT_MS));
    }
    return this.cancelRequestedByTemporal;
  }

  // ---- the steps -------------------------------------------------------------------------------------

  private async runSteps(): Promise<void> {
    const { state } = this;
    while (!isTerminalJobStatus(state.status)) {
      // Running already (the step before ended): nothing to wait for, so no wait (revision 6).
      if (!(this.plainWaits && state.status === 'running')) await this.untilRunnable();
      if (isTerminalJobStatus(state.status)) return;
      if (this.timedOut) return this.failJob(JOB_TIMEOUT, this.timeoutMessage());
      if (state.completedSteps >= state.totalSteps) return this.completeJob();
      // A control that came with the step's end is taken before the next step starts (revision 8).
      if (this.controls!.waiting()) {
        await this.controls!.taken();
        continue;
      }
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
    if (this.controlsAfterTaskNews) await settleBeforeClose(this.controls!, this.outbox);
    else {
      await this.outbox.flushed();
      await condition(allHandlersFinished);
    }
    this.stopClock();
    const { checkpoint, stepDurationsMs, lastProgressAt } = this;
    return continueAsNew<typeof jobWorkflow>({
      ...this.input,
      carried: {
        state: this.snapshot(),
        checkpoint,
        stepDurationsMs,
        lastProgressAt,
        holdsSlot: this.slot === 'held',
        dependents: [...this.dependents],
        ...this.controls?.carried(),
      },
    });
  }

  /**
   * Waits until the job may run: while paused, blocked by dependencies, scheduled for later, or queued
   * for a pool slot (each recorded as its status); marks it running once it holds a slot.
   */
  private async untilRunnable(): Promise<void> {
    const { state } = this;
    for (;;) {
      if (isTerminalJobStatus(state.status) || this.timedOut) return;
      if (state.status === 'paused') {
        this.flushProgress();
        this.releaseSlot();
        await condition(() => state.status !== 'paused');
        continue;
      }
      if (state.status === 'running') return;
      const next = this.nextWaitingStatus();
      if (next !== 'queued' && this.earlyGrant) this.releaseSlot(); // we must wait for more first
      this.earlyGrant = false;
      const enteredSeq = state.status !== next ? this.enterWaiting(next) : 0;
      if (next === 'blocked') {
        await this.waitForDependencies();
        continue;
      }
      if (next === 'scheduled') {
        const remaining = Date.parse(state.runAt!) - Date.now();
        // Runs begun before the two-stage wait keep their one timer (replay).
        const lead = remaining > 2 * RUN_AT_LEAD_MS && this.since(1, 'run-at-two-timers') ? RUN_AT_LEAD_MS : 0;
        await condition(() => state.status !== 'scheduled', Math.max(1, remaining - lead));
        continue;
      }
      // Just queued: our JobQueued wakes the pool (see POOL_WAKE_WAIT_MS); so does the JobResumed
      // that put us back in line (runs from before that keep asking at once: replay). Queued already
      // otherwise (back from a wait that left the status queued): nothing recorded, we ask at once.
      const resumedSeq = this.resumedIntoLineSeq;
      this.resumedIntoLineSeq = 0;
      const lineSeq = enteredSeq || (resumedSeq > 0 && this.since(1, 'pool-wake-on-resume') ? resumedSeq : 0);
      // Holding the slot already (an early grant; a resume as the paused step let it go — one while
      // the step was still in flight goes straight to running since revision 4): no await, so the
      // task's one status upsert (a microtask) sees running, not queued. Older runs: replay.
      const holding = this.slot === 'held' && this.since(3, 'held-slot-runs-at-once');
      // Only a job that just joined its line waits for its grant within the task: one resumed into it
      // has an Update to answer in this task, which Temporal gets only once the task completes.
      if (!holding && !(await this.acquireSlot(lineSeq, enteredSeq > 0))) continue;
      state.startedAt ??= this.iso();
      this.transition(
        JobEvents.started,
        { attempt: state.attempt, step: state.completedSteps, startedAt: state.startedAt, pool: state.pool },
        { actor: 'system' },
      );
      return;
    }
  }

  /** Where a job that may not run yet waits: its dependencies first, then its time, then its pool. */
  private nextWaitingStatus(): 'blocked' | 'scheduled' | 'queued' {
    if (this.state.dependsOn.some((d) => d.state === 'waiting')) return 'blocked';
    if (this.state.runAt && Date.parse(this.state.runAt) > Date.now()) return 'scheduled';
    return 'queued';
  }

  private queuedData() {
    return { pool: this.state.pool, weight: this.state.weight, priority: this.state.priority };
  }

  /** Records the wait; returns the outbox number of its event. */
  private enterWaiting(status: 'blocked' | 'scheduled' | 'queued'): number {
    const who = { actor: 'system' };
    if (status === 'blocked') {
      const waitingFor = this.state.dependsOn
        .filter((d) => d.state === 'waiting')
        .map(({ jobId, condition }) => ({ jobId, condition }));
      return this.transition(JobEvents.blocked, { waitingFor }, who);
    }
    if (status === 'scheduled') return this.transition(JobEvents.scheduled, { runAt: this.state.runAt }, who);
    return this.transition(JobEvents.queued, this.queuedData(), who);
  }

  // ---- the pool slot -------------------------------------------------------------------------------

  /**
   * Asks the pool for a slot and waits for it; false if the job stopped waiting (paused, cancelled).
   * `queuedSeq`: the outbox number of the JobQueued (or JobResumed into the line) just recorded (0: none).
   * `mayWaitInTask`: the grant may be waited for within this task (revision 9, see grantWithinTask).
   */
  private async acquireSlot(queuedSeq: number, mayWaitInTask = false): Promise<boolean> {
    const { state } = this;
    if (this.slot === 'held') return true; // carried over continue-as-new
    // Runs begun before the pools were woken from the read model ask at once (replay).
    let waitForWake = queuedSeq > 0 && this.since(1, 'pool-wake-before-request');
    // A grant can come as soon as our JobQueued is in the log (the wake), even before we see the flush.
    if (waitForWake) this.slot = 'waiting';
    // Revision 9: the grant may come within this task; its one JobStatus upsert waits to know which.
    const inTask = waitForWake && mayWaitInTask && this.grantsInTask;
    if (inTask) this.statusUpsertHeld = true;
    let grantedDuringFlush: boolean;
    let grantedInTask = false;
    try {
      // The pool reads its line from the read model: our JobQueued must be in the log before we ask.
      await this.outbox.flushed();
      // The grant itself may have come while the flush was on its way: the pool, woken once our JobQueued
      // was committed, can answer before the append's completion reaches us. Kept since revision 7;
      // before, it was overwritten here and the pool, which counts us a holder, never granted again.
      grantedDuringFlush = this.holdsSlot() && this.since(7, 'grant-during-flush-kept');
      if (!grantedDuringFlush) this.slot = 'waiting';
      // Our JobQueued was in the store already (a task lost after its append): its wake-up went out then,
      // and its grant may have been handed back meanwhile. Ask at once.
      if (waitForWake && this.outbox.foundStored(queuedSeq)) waitForWake = false;
      if (inTask && waitForWake && !grantedDuringFlush && state.status === 'queued' && !this.timedOut)
        grantedInTask = await this.grantWithinTask(POOL_GRANT_IN_TASK_MS);
    } finally {
      if (inTask) {
        this.statusUpsertHeld = false;
        // Granted: the task records JobStarted next, and upserts running. Otherwise it waits: queued.
        if (!(grantedInTask && state.status === 'queued' && !this.timedOut)) this.upsertStatus();
      }
    }
    for (let round = 0; ; round++) {
      if (state.status !== 'queued' || this.timedOut || grantedDuringFlush || grantedInTask) break;
      const askNow = round > 0 || !waitForWake;
      // A grant told within an earlier try of the task that queued us, its answer lost with that try,
      // is in the pool's record (the pool counts us a holder and would never grant us again).
      if (askNow && inTask && (await this.grantWithinTask(0))) break;
      if (askNow) await this.signalPool(poolRequestSignal);
      const changed = await condition(
        () => this.slot === 'held' || state.status !== 'queued' || this.timedOut,
        askNow ? POOL_REQUEST_REPEAT_MS : this.poolWakeWaitMs,
      );
      if (changed) break;
    }
    const granted = this.holdsSlot(); // (a method: the grant arrives in a signal handler meanwhile)
    if (granted && state.status === 'queued' && !this.timedOut) return true;
    if (granted) this.releaseSlot();
    this.slot = 'none';
    return false;
  }

  private holdsSlot(): boolean {
    return this.slot === 'held';
  }

  /**
   * Waits for the pool's grant within this workflow task, in the process that runs the pools' picks
   * (awaitPoolGrant): a pick tells us there instead of signalling, and this task goes on to record
   * JobStarted and start the step. True if we hold the slot; false: it comes by signal, as before.
   * `waitMs` 0: only look whether a pick recorded our grant.
   */
  private async grantWithinTask(waitMs: number): Promise<boolean> {
    const request = { pool: this.state.pool, jobId: this.input.jobId, position: this.outbox.lastPosition(), waitMs };
    const scheduler = schedulerActivities('local', { once: true });
    let answer: string;
    this.grantWaitInFlight = waitMs > 0;
    try {
      answer = await scheduler.awaitPoolGrant(request);
    } catch {
      // Failed or timed out: a grant told to it would be lost with it (nobody signals a job told
      // there), so look once more: the pick's record has it.
      answer = await scheduler.awaitPoolGrant({ ...request, waitMs: 0 }).catch(() => 'unavailable');
    } finally {
      this.grantWaitInFlight = false;
    }
    // A control taken meanwhile (paused, cancelled): untilRunnable hands a slot we no longer need back.
    if (answer === 'granted' && this.slot === 'waiting') this.slot = 'held';
    return this.holdsSlot();
  }

  /**
   * A control came while we wait for our grant within the task: Temporal gets its answer (an Update's)
   * only when the task completes, so the wait ends now (a grant told meanwhile still counts).
   */
  private endGrantWait(): void {
    if (!this.grantWaitInFlight) return;
    this.grantWaitInFlight = false;
    this.sendLater(schedulerActivities('local', { once: true }).endPoolGrantWait({ jobId: this.input.jobId }));
  }

  private onSlotGranted(pool: string): void {
    if (pool === this.state.pool && this.slot === 'waiting' && this.state.status === 'queued') {
      this.slot = 'held';
      return;
    }
    // An early grant: the pool, woken by the submit, gave us the slot before our first task ran. Kept
    // for the line we are about to join (acquireSlot finds it held); given back if we wait for
    // something else first (untilRunnable). Runs before this existed never saw one (replay-safe).
    if (
      pool === this.state.pool &&
      this.slot === 'none' &&
      this.state.status === 'pending' &&
      this.since(1, 'early-pool-grant')
    ) {
      this.slot = 'held';
      this.earlyGrant = true;
      return;
    }
    if (pool === this.state.pool && this.slot === 'held') return; // a repeated grant
    // We no longer wait (paused, cancelled, finished): hand it straight back.
    this.sendLater(this.signalPool(poolReleaseSignal, pool));
  }

  /** Gives the slot back (no-op if none is held). */
  private releaseSlot(): void {
    if (this.slot === 'held') this.sendLater(this.signalPool(poolReleaseSignal));
    this.slot = 'none';
  }

  private async signalPool(signal: typeof poolRequestSignal, pool = this.state.pool): Promise<void> {
    const message = { jobId: this.input.jobId, position: this.outbox.lastPosition() };
    // In the process that owns the read model, a request goes out as the pools' other wake-ups do
    // (PoolWaker): folded with them, and held while the pool continues as new — a signal arriving
    // during the pool's last task makes Temporal refuse it (a full replay of the pool's run).
    if (signal === poolRequestSignal && this.input.askPoolLocally === true && this.since(2, 'pool-ask-through-waker')) {
      try {
        if (await schedulerActivities('local', { once: true }).wakePool({ pool, ...message })) return;
      } catch {
        // Not served here (the workers moved to a process of their own since the job started; the
        // SDK refuses the local activity): signal the pool after all.
      }
    }
    const handle = getExternalWorkflowHandle(poolWorkflowId(this.info.taskQueue, pool));
    try {
      await handle.signal(signal, message);
    } catch {
      // The pool's workflow is not running (a pool nobody started, or it was terminated): start it.
      await this.scheduler.ensurePool({ name: pool });
      await handle.signal(signal, message).catch(() => undefined);
    }
  }

  // ---- dependencies --------------------------------------------------------------------------------

  /** Asks each unmet dependency to tell us when it ends; a dependency that has ended already (or
   * cannot be reached) is looked up in the read model, so one that finished before we asked counts. */
  private async waitForDependencies(): Promise<void> {
    const { state } = this;
    const unknown: string[] = [];
    for (const dep of state.dependsOn) {
      if (dep.state !== 'waiting' || this.watching.has(dep.jobId)) continue;
      try {
        await getExternalWorkflowHandle(dep.jobId).signal(watchDependencySignal, { dependentId: this.input.jobId });
        this.watching.add(dep.jobId);
      } catch {
        unknown.push(dep.jobId);
      }
    }
    let unresolved = false;
    if (unknown.length > 0) {
      const outcomes = await this.scheduler.jobOutcomes({ jobIds: unknown });
      for (const jobId of unknown) {
        const status = outcomes[jobId];
        if (status && isTerminalJobStatus(status)) this.onDependencyOutcome(jobId, status);
        else unresolved = true; // not started yet, or between a run and its retry: ask again soon
      }
    }
    const done = () => state.status !== 'blocked' || !state.dependsOn.some((d) => d.state === 'waiting');
    const settled = await condition(done, unresolved ? DEPENDENCY_UNKNOWN_RECHECK_MS : DEPENDENCY_RECHECK_MS);
    if (!settled) this.watching.clear(); // ask again (and look up the ones that ended without a word)
  }

  private onDependencyOutcome(jobId: string, status: string): void {
    const { state } = this;
    if (isTerminalJobStatus(state.status)) return;
    const dep = state.dependsOn.find((d) => d.jobId === jobId && d.state === 'waiting');
    if (!dep) return;
    const verdict = dependencyVerdict(dep.condition, status);
    if (verdict === 'waiting') return;
    dep.state = verdict;
    const data = { dependency: jobId, dependencyStatus: status, condition: dep.condition };
    if (verdict === 'met') {
      this.outbox.record(JobEvents.dependencyMet, data, { actor: 'system' });
      return;
    }
    // It can never be met: the job will not run. Its own dependents hear of it at its end.
    const reason = `dependency ${jobId} ended ${status}; this job needed it ${dep.condition}`;
    this.state.error = reason;
    this.state.errorType = DEPENDENCY_FAILED;
    this.cancel({ actor: 'system', reason }, undefined, { ...data, errorType: DEPENDENCY_FAILED });
  }

  /** Tells every dependent how this run ended, and gives the pool slot back. */
  private async announceEnd(): Promise<void> {
    // A finished job's slot is freed by its pool once the read model shows the end (the read model's
    // owner wakes the pool: wakePoolsOfEndedJobs): no signal, so no workflow task waiting for Temporal
    // to confirm it, and no turn at the pool's lock. Runs begun before this signal it (replay).
    if (isTerminalJobStatus(this.state.status) && this.slot === 'held' && this.since(1, 'release-at-end-by-read-model'))
      this.slot = 'none';
    this.releaseSlot();
    if (!isTerminalJobStatus(this.state.status)) return;
    this.endAnnounced = true;
    for (const dependentId of this.dependents) this.tellDependent(dependentId);
    if (this.plainWaits && this.outgoing.length === 0) return;
    await Promise.all(this.outgoing);
  }

  private tellDependent(dependentId: string): void {
    const message = { jobId: this.input.jobId, status: this.state.status };
    this.sendLater(getExternalWorkflowHandle(dependentId).signal(dependencyFinishedSignal, message));
  }

  /**
   * A signal nobody waits for now (the run awaits `outgoing` before it closes). Its failure is handled
   * here: the receiver may have ended (a dependent, a terminated pool), and a scope being cancelled
   * refuses a send at once (Temporal's cancel while a grant is handed back). An unhandled rejection
   * fails the workflow task — again at every retry, so the job would never close.
   */
  private sendLater(signal: Promise<void>): void {
    this.outgoing.push(signal.catch(() => undefined));
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
      const request: RunJobStepInput = {
        jobId: this.input.jobId,
        type: this.input.type,
        input: this.input.input,
        step,
        totalSteps: state.totalSteps,
        attempt: state.attempt,
        checkpoint: this.checkpoint,
        ...this.endProgressRequest(step),
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
    this.onStepDone(step, outcome.output, Date.now() - startedAt, outcome.progress);
  }

  /**
   * Behaviour revision 5: the step records the job's JobProgress for its own end (when one is due by
   * then), so the task that sees a step end holds no append — with many jobs running, those tasks come
   * in bursts, and a control waits behind them. Its id is the one the workflow would use
   * (progressEventId): a step run again after its completion was lost (a worker gone after the
   * append) writes nothing new.
   * Not for the last step (JobCompleted says it all), nor for a job with many result files (see
   * MAX_RESULT_FILES_IN_STEP_INPUT), nor where the step has no store to write to (it then returns no
   * progress, and the workflow records it as before).
   */
  private endProgressRequest(step: number): Pick<RunJobStepInput, 'endProgress'> {
    if (step + 1 >= this.state.totalSteps || this.state.resultFiles.length > MAX_RESULT_FILES_IN_STEP_INPUT) return {};
    if (!this.stepsRecordProgress()) return {};
    const { info } = this;
    return {
      endProgress: {
        eventId: this.progressEventId(step + 1),
        dueAt: this.lastProgressAt + this.progressIntervalMs(),
        // Never changed in place (withStepDuration and withResultFiles give new lists): no copies.
        stepDurationsMs: this.stepDurationsMs,
        resultFiles: this.state.resultFiles,
        metadata: outboxMetadata(
          { actor: 'system' },
          { correlationId: this.correlationId, workflowId: info.workflowId, runId: info.runId },
        ),
      },
    };
  }

  private stepsRecordProgress(): boolean {
    return this.since(5, 'step-records-its-end-progress');
  }

  /**
   * Since revision 5, one JobProgress per run and number of completed steps, whoever records it (the
   * step, or the workflow when the step did not): a step whose completion was lost after it recorded
   * its progress, then run again, can never add a second one for the same steps.
   */
  private progressEventId(completedSteps: number): string {
    return `${this.input.jobId}:${this.info.runId}:progress:${completedSteps}`;
  }

  private progressIntervalMs(): number {
    return this.input.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;
  }

  private onStepDone(
    step: number,
    output: Extract<RunJobStepOutput, { outcome: 'completed' }>['output'],
    durationMs: number,
    recorded: JobProgressData | undefined,
  ): void {
    const { state } = this;
    this.checkpoint = undefined;
    this.stepDurationsMs = withStepDuration(this.stepDurationsMs, durationMs);
    const after = progressAfterStep({
      step,
      totalSteps: state.totalSteps,
      durationsMs: this.stepDurationsMs,
      resultFiles: withResultFiles(state.resultFiles, output.resultFiles),
    });
    state.completedSteps = after.completedSteps;
    state.currentStep = after.currentStep;
    state.progress = after.progress;
    // When the step recorded this progress itself (endProgressRequest), its estimate, timed by the
    // step, is the one the record shows.
    state.estimatedRemainingS = recorded ? recorded.estimatedRemainingS : after.estimatedRemainingS;
    state.resultFiles = after.resultFiles;
    if (output.result !== undefined) this.lastResult = output.result;
    if (recorded) {
      this.progressDirty = false;
      this.lastProgressAt = Date.now();
      return;
    }
    this.progressDirty = true;
    if (state.completedSteps < state.totalSteps && Date.now() - this.lastProgressAt >= this.progressIntervalMs())
      this.flushProgress();
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

  /** Waits before the next attempt with the pool slot given back (status `retrying`); a pause, cancel
   * or timeout ends the wait early. Then the job queues for a slot again. */
  private async backOff(delayMs: number): Promise<void> {
    this.releaseSlot();
    await condition(() => this.state.status !== 'retrying' || this.timedOut, delayMs);
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
    } satisfies JobProgressData;
    const eventId = this.stepsRecordProgress() ? this.progressEventId(state.completedSteps) : undefined;
    this.transition(JobEvents.progress, data, { actor: 'system' }, eventId);
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
