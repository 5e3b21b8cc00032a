/**
 * batchWorkflow: a batch of jobs as one lasting object. Each job runs as its own jobWorkflow (a child,
 * so it keeps every job control), at most `concurrency` at once (sliding window). The batch can be
 * paused, resumed, reprioritized and cancelled as a unit; it forwards each change to its unfinished
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
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { EventStoreActivities } from '../activities/eventStoreActivities.js';
import type { BatchActivities } from '../activities/batchActivities.js';
import { BatchStatusKey } from '../temporal/searchAttributes.js';
import { createEventOutbox, storeActivities } from './eventOutbox.js';
import {
  BatchEvents,
  batchCancelSignal,
  batchCancelUpdate,
  batchPauseSignal,
  batchPauseUpdate,
  batchReprioritizeSignal,
  batchReprioritizeUpdate,
  batchResumeSignal,
  batchResumeUpdate,
  batchStatusQuery,
  isTerminalBatchStatus,
  type BatchControlResult,
  type BatchState,
  type BatchStatus,
  type BatchWorkflowInput,
  type PreparedBatchItem,
} from './batchContract.js';
import {
  INVALID_ARGUMENT,
  INVALID_TRANSITION,
  MAX_PRIORITY,
  MIN_PRIORITY,
  cancelSignal,
  jobSearchAttributes,
  jobWorkflow,
  pauseSignal,
  reprioritizeSignal,
  resumeSignal,
  toPriorityKey,
  type ControlPayload,
  type JobWorkflowInput,
  type ReprioritizePayload,
} from './jobWorkflow.js';

export * from './batchContract.js';

const PAGE = 200;
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
  const info = workflowInfo();
  const batchId = input.batchId;
  const store = storeActivities<EventStoreActivities & BatchActivities>(input.storeAccess);
  const outbox = createEventOutbox({ streamId: batchId, correlationId: batchId, appendEvents: store.appendEvents });
  const iso = () => new Date().toISOString();

  const retryJobs = input.retryFailed?.inputs ?? [];
  const state: BatchState = input.carried?.state ?? {
    batchId,
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
    createdAt: iso(),
    startedAt: null,
    completedAt: null,
    run: 1,
  };
  if (input.carried) state.run += 1;
  const children = new Map<string, Child>();
  const finished: { jobId: string; status: string }[] = [];
  let cancelRequested: { actor: string; reason?: string } | undefined;
  let failedByPolicy: string | undefined;
  let startedThisRun = 0;
  /** The batch was reprioritized: its priority now overrides each job's own. */
  let prioritySetByBatch = input.carried?.prioritySetByBatch ?? false;
  /** Pages of claim-checked items, loaded once each even when many starts ask at once. */
  const pages = new Map<number, Promise<PreparedBatchItem[]>>();

  const setStatus = (status: BatchStatus) => {
    state.status = status;
    upsertSearchAttributes([{ key: BatchStatusKey, value: status }]);
  };

  // ---- first events ----------------------------------------------------------------------------------
  if (input.retryFailed) {
    outbox.record(BatchEvents.retryStarted, { batchId, jobs: retryJobs.length }, { actor: input.actor ?? 'system' });
  } else if (!input.carried) {
    outbox.record(
      BatchEvents.created,
      {
        batchId,
        name: input.name,
        description: input.description,
        owner: input.owner,
        priority: input.priority,
        total: input.total,
        concurrency: input.concurrency,
        failurePolicy: input.failurePolicy,
        createdAt: state.createdAt,
      },
      { actor: input.actor ?? 'system' },
    );
  }
  if (!input.carried) {
    setStatus('running');
    state.startedAt = iso();
    outbox.record(BatchEvents.started, { batchId, startedAt: state.startedAt }, { actor: 'system' });
  }

  // ---- controls ------------------------------------------------------------------------------------------
  const actorOf = (p: ControlPayload | undefined): { actor: string; reason?: string } => ({
    actor: typeof p?.actor === 'string' && p.actor ? p.actor : 'external',
    ...(typeof p?.reason === 'string' ? { reason: p.reason } : {}),
  });
  const finishing = () => isTerminalBatchStatus(state.status) || cancelRequested !== undefined || failedByPolicy !== undefined;
  const whyNot = {
    pause: () => (finishing() ? `Batch is ${cancelRequested ? 'cancelled' : state.status}; it cannot be paused` : state.status === 'paused' ? 'Batch is already paused' : undefined),
    resume: () => (state.status !== 'paused' || finishing() ? `Batch is ${state.status}, not paused` : undefined),
    cancel: () => (finishing() ? `Batch is already ${cancelRequested ? 'cancelled' : state.status}` : undefined),
    reprioritize: (priority: unknown): { type: string; message: string } | undefined => {
      if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < MIN_PRIORITY || priority > MAX_PRIORITY)
        return { type: INVALID_ARGUMENT, message: 'Priority must be between 1 (low) and 4 (urgent)' };
      if (finishing()) return { type: INVALID_TRANSITION, message: `Batch is ${state.status}; its priority cannot change` };
      if (priority === state.priority) return { type: INVALID_TRANSITION, message: `Batch already has priority ${priority}` };
      return undefined;
    },
  };
  const pause = (who: { actor: string; reason?: string }) => {
    setStatus('paused');
    const seq = outbox.record(BatchEvents.paused, { batchId, inFlight: children.size }, who);
    syncChildren(who);
    return seq;
  };
  const resume = (who: { actor: string; reason?: string }) => {
    setStatus('running');
    const seq = outbox.record(BatchEvents.resumed, { batchId }, who);
    syncChildren(who);
    return seq;
  };
  const cancel = (who: { actor: string; reason?: string }) => {
    cancelRequested = who;
    const seq = outbox.record(BatchEvents.cancelRequested, { batchId, inFlight: children.size, notStarted: remaining() }, who);
    syncChildren(who);
    return seq;
  };
  const reprioritize = (priority: number, who: { actor: string; reason?: string }) => {
    const from = state.priority;
    state.priority = priority;
    prioritySetByBatch = true;
    const seq = outbox.record(BatchEvents.reprioritized, { batchId, from, to: priority }, who);
    syncChildren(who);
    return seq;
  };
  const priorityOf = (p: ReprioritizePayload | number | undefined) => (typeof p === 'number' ? p : p?.priority);
  const payloadOf = (p: ReprioritizePayload | number | undefined) => (typeof p === 'number' ? undefined : p);
  const ignored = (signal: string, why: string, who: { actor: string; reason?: string }) =>
    outbox.record(BatchEvents.signalIgnored, { batchId, signal, why, status: state.status }, who);
  const reject = (type: string, message: string) => {
    throw ApplicationFailure.create({ type, message, nonRetryable: true });
  };
  const answer = async (seq: number): Promise<BatchControlResult> => {
    await outbox.flushed(seq);
    return { state: snapshot(), position: outbox.lastPosition() };
  };

  setHandler(batchStatusQuery, () => snapshot());
  setHandler(batchPauseSignal, (p) => {
    const why = whyNot.pause();
    if (why) ignored('pause', why, actorOf(p));
    else pause(actorOf(p));
  });
  setHandler(batchResumeSignal, (p) => {
    const why = whyNot.resume();
    if (why) ignored('resume', why, actorOf(p));
    else resume(actorOf(p));
  });
  setHandler(batchCancelSignal, (p) => {
    const why = whyNot.cancel();
    if (why) ignored('cancel', why, actorOf(p));
    else cancel(actorOf(p));
  });
  setHandler(batchReprioritizeSignal, (p) => {
    const why = whyNot.reprioritize(priorityOf(p));
    if (why) ignored('reprioritize', why.message, actorOf(payloadOf(p)));
    else reprioritize(priorityOf(p) as number, actorOf(payloadOf(p)));
  });
  const validator = (check: () => string | undefined) => (_p: ControlPayload) => {
    const why = check();
    if (why) reject(INVALID_TRANSITION, why);
  };
  setHandler(batchPauseUpdate, async (p) => answer(pause(actorOf(p))), { validator: validator(whyNot.pause) });
  setHandler(batchResumeUpdate, async (p) => answer(resume(actorOf(p))), { validator: validator(whyNot.resume) });
  setHandler(batchCancelUpdate, async (p) => answer(cancel(actorOf(p))), { validator: validator(whyNot.cancel) });
  setHandler(batchReprioritizeUpdate, async (p) => answer(reprioritize(priorityOf(p) as number, actorOf(payloadOf(p)))), {
    validator: (p) => {
      const why = whyNot.reprioritize(priorityOf(p));
      if (why) reject(why.type, why.message);
    },
  });

  // ---- the window ----------------------------------------------------------------------------------------
  const jobsPerRun = input.jobsPerRun ?? DEFAULT_JOBS_PER_RUN;
  const total = input.retryFailed ? retryJobs.length : input.total;
  function remaining() {
    return Math.max(0, total - state.nextIndex);
  }
  const canStart = () =>
    state.status === 'running' && !finishing() && children.size < state.concurrency && state.nextIndex < total && startedThisRun < jobsPerRun;

  // `temporal workflow cancel` on the batch is its cancel: the loop below runs out of the reach of
  // Temporal's cancellation, so it can cancel its jobs, wait for them and record the end itself.
  CancellationScope.current().cancelRequested.catch(() => {
    if (!finishing()) cancel({ actor: 'external', reason: 'cancellation requested through Temporal' });
  });
  // A start that cannot even prepare its job (its stored item is missing) fails the batch.
  let startFailure: unknown;
  await CancellationScope.nonCancellable(async () => {
    for (;;) {
      await condition(
        () =>
          startFailure !== undefined ||
          finished.length > 0 ||
          canStart() ||
          (children.size === 0 && (finishing() || state.nextIndex >= total || startedThisRun >= jobsPerRun)),
      );
      if (startFailure !== undefined) throw startFailure;
      while (finished.length > 0) onFinished(finished.shift()!);
      if (children.size === 0 && (finishing() || state.nextIndex >= total)) break;
      if (children.size === 0 && startedThisRun >= jobsPerRun && state.status === 'running') {
        // Drained: continue as new with a fresh history.
        await outbox.flushed();
        await condition(allHandlersFinished);
        state.running = [];
        await continueAsNew<typeof batchWorkflow>({ ...input, carried: { state: snapshot(), pausedByBatch: [], prioritySetByBatch } });
      }
      // Not awaited: a start completes only when the server reports the child started (another
      // workflow task), and waiting for it here would hold back finished jobs and the next starts.
      // A started-but-not-yet-confirmed job is already in `children`, so the window and the drain
      // checks count it.
      while (canStart()) {
        startNext().catch((error: unknown) => {
          startFailure ??= error;
        });
      }
    }
  });

  // ---- the end -------------------------------------------------------------------------------------------
  const notStarted = remaining();
  state.counts.cancelled += notStarted;
  state.counts.pending = 0;
  state.completedAt = iso();
  const summary = { batchId, counts: { ...state.counts }, total: state.total, notStarted };
  if (failedByPolicy) {
    setStatus('failed');
    outbox.record(BatchEvents.failed, { ...summary, reason: failedByPolicy }, { actor: 'system', reason: failedByPolicy });
  } else if (cancelRequested) {
    setStatus('cancelled');
    outbox.record(BatchEvents.completed, { ...summary, status: 'cancelled' }, cancelRequested);
  } else {
    setStatus('completed');
    outbox.record(BatchEvents.completed, { ...summary, status: 'completed' }, { actor: 'system' });
  }
  await outbox.flushed();
  await condition(allHandlersFinished);
  return { batchId, status: state.status, counts: state.counts };

  // ---- helpers -------------------------------------------------------------------------------------------

  async function nextItem(index: number): Promise<PreparedBatchItem> {
    const offset = index - (index % PAGE);
    let page = pages.get(offset);
    if (!page) {
      page = store.loadBatchItems({ batchId, offset, limit: PAGE });
      pages.set(offset, page);
      for (const key of pages.keys()) if (key < offset - PAGE) pages.delete(key);
    }
    const item = (await page)[index - offset];
    if (!item) throw ApplicationFailure.nonRetryable(`batch item ${index} of ${batchId} is missing`, 'BatchItemMissing');
    return item;
  }

  async function startNext(): Promise<void> {
    const index = state.nextIndex++;
    startedThisRun++;
    state.counts.pending = Math.max(0, state.counts.pending - 1);
    state.counts.inFlight++;
    let jobInput: JobWorkflowInput;
    const retry = input.retryFailed?.inputs[index];
    const jobId = retry?.jobId ?? `job_${uuid4()}`;
    const child: Child = { jobId, started: false, priority: state.priority, pausedByBatch: false, cancelSent: false };
    children.set(jobId, child);
    if (retry) {
      // A failed job of this batch, run again as a new run of the same job id (its stream continues).
      state.counts.failed = Math.max(0, state.counts.failed - 1);
      jobInput = { ...retry, priority: prioritySetByBatch ? state.priority : retry.priority };
    } else {
      const item = await nextItem(index);
      jobInput = {
        jobId,
        name: item.name,
        type: item.type,
        input: item.input,
        // A job's own priority, unless the batch has been reprioritized since it was created.
        priority: prioritySetByBatch ? state.priority : item.priority,
        owner: input.owner,
        batchId,
        plan: { ...item.plan, retry: { ...item.plan.retry, ...input.retry } },
        actor: `batch:${batchId}`,
        correlationId: batchId,
        storeAccess: input.storeAccess,
      };
    }
    child.priority = jobInput.priority;
    try {
      const handle = await startChild(jobWorkflow, {
        workflowId: jobId,
        args: [jobInput],
        taskQueue: info.taskQueue,
        parentClosePolicy: ParentClosePolicy.TERMINATE,
        priority: { priorityKey: toPriorityKey(jobInput.priority) },
        typedSearchAttributes: jobSearchAttributes(jobInput),
        ...(retry ? { workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE } : {}),
      });
      child.started = true;
      handle.result().then(
        (result) => finished.push({ jobId, status: result.status }),
        (error) => finished.push({ jobId, status: statusOfFailure(error) }),
      );
      await syncChild(child, { actor: `batch:${batchId}` });
    } catch {
      // The loop runs in a non-cancellable scope, so this is a start that failed (not a cancel).
      finished.push({ jobId, status: 'failed' });
    }
  }

  function onFinished({ jobId, status }: { jobId: string; status: string }): void {
    if (!children.delete(jobId)) return;
    state.counts.inFlight = Math.max(0, state.counts.inFlight - 1);
    if (status === 'completed') state.counts.completed++;
    else if (status === 'cancelled' || status === 'terminated') state.counts.cancelled++;
    else state.counts.failed++;
    if (status === 'failed' && !finishing()) {
      const policy = input.failurePolicy;
      const failedPercent = (state.counts.failed * 100) / Math.max(1, state.total);
      if (policy.mode === 'fail_fast') failedByPolicy = `job ${jobId} failed (fail-fast)`;
      else if (policy.mode === 'threshold' && failedPercent > policy.maxFailedPercent)
        failedByPolicy = `${state.counts.failed} of ${state.total} jobs failed (more than ${policy.maxFailedPercent}%)`;
      if (failedByPolicy) syncChildren({ actor: 'system', reason: failedByPolicy });
    }
  }

  function syncChildren(who: { actor: string; reason?: string }): void {
    for (const child of children.values()) void syncChild(child, who);
  }

  /** Brings one started job in line with the batch: cancelled, paused, resumed, reprioritized. */
  async function syncChild(child: Child, who: { actor: string; reason?: string }): Promise<void> {
    if (!child.started) return;
    const handle = getExternalWorkflowHandle(child.jobId);
    const payload = { actor: who.actor, reason: who.reason ?? `batch ${batchId}` };
    // Not cancellable: a cancel of the batch itself must still reach its jobs. A failure means the
    // job has just finished, which is fine.
    const send = (signal: () => Promise<void>) => CancellationScope.nonCancellable(signal).catch(() => undefined);
    if (finishing()) {
      if (!child.cancelSent) {
        child.cancelSent = true;
        // closeAsCanceled + Temporal's cancel request: the job's execution closes as Canceled.
        await send(() => handle.signal(cancelSignal, { ...payload, closeAsCanceled: true }));
        await send(() => handle.cancel());
      }
      return;
    }
    if (state.status === 'paused' && !child.pausedByBatch) {
      child.pausedByBatch = true;
      await send(() => handle.signal(pauseSignal, payload));
    } else if (state.status === 'running' && child.pausedByBatch) {
      child.pausedByBatch = false;
      await send(() => handle.signal(resumeSignal, payload));
    }
    if (prioritySetByBatch && child.priority !== state.priority) {
      child.priority = state.priority;
      await send(() => handle.signal(reprioritizeSignal, { ...payload, priority: state.priority }));
    }
  }

  function snapshot(): BatchState {
    return { ...state, counts: { ...state.counts }, running: [...children.keys()] };
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
