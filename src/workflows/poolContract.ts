/**
 * The public contract of a resource pool's workflow (`pool:<name>`): one durable admission workflow
 * per pool hands out slots to jobs, so a pool's limit holds across every worker process.
 * Imported by workflow code and by clients alike: no I/O here.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

export interface PoolHolder {
  weight: number;
  owner: string;
  /** Log position of the JobQueued (or JobResumed) that put the job in the line it was picked from: a
   * job seen in the line again under another position has re-queued, so this booking is stale. */
  queuedSeq: number;
}

/** Facts carried into a new run of the pool (continue-as-new): bounded by the limit, not the line. */
export interface CarriedPoolState {
  limit: number;
  holders: Record<string, PoolHolder>;
  /** Grant counter and when each owner was last served (fair turns between owners). */
  grants?: number;
  served?: Record<string, number>;
  /** The run before held the pool's wake-ups (see holdPoolWakes): the new run's first pick ends the hold. */
  wakesHeld?: boolean;
  /** Ids of the limit changes taken lately (an Update's id, a setLimit signal's requestId), oldest first. */
  limitIds?: string[];
  /** The run before began afresh and continued as new before its first pick could book the pool's
   * running jobs (see poolWorkflow's adoptRunning): this run's first pick does. */
  adoptRunning?: boolean;
}

export interface PoolWorkflowInput {
  name: string;
  /** The limit when the pool is first created (config POOLS, or PUT /pools/{name}). */
  limit: number;
  /** Who created it (metadata.actor of PoolCreated). */
  actor?: string;
  storeAccess?: 'local' | 'remote';
  /** Pick from the line through a local activity: only when the workers that run the pool's workflow
   * live in the process that owns the read model (the engine with its own workers). Default: through
   * the scheduler's queue. */
  pickLocally?: boolean;
  /** Continue-as-new once the history holds this many events. */
  continueAsNewAfterEvents?: number;
  carried?: CarriedPoolState;
}

/** The live state of a pool, as the `state` query returns it. */
export interface PoolState {
  name: string;
  limit: number;
  /** Slots in use (the sum of the holders' weights). */
  used: number;
  /** Jobs holding slots, with their weights and owners. */
  holders: Record<string, PoolHolder>;
}

export interface SetPoolLimitPayload {
  limit: number;
  actor?: string;
  reason?: string;
  /**
   * The change's id: a pool takes a change once per id (an Update's own id, or this). The API sends
   * the setLimit signal with its Update's id when no worker took the Update in time.
   */
  requestId?: string;
}

/** What wakes a pool: a job asking for a slot, or the read model's owner (see PoolWaker). */
export interface PoolRequest {
  /** Who asks (the job; for a wake-up from the read model's owner, the job that caused it). */
  jobId: string;
  /** The log position the read model must have applied before the pool reads it (the asker's
   * JobQueued, or the event that ended a holder). */
  position?: number;
  /** Some holder may have ended (its terminal event is in the log up to `position`): look at the
   * holders even when the pool is full. Finished jobs give their slot back this way, not by signal. */
  holdersEnded?: boolean;
}

/** A job asks for a slot after recording JobQueued at log position `position`: the pool reads its
 * line from the read model once the projector has got that far. */
export const poolRequestSignal = defineSignal<[PoolRequest]>('poolRequest');
/** A job gives its slot back (paused, between attempts; a finished job's slot is freed when the read
 * model shows it finished, see PoolRequest.holdersEnded). */
export const poolReleaseSignal = defineSignal<[{ jobId: string }]>('poolRelease');
/** `temporal workflow update execute --name setLimit --input '{"limit": 4}'`. */
export const setPoolLimitUpdate = defineUpdate<{ state: PoolState; position: number }, [SetPoolLimitPayload]>('setLimit');
/**
 * The same change as a signal, kept in the pool's history (an Update that no worker took yet is lost if
 * Temporal restarts): `temporal workflow signal --name setLimit --input '{"limit": 4, "requestId": "ops-1"}'`.
 * Taken once per `requestId`; an invalid limit changes nothing (a signal cannot answer).
 */
export const setPoolLimitSignal = defineSignal<[SetPoolLimitPayload]>('setLimit');
export const poolStateQuery = defineQuery<PoolState>('state');
/** Sent to a job by its pool (by the pool's pick, in the process that owns the read model, for pool runs
 * since `pool-grants-by-pick`): it holds a slot now (a job that no longer waits hands it straight back). */
export const poolSlotGrantedSignal = defineSignal<[{ pool: string }]>('poolSlotGranted');

/** Dependencies: a dependent asks to be told when this job ends; the job tells it at its end. */
export const watchDependencySignal = defineSignal<[{ dependentId: string }]>('watchDependency');
export const dependencyFinishedSignal = defineSignal<[{ jobId: string; status: string }]>('dependencyFinished');
