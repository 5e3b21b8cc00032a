/**
 * poolWorkflow: the admission workflow of one resource pool (`pool:<name>`). It holds who has a slot
 * (bounded by the limit) and nothing else: the waiting line is the read model's queued jobs of the
 * pool, so 100k waiting jobs cost this workflow nothing and it continues as new with a small state.
 * Jobs ask (poolRequest) after recording JobQueued, get a poolSlotGranted signal, and give the slot
 * back (poolRelease) when they pause, wait for a retry or end. A holder that ended without giving its
 * slot back (terminated from outside) is found by a sweep and its slot returned.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  currentUpdateInfo,
  getExternalWorkflowHandle,
  patched,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import { MAX_POOL_LIMIT, PoolEvents, poolStreamId, INVALID_ARGUMENT, actorOf } from '../domain/index.js';
import { createEventOutbox, schedulerActivities, storeActivities } from './eventOutbox.js';
import { RememberedIds } from './rememberedIds.js';
import {
  poolReleaseSignal,
  poolRequestSignal,
  poolSlotGrantedSignal,
  poolStateQuery,
  setPoolLimitSignal,
  setPoolLimitUpdate,
  type PoolHolder,
  type PoolState,
  type PoolWorkflowInput,
  type SetPoolLimitPayload,
} from './poolContract.js';

export * from './poolContract.js';

const DEFAULT_CONTINUE_AS_NEW_AFTER = 5000;
/** While someone holds a slot, look for holders that ended without releasing this often. */
const SWEEP_INTERVAL_MS = 15_000;
/**
 * Before continuing as new: how long the wake-ups are held at most (the new run's first pick ends the
 * hold), and the pause that lets the signals already on their way arrive before the last task.
 */
const WAKE_HOLD_MS = 5_000;
const QUIET_BEFORE_CONTINUE_AS_NEW_MS = 250;
/** Owners whose last turn the pool remembers (the most recent ones; others count as long ago). */
const MAX_OWNERS_REMEMBERED = 1000;
/** Ids of limit changes a pool remembers (the signal of a pair comes soon after its Update). */
const REMEMBERED_LIMIT_IDS = 50;

/** Why a limit change is refused (undefined: it is valid). */
function limitRefusal(payload: { limit?: unknown } | undefined): string | undefined {
  const n = payload?.limit;
  return Number.isInteger(n) && (n as number) >= 0 && (n as number) <= MAX_POOL_LIMIT
    ? undefined
    : `limit must be an integer from 0 to ${MAX_POOL_LIMIT}`;
}

function recentOwners(served: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(served)
      .sort((a, b) => b[1] - a[1])
      .slice(0, MAX_OWNERS_REMEMBERED),
  );
}

export async function poolWorkflow(input: PoolWorkflowInput): Promise<void> {
  // A pool run by the process that owns the read model picks through a local activity: a hand-over is
  // then one pool workflow task instead of two plus an activity task. Runs begun before this existed
  // keep the activity until they continue as new (patched() stays false for them). On a worker without
  // the scheduler's activities (the workers moved to processes of their own) the local pick is refused
  // before it is scheduled; the pool then continues as new, picking through the scheduler's queue (a
  // decision made in the new run's input, so every replay takes the same path).
  const pickLocal = input.pickLocally === true && patched('pool-local-pick');
  // Grants go out without the pool waiting for Temporal to confirm each: the next release or request
  // is handled in the very next task instead of after the last grant's confirmation (a hand-over used
  // to queue behind the previous one). Runs begun before this keep awaiting them (replay).
  const grantsInFlight = patched('pool-grants-in-flight');
  // A pick frees the slots of holders it finds finished and fills them in the same go (the read model's
  // owner wakes the pool when a holder ends: finished jobs no longer signal their release). Runs begun
  // before this freed them first and picked again in a second go (replay).
  const freeAfterFinished = patched('pool-free-after-finished');
  // The pick tells the jobs itself, from the process that owns the read model, once it has recorded its
  // picks (PoolSlotsGranted, under an id that is the same on every retry of this pick): no signal
  // command per job here, nor the pool task each one's confirmation cost. On a file-backed dev server
  // these signals queued behind a burst's work for seconds while the pool counted their slots used; on
  // the PostgreSQL-backed server of the production topology's test, for up to 335 s (a history shard's
  // transfer tasks lagging under the submit burst). Runs begun before this keep signalling (replay);
  // so do remote picks of runs begun while it was kept to local picks (it had been blamed for that
  // stall, which the code before shows as well).
  const grantsByPick = patched('pool-grants-by-pick');
  // A run begun afresh — its workflow terminated (`temporal workflow terminate`, the Web UI) or lost by
  // Temporal, then started again by the next job that needed it — knows none of the slots the run
  // before handed out: its first pick books the jobs the read model shows running in the pool (and
  // those in line a recorded grant let in), so it does not fill their slots a second time. A continue-as-new carries its holders. Runs begun before
  // this started with none (replay).
  let adoptRunning = (!input.carried || input.carried.adoptRunning === true) && patched('pool-adopts-running-jobs');
  // A run made by a reset (`temporal workflow reset`, the Web UI's Reset) knows the slots handed out up
  // to its reset point only, and which of its picks is the first to execute rather than replay its
  // record cannot be told here: every pick of such a run books the slots its holders leave out (few
  // rows: the pool's running jobs and its line). Other runs never ask (replays see the same inputs).
  const info = workflowInfo();
  const resetRun = info.runId !== info.originalExecutionRunId;
  let pickNumber = 0;
  const inFlight = new Set<Promise<void>>();
  const scheduler = schedulerActivities(pickLocal ? 'local' : 'remote');
  let pickedLocallyUnavailable = false;
  const pickPoolWaiters = async (request: Parameters<typeof scheduler.pickPoolWaiters>[0]) => {
    try {
      return await scheduler.pickPoolWaiters(request);
    } catch (error) {
      if (!pickLocal || !isNotRegistered(error)) throw error;
      pickedLocallyUnavailable = true;
      return { picks: [], finished: [] };
    }
  };
  const outbox = createEventOutbox({
    streamId: poolStreamId(input.name),
    correlationId: poolStreamId(input.name),
    baseData: { pool: input.name },
    appendEvents: storeActivities(input.storeAccess).appendEvents,
  });
  let limit = input.carried?.limit ?? input.limit;
  const holders: Record<string, PoolHolder> = { ...(input.carried?.holders ?? {}) };
  let grants = input.carried?.grants ?? 0;
  let served: Record<string, number> = { ...(input.carried?.served ?? {}) };
  // Look at the line at once: jobs may have queued while the pool was continuing as new or down.
  let wake = true;
  const used = () => Object.values(holders).reduce((sum, h) => sum + h.weight, 0);
  const state = (): PoolState => ({ name: input.name, limit, used: used(), holders: { ...holders } });

  if (!input.carried) outbox.record(PoolEvents.created, { limit }, { actor: input.actor ?? 'system' });

  setHandler(poolStateQuery, state);
  // The request only wakes the pool: the line itself is the read model's (a booking left by a run
  // that ended without releasing is found stale by the pick, see PoolHolder.queuedSeq).
  // The line needs the requesters' JobQueued in the read model, not the whole log: under load the
  // projector may trail the head by seconds, and a hand-over must not wait for unrelated events.
  let needPosition = 0;
  /** Someone may still be in line (a request came, or the last pick filled what was free). */
  let lineMayHaveMore = true;
  /**
   * A holder may have ended (the read model's owner saw its terminal event): look even when full. A new
   * run looks at the holders it carries at once: wake-ups for their ends may have gone to the run
   * before it after its last look (finished jobs send no release), and none would come again.
   */
  let holdersEnded = freeAfterFinished && Object.keys(holders).length > 0;
  /** The run before held the wake-ups while it continued as new: the first pick releases them. */
  let releaseWakes = input.carried?.wakesHeld === true;
  setHandler(poolRequestSignal, (request) => {
    if (typeof request.position === 'number' && request.position > needPosition) needPosition = request.position;
    wake = true;
    lineMayHaveMore = true;
    if (request.holdersEnded === true) holdersEnded = true;
  });
  setHandler(poolReleaseSignal, ({ jobId }) => {
    delete holders[jobId];
    wake = true;
  });
  // A limit change is taken once per id: its Update's, or the requestId of the setLimit signal the API
  // sends with the Update's id when no worker took the Update in time. The second of the pair changes
  // nothing and records nothing (an Update then answers with the state). Ids are carried to new runs.
  const limitIds = new RememberedIds<true>(REMEMBERED_LIMIT_IDS, input.carried?.limitIds, true);
  const firstTime = (id: string | undefined): boolean => {
    if (limitIds.has(id)) return false;
    limitIds.remember(id, true);
    return true;
  };
  const changeLimit = (payload: SetPoolLimitPayload): number => {
    const from = limit;
    limit = payload.limit;
    wake = true;
    return outbox.record(PoolEvents.limitChanged, { limit, from }, actorOf(payload, 'external'));
  };
  setHandler(
    setPoolLimitUpdate,
    async (payload) => {
      const seq = firstTime(currentUpdateInfo()?.id) ? changeLimit(payload) : undefined;
      await outbox.flushed(seq);
      return { state: state(), position: outbox.lastPosition() };
    },
    {
      validator: (payload) => {
        const refusal = limitRefusal(payload);
        if (refusal) throw ApplicationFailure.create({ type: INVALID_ARGUMENT, message: refusal, nonRetryable: true });
      },
    },
  );
  setHandler(setPoolLimitSignal, (payload) => {
    if (limitRefusal(payload) === undefined && firstTime(payload.requestId)) changeLimit(payload);
  });
  const carriedLimitIds = () => (limitIds.size > 0 ? { limitIds: limitIds.ids() } : {});

  for (;;) {
    const canGrant = () => (wake && used() < limit) || holdersEnded;
    // While jobs may be waiting for a full pool, wake up now and then to sweep stale bookings (a
    // holder that ended without releasing); an idle pool sleeps without a timer. (condition() without
    // a timeout resolves to undefined, so the two cases are kept apart.)
    let woke = true;
    if (lineMayHaveMore && used() >= limit && Object.keys(holders).length > 0)
      woke = await condition(canGrant, SWEEP_INTERVAL_MS);
    else await condition(canGrant);
    const now = workflowInfo();
    if (now.continueAsNewSuggested || now.historyLength > (input.continueAsNewAfterEvents ?? DEFAULT_CONTINUE_AS_NEW_AFTER)) {
      await Promise.all(inFlight); // a grant to a job gone meanwhile frees its slot before we carry it
      await outbox.flushed();
      // Temporal refuses to close a run while a signal arrives during its last task, and the refused
      // task costs a full replay of the run (seconds without grants, every continue-as-new under a
      // burst): the read model's owner holds its wake-ups, those on their way land during a pause,
      // and the new run's first pick lets the wake-ups go again. Runs begun before this: replay.
      let wakesHeld = false;
      if (patched('pool-quiet-continue-as-new')) {
        wakesHeld = await holdWakes(input.name, pickLocal);
        if (wakesHeld) await sleep(QUIET_BEFORE_CONTINUE_AS_NEW_MS);
        // A setLimit taken during the pause ends in this run: its event recorded, its caller answered.
        await condition(allHandlersFinished);
        await outbox.flushed();
      }
      return continueAsNew<typeof poolWorkflow>({
        ...input,
        carried: {
          limit,
          holders,
          grants,
          served: recentOwners(served),
          ...(wakesHeld ? { wakesHeld } : {}),
          ...carriedLimitIds(),
        },
      });
    }
    wake = false;
    holdersEnded = false;
    const capacity = woke ? Math.max(0, limit - used()) : 0;
    const { picks, finished, free, undelivered, adopted } = await pickPoolWaiters({
      pool: input.name,
      capacity,
      ...(freeAfterFinished ? { limit } : {}),
      holders,
      served,
      minPosition: needPosition,
      ...(releaseWakes ? { releaseWakes } : {}),
      ...(adoptRunning || resetRun ? { adoptRunning: true } : {}),
      ...(grantsByPick ? { grantId: `${poolStreamId(input.name)}:${now.runId}:grant:${++pickNumber}` } : {}),
    });
    releaseWakes = false;
    if (pickedLocallyUnavailable) {
      await Promise.all(inFlight);
      await outbox.flushed();
      return continueAsNew<typeof poolWorkflow>({
        ...input,
        pickLocally: false,
        carried: {
          limit,
          holders,
          grants,
          served: recentOwners(served),
          ...carriedLimitIds(),
          ...(adoptRunning ? { adoptRunning } : {}),
        },
      });
    }
    adoptRunning = false;
    for (const a of adopted ?? []) holders[a.jobId] = { weight: a.weight, owner: a.owner, queuedSeq: a.queuedSeq };
    for (const jobId of finished) delete holders[jobId];
    if (finished.length > 0 && !freeAfterFinished) wake = true;
    // Book first, then tell: a release that overtakes its grant still finds the booking to undo. (A pick
    // that tells the jobs itself has recorded them first, and their releases reach a later task.)
    for (const p of picks) {
      holders[p.jobId] = { weight: p.weight, owner: p.owner, queuedSeq: p.queuedSeq };
      served[p.owner] = ++grants;
    }
    if (Object.keys(served).length > 2 * MAX_OWNERS_REMEMBERED) served = recentOwners(served);
    // Told by the pick already (grantsByPick); a job that was gone frees its slot again.
    for (const jobId of undelivered ?? []) {
      delete holders[jobId];
      wake = true;
    }
    const sent = (grantsByPick ? [] : picks).map((p) => {
      const grant: Promise<void> = getExternalWorkflowHandle(p.jobId)
        .signal(poolSlotGrantedSignal, { pool: input.name })
        .catch(() => {
          // The job is gone (closed before it got the slot): the slot is free again.
          delete holders[p.jobId];
          wake = true;
        })
        .finally(() => inFlight.delete(grant));
      inFlight.add(grant);
      return grant;
    });
    if (!grantsInFlight) await Promise.all(sent);
    if (picks.length > 0) {
      lineMayHaveMore = true;
      // Old runs looked at the line again at once. The pick returns all that fits, and a request or
      // release during it has set `wake` already; looking again now would only hold back the grants
      // (a local pick keeps the task, and so the grants' commands, open until it answers).
      if (!grantsInFlight) wake = true;
    } else if ((free ?? capacity) > 0) lineMayHaveMore = false;
  }
}

/** Holds the wake-ups the read model's owner sends this pool (one try: it only helps); whether it did. */
async function holdWakes(pool: string, local: boolean): Promise<boolean> {
  try {
    return await schedulerActivities(local ? 'local' : 'remote', { once: true }).holdPoolWakes({ pool, ms: WAKE_HOLD_MS });
  } catch {
    return false; // not served there (an older process), or it did not answer in time: continue as new anyway
  }
}

/** This worker does not have the local activity: the SDK refuses to schedule it (ReferenceError), or
 * its activity worker answers NotFoundError. */
function isNotRegistered(error: unknown): boolean {
  if (error instanceof ReferenceError) return /not registered on worker/.test(error.message);
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof ApplicationFailure && cause.type === 'NotFoundError';
}
