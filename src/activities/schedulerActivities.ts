/**
 * Activities of the scheduler, served by the process that owns the read model (`<queue>-scheduler`):
 * a pool's waiting line and a dependency's outcome are read from the read model, after the projector
 * has caught up with the log, so they never miss a job whose event was appended before the call.
 */
import { WorkflowIdConflictPolicy } from '@temporalio/common';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { EventStore } from '../eventstore/index.js';
import { ReadModelHolder, type ReadModelSource } from '../projections/readModelHolder.js';
import { PoolEvents, isTerminalJobStatus, poolStreamId, poolWorkflowId } from '../domain/index.js';
import { poolSlotGrantedSignal, type PoolHolder, type PoolWorkflowInput } from '../workflows/poolContract.js';
import type { PoolWaker } from '../commands/poolWaker.js';
import type { PoolGrantWaiters } from './poolGrantWaiters.js';
import { signalWithTries } from './signalWithTries.js';

export interface SchedulerDeps {
  client: Client;
  taskQueue: string;
  /** The log: its head; and the pools' grants, recorded before the jobs are told (see `grantId`). */
  eventStore: Pick<EventStore, 'lastPosition' | 'appendToStreamGrouped' | 'readEvent' | 'readStreamAfter'>;
  /** The read model (its holder: the activities follow an online rebuild's swap). */
  readModelDb: ReadModelSource;
  /** Resolves once the read model has applied the log up to `position`. */
  waitFor(position: number, timeoutMs?: number): Promise<boolean>;
  /** Limits of configured pools; others start with defaultPoolLimit. */
  poolLimits: Record<string, number>;
  defaultPoolLimit: number;
  storeAccess: 'local' | 'remote';
  /** Pools started from here pick by local activity (this process runs the workers, see PoolWorkflowInput). */
  pickLocally?: boolean;
  /** Temporal priority key of the pools' workflows (POOL_PRIORITY_KEY in the engine); default none. */
  poolPriorityKey?: number;
  /** The wake-ups this process sends the pools (PoolWaker): held while a pool continues as new. */
  poolWakes?: Pick<PoolWaker, 'wake' | 'hold' | 'release'>;
  /** Jobs of this process waiting for their grant inside their workflow task (awaitPoolGrant). */
  poolGrants?: PoolGrantWaiters;
  /** A pick's grant found this job's workflow gone (the reconciler records its end if Temporal has
   * no execution of it at all: Reconciler.recordMissing). */
  onJobGone?: (jobId: string) => void;
}

/** What `awaitPoolGrant` answers. */
export type PoolGrantAnswer =
  /** The job holds a slot of the pool (told by a pick now, or by one recorded before). */
  | 'granted'
  /** No grant came within the wait: it comes by signal. */
  | 'timeout'
  /** Too many jobs wait already (and no grant was recorded for this job): it comes by signal. */
  | 'busy'
  /** Nobody waits here (a process without the pools' picks). */
  | 'unavailable';

export interface AwaitPoolGrantRequest {
  pool: string;
  jobId: string;
  /** The job's latest move into the line (its JobQueued, or JobResumed) is at or before this position. */
  position: number;
  /** How long to wait for a pick at most (ms); 0: only look whether one was recorded. */
  waitMs: number;
}

export interface PickPoolWaitersRequest {
  pool: string;
  /** Free slots (ignored when `limit` is given). */
  capacity: number;
  /** The pool's limit: the free slots are counted after the finished holders' are given back, so the
   * pick fills those too. (Pool runs from before this send `capacity` only.) */
  limit?: number;
  holders: Record<string, PoolHolder>;
  /** When each owner last got a slot (the pool's grant counter): among equals, the owner served
   * longest ago goes first, so owners take turns even when a slot is freed before the next pick. */
  served?: Record<string, number>;
  /** The read model must have applied the log up to here (the requesters' JobQueued events). */
  minPosition?: number;
  /** The first pick of a run whose previous run held the wake-ups (holdPoolWakes): they go out again. */
  releaseWakes?: boolean;
  /**
   * The pick tells the jobs itself (a signal from this process to each job), after recording its picks
   * as `PoolSlotsGranted` under this id (the pool's run and the pick's number: the same pick on every
   * retry or replay). A pick whose event is there already answers what it recorded, so a task of the
   * pool retried after its jobs were told books exactly those. Without it (pool runs from before this)
   * the pool signals each job itself.
   */
  grantId?: string;
  /**
   * The first pick of a run begun afresh (its workflow was terminated, or Temporal lost it; not a
   * continue-as-new, which carries its holders): the jobs the read model shows running in this pool,
   * and those in line a recorded grant let in, hold slots the new run does not know of. They are
   * counted now and answered in `adopted`, for the pool to book, so the new run does not fill their
   * slots too.
   */
  adoptRunning?: boolean;
}

export interface PoolPick {
  jobId: string;
  owner: string;
  weight: number;
  queuedSeq: number;
}

export interface PickPoolWaitersResult {
  /** Jobs to grant, in order; their weights fit the capacity. */
  picks: PoolPick[];
  /** Holders whose bookings are stale: their jobs ended without giving the slot back (terminated,
   * deleted) or queued again since (a new run of a job whose old run never released). */
  finished: string[];
  /** The free slots the pick filled from (absent in results recorded before `limit` existed). */
  free?: number;
  /** With `grantId`: picked jobs that could not be told because their workflow is gone (closed, never
   * started): their slots are free again. */
  undelivered?: string[];
  /** With `adoptRunning`: jobs holding a slot of this pool that were not among the holders (book them). */
  adopted?: PoolPick[];
}

/** The longest a job's task waits for its grant here (its task and a task slot of the worker stay open). */
const MAX_GRANT_WAIT_MS = 2_000;
/**
 * ... and in a pool whose last pick left no slot free (PoolGrantWaiters.isFull): none. A holder must
 * end first, and a control sent to the job by signal meanwhile (the Web UI, `temporal workflow
 * signal`) would wait for the task: 250 ms held a pause of such a job 136–162 ms against 8–33 ms, and a
 * batch (whose pool is full most of the time, its jobs granted as others end) ran as fast without.
 */
const FULL_POOL_GRANT_WAIT_MS = 0;
/** The longest the wait for the read model to apply the job's move into the line takes. */
const GRANT_WAIT_CATCH_UP_MS = 1_000;

/**
 * How long a job found gone by a pick's grant stays out of its pool's line (see goneFromLine): its
 * recorded end (the reconciler scans every second) takes it out for good well before; a job whose
 * workflow is not there at all costs its pool one pick a minute.
 */
const GONE_OUT_OF_LINE_MS = 60_000;

/** How often a grant is tried before the pick fails (and is retried as a whole, answering its record). */
const GRANT_SIGNAL_TRIES = 3;

/** The longest a pool's wake-ups are held (a pool asking for more gets this). */
const MAX_WAKE_HOLD_MS = 10_000;

export function createSchedulerActivities(deps: SchedulerDeps) {
  const readModel = ReadModelHolder.of(deps.readModelDb);
  // The line: by priority, then round-robin between owners (an owner's n-th waiting job, counting the
  // slots it already holds, goes after every other owner's earlier ones), then first come first served.
  const line = () =>
    readModel.prepare<{ pool: string; holders: string; gone: string; held: string; served: string; limit: number }, PickedRow>(`
    WITH waiting AS (
      SELECT id, owner, pool_weight, priority, queued_seq,
             ROW_NUMBER() OVER (PARTITION BY owner, priority ORDER BY queued_seq) AS rn
        FROM jobs
       WHERE pool = @pool AND status IN ('queued', 'pending')
         -- pending: submitted straight into line, its workflow not run yet (it takes an early grant)
         AND (status = 'queued' OR (run_at IS NULL AND depends_on = '[]' AND queued_seq IS NOT NULL))
         AND id NOT IN (SELECT value FROM json_each(@holders))
         AND id || ':' || COALESCE(queued_seq, '') NOT IN (SELECT value FROM json_each(@gone)))
    SELECT w.id AS jobId, w.owner AS owner, w.pool_weight AS weight, w.queued_seq AS queuedSeq
      FROM waiting w LEFT JOIN json_each(@held) h ON h.key = w.owner LEFT JOIN json_each(@served) s ON s.key = w.owner
     ORDER BY w.priority DESC, w.rn + COALESCE(h.value, 0), COALESCE(s.value, 0), w.queued_seq
     LIMIT @limit`);
  /** The pool's running jobs (each holds a slot, whichever run of the pool granted it). */
  const runningInPool = () =>
    readModel.prepare<[string], PickedRow>(
      `SELECT id AS jobId, owner, pool_weight AS weight, queued_seq AS queuedSeq FROM jobs WHERE pool = ? AND status = 'running'`,
    );
  /** The pool's jobs in line (they may hold a grant not taken yet). */
  const inLineOfPool = () =>
    readModel.prepare<[string], PickedRow>(
      `SELECT id AS jobId, owner, pool_weight AS weight, queued_seq AS queuedSeq FROM jobs
        WHERE pool = ? AND status IN ('queued', 'pending') AND queued_seq IS NOT NULL`,
    );
  /** The picks the pool's `PoolSlotsGranted` events recorded after `position` (newest event first). */
  function* picksRecordedSince(pool: string, position: number): Generator<PoolPick> {
    for (const event of deps.eventStore.readStreamAfter(poolStreamId(pool), position, PoolEvents.slotsGranted))
      yield* (event.data as { picks?: PoolPick[] }).picks ?? [];
  }
  /**
   * The slots of a pool that a run begun afresh does not know of (see PickPoolWaitersRequest's
   * adoptRunning): its running jobs, and the jobs in line that a pick recorded a grant to for their
   * place in line (a pick of the run before that was under way when it ended: the job takes that grant,
   * by signal or from the record, and runs). `known`: the holders the pool has already.
   */
  const slotsHeldUnknown = (pool: string, known: Record<string, PoolHolder>): PoolPick[] => {
    const found = new Map<string, PoolPick>();
    const add = (row: PickedRow) => {
      if (known[row.jobId] || found.has(row.jobId)) return;
      // queued_seq as the pool's bookings keep it (a later check compares the row's with it).
      found.set(row.jobId, { jobId: row.jobId, owner: row.owner, weight: row.weight ?? 1, queuedSeq: row.queuedSeq ?? 0 });
    };
    for (const row of runningInPool().all(pool)) add(row);
    const inLine = inLineOfPool().all(pool);
    let from = Infinity;
    for (const row of inLine) from = Math.min(from, row.queuedSeq);
    if (inLine.length > 0) {
      // Grants come after the place in line they are for: the pool's grants since the oldest place.
      const granted = new Set<string>();
      for (const p of picksRecordedSince(pool, from)) granted.add(`${p.jobId}:${p.queuedSeq}`);
      for (const row of inLine) if (granted.has(`${row.jobId}:${row.queuedSeq}`)) add(row);
    }
    return [...found.values()];
  };
  const statusOf = () =>
    readModel.prepare<[string], { status: string; queued_seq: number | null }>(
      'SELECT status, queued_seq FROM jobs WHERE id = ?',
    );
  const caughtUp = async () => {
    await deps.waitFor(deps.eventStore.lastPosition(), 10_000);
  };
  /** The picks recorded under a grant id, if that pick was recorded. */
  const recordedPicks = (grantId: string): PoolPick[] | undefined =>
    (deps.eventStore.readEvent(grantId)?.data as { picks: PoolPick[] } | undefined)?.picks;
  /** Whether a pick recorded a grant of `pool` to the job at this place in line (`queuedSeq`). */
  const grantRecorded = (pool: string, jobId: string, queuedSeq: number): boolean => {
    for (const p of picksRecordedSince(pool, queuedSeq)) if (p.jobId === jobId && p.queuedSeq === queuedSeq) return true;
    return false;
  };
  /**
   * Jobs a pick found gone (their workflow closed, or never there) while the read model still shows
   * them in line, by `<job id>:<place in line>`, with when they may be picked again. Until then the line
   * leaves them out: the pool frees a gone job's slot and picks again at once, and without this it
   * picked the same job again and again — a busy loop that recorded a PoolSlotsGranted per try (2,800 in
   * 10 s in a test) and gave nobody behind that job a slot — until the job's end was recorded (the
   * reconciler's, for a workflow closed from outside), or forever for a workflow that is not there. A
   * new place in line (a new run, a resume) is a new key.
   */
  const goneFromLine = new Map<string, number>();
  const keepOutOfLine = (jobId: string, queuedSeq: number) => {
    const key = `${jobId}:${queuedSeq}`;
    goneFromLine.delete(key); // kept in the order they end: the expired ones are at the front
    goneFromLine.set(key, Date.now() + GONE_OUT_OF_LINE_MS);
  };
  const outOfLine = (): string[] => {
    const now = Date.now();
    for (const [key, until] of goneFromLine) {
      if (until > now) break;
      goneFromLine.delete(key);
    }
    return [...goneFromLine.keys()];
  };
  /**
   * Tells each picked job it holds a slot, straight from this process: no SignalExternal command per job
   * in the pool's history, no transfer task on the pool, no task of the pool's per confirmation (on a
   * file-backed dev server those queued behind the burst: grants took seconds to arrive while the pool
   * counted their slots used). Returns the jobs that are gone; throws if another failure outlasts the
   * tries (the pick is retried and answers its record; a job told twice takes the second as a repeat).
   */
  const tellPicked = async (pool: string, picks: PoolPick[]): Promise<string[]> => {
    const gone: string[] = [];
    await Promise.all(
      picks.map(async ({ jobId, queuedSeq }) => {
        // Waiting for it inside its workflow task here: told now, no signal (see awaitPoolGrant).
        if (deps.poolGrants?.tell(jobId, pool, queuedSeq)) return;
        try {
          await signalWithTries(
            () => deps.client.workflow.getHandle(jobId).signal(poolSlotGrantedSignal, { pool }),
            GRANT_SIGNAL_TRIES,
          );
        } catch (error) {
          if (!(error instanceof WorkflowNotFoundError)) throw error;
          gone.push(jobId);
          keepOutOfLine(jobId, queuedSeq);
          deps.onJobGone?.(jobId);
        }
      }),
    );
    return gone;
  };
  return {
    async pickPoolWaiters(request: PickPoolWaitersRequest): Promise<PickPoolWaitersResult> {
      // Before reading the line: a wake-up held until now is then answered by this pick or the next.
      if (request.releaseWakes === true) deps.poolWakes?.release(request.pool);
      // The requesters' JobQueued must be readable; with no position known, the whole log.
      if ((request.minPosition ?? 0) > 0) await deps.waitFor(request.minPosition!, 10_000);
      else await caughtUp();
      const finished = Object.entries(request.holders)
        .filter(([id, holder]) => {
          const row = statusOf().get(id);
          return !row || isTerminalJobStatus(row.status) || (row.queued_seq ?? 0) !== holder.queuedSeq;
        })
        .map(([id]) => id);
      // The holders still holding: slots per owner (fair turns) and, given the limit, the slots in use.
      const ended = new Set(finished);
      const held: Record<string, number> = {};
      let used = 0;
      for (const [id, h] of Object.entries(request.holders)) {
        if (ended.has(id)) continue;
        held[h.owner] = (held[h.owner] ?? 0) + 1;
        used += h.weight;
      }
      const adopted = request.adoptRunning === true ? slotsHeldUnknown(request.pool, request.holders) : [];
      for (const a of adopted) {
        held[a.owner] = (held[a.owner] ?? 0) + 1;
        used += a.weight;
      }
      const adoptedWeight = adopted.reduce((sum, a) => sum + a.weight, 0);
      const capacity =
        request.limit === undefined ? Math.max(0, request.capacity - adoptedWeight) : Math.max(0, request.limit - used);
      const withAdopted = adopted.length > 0 ? { adopted } : {};
      const picks: PoolPick[] = [];
      // No free slot: whoever woke the pool waits (the line is not read).
      let lineLeft = capacity <= 0;
      let full = capacity <= 0;
      if (capacity > 0) {
        let free = capacity;
        const rows = line().all({
          pool: request.pool,
          holders: JSON.stringify([...Object.keys(request.holders), ...adopted.map((a) => a.jobId)]),
          gone: JSON.stringify(goneFromLine.size > 0 ? outOfLine() : []),
          held: JSON.stringify(held),
          served: JSON.stringify(request.served ?? {}),
          limit: capacity + 1, // one more than can be served: whether anyone is left in line
        });
        // Strict order: a heavy job at the head waits for enough slots rather than being overtaken forever.
        for (const row of rows) {
          const weight = row.weight ?? 1;
          if (weight > free) break;
          picks.push({ jobId: row.jobId, owner: row.owner, weight, queuedSeq: row.queuedSeq });
          free -= weight;
        }
        lineLeft = rows.length > picks.length;
        full = free <= 0;
      }
      deps.poolGrants?.notePick(request.pool, lineLeft, full);
      if (request.grantId === undefined) return { picks, finished, free: capacity, ...withAdopted };
      // A retry of a pick that told its jobs answers exactly those (recorded first, the first write wins).
      const told = recordedPicks(request.grantId);
      let granted = told ?? picks;
      if (told === undefined && picks.length > 0) {
        const { appended } = await deps.eventStore.appendToStreamGrouped(
          poolStreamId(request.pool),
          [
            {
              eventId: request.grantId,
              type: PoolEvents.slotsGranted,
              data: { pool: request.pool, picks },
              metadata: { actor: 'system', correlationId: poolStreamId(request.pool) },
            },
          ],
          { duplicates: 'same-type' },
        );
        // Another attempt of this pick recorded first (two racing): its record is the answer.
        if (appended === 0) granted = recordedPicks(request.grantId) ?? [];
      }
      return { picks: granted, finished, free: capacity, undelivered: await tellPicked(request.pool, granted), ...withAdopted };
    },

    /**
     * A queued job waits for its pool's grant inside its workflow task (revision 9): a pick in this
     * process tells it here instead of signalling it, so its task goes on to start its step — one
     * workflow task, a signal and a timer fewer per job. The pick records its grants before it tells
     * anyone (PoolSlotsGranted), so a grant told here whose answer was lost with the task (a worker
     * restarted, the task timed out) is found in that record by the task's next try: a job never holds
     * a slot it does not know of. Only a grant of the job's current place in line counts (the read
     * model's queued_seq, which a pause and resume or a retry moves).
     */
    async awaitPoolGrant(request: AwaitPoolGrantRequest): Promise<PoolGrantAnswer> {
      const waiters = deps.poolGrants;
      if (!waiters) return 'unavailable';
      // Registered first: from now on a pick tells it here; one before has recorded its grant already.
      const ticket = waiters.register(request.jobId, request.pool);
      try {
        // Until the read model has applied the job's move into the line, no pick can have chosen it
        // for that place, and its row may still show an earlier place, whose grant must not count.
        if (await deps.waitFor(request.position, GRANT_WAIT_CATCH_UP_MS)) {
          const row = statusOf().get(request.jobId);
          if (row?.queued_seq != null) {
            if (grantRecorded(request.pool, request.jobId, row.queued_seq)) return 'granted';
            ticket?.place(row.queued_seq);
          }
        }
        if (!ticket) return 'busy';
        const most = waiters.isFull(request.pool) ? FULL_POOL_GRANT_WAIT_MS : MAX_GRANT_WAIT_MS;
        return await ticket.wait(Math.min(Math.max(0, request.waitMs), most));
      } catch (error) {
        if (ticket?.granted) return 'granted'; // told meanwhile: nobody else will tell it
        throw error;
      } finally {
        ticket?.cancel();
      }
    },

    /** A control came to a job waiting in awaitPoolGrant: its wait ends now (see PoolGrantWaiters.interrupt). */
    async endPoolGrantWait(request: { jobId: string }): Promise<void> {
      deps.poolGrants?.interrupt(request.jobId);
    },

    /**
     * A job asks its pool for a slot through this process's wake-ups (PoolWaker: folded with the
     * others, held while the pool continues as new). False: nobody sends wake-ups here (signal it).
     */
    async wakePool(request: { pool: string; jobId: string; position?: number }): Promise<boolean> {
      if (!deps.poolWakes) return false;
      deps.poolWakes.wake(request.pool, request.jobId, request.position ?? 0);
      return true;
    },

    /**
     * A pool about to continue as new: no wake-up goes to it for at most `ms` (see PoolWaker.hold).
     * Answers whether this process sends the wake-ups (false: nothing held here).
     */
    async holdPoolWakes(request: { pool: string; ms: number }): Promise<boolean> {
      if (!deps.poolWakes) return false;
      deps.poolWakes.hold(request.pool, Math.min(Math.max(0, request.ms), MAX_WAKE_HOLD_MS));
      return true;
    },

    /** The status of each job (null: unknown, e.g. not started yet), after the read model caught up. */
    async jobOutcomes(request: { jobIds: string[] }): Promise<Record<string, string | null>> {
      await caughtUp();
      return Object.fromEntries(request.jobIds.map((id) => [id, statusOf().get(id)?.status ?? null]));
    },

    /**
     * Starts a pool's workflow unless it runs already (a job asked a pool nobody started yet, or whose
     * workflow was terminated): with the limit recorded for it, else its configured one (see
     * poolStartLimit in the engine).
     */
    async ensurePool(request: { name: string }): Promise<void> {
      await startPoolWorkflow(deps, request.name, poolStartLimit(deps, request.name), 'system');
    },
  };
}

interface PickedRow {
  jobId: string;
  owner: string;
  weight: number | null;
  queuedSeq: number;
}

/**
 * The pools' workflow tasks share the task queue with every job's: they go first (jobs use keys 1…4 for
 * priorities 4…1, so an urgent job ties); else, under a burst, every job waits for its slot behind the
 * burst (a 400-job burst: queued → started p50 14.9 s without, 4.0 s with). The engine sets it; the Java
 * time-skipping test server stalled a pool started with a priority key in about 1 run of 5, so the
 * workflow tests start theirs without one.
 */
export const POOL_PRIORITY_KEY = 1;

/**
 * The limit a new run of a pool that is not running starts with: the one recorded for it (PUT /pools,
 * or its first run's), so that a limit set at run time stands when the pool's workflow is started
 * again (it was terminated, or Temporal lost it) — it used to start from POOLS or the default while the
 * read model went on showing the recorded limit. POOLS (`poolLimits`) seeds a pool not recorded yet.
 */
export function poolStartLimit(
  deps: Pick<SchedulerDeps, 'readModelDb' | 'poolLimits' | 'defaultPoolLimit'>,
  pool: string,
): number {
  const recorded = ReadModelHolder.of(deps.readModelDb)
    .prepare<[string], number>('SELECT "limit" FROM pools WHERE name = ?')
    .pluck()
    .get(pool);
  return recorded ?? deps.poolLimits[pool] ?? deps.defaultPoolLimit;
}

/** Starts `pool:<name>` with `limit` unless it is running (then its own limit stands). */
export async function startPoolWorkflow(
  deps: Pick<SchedulerDeps, 'client' | 'taskQueue' | 'storeAccess' | 'pickLocally' | 'poolPriorityKey'>,
  name: string,
  limit: number,
  actor: string,
): Promise<void> {
  const input: PoolWorkflowInput = {
    name,
    limit,
    actor,
    storeAccess: deps.storeAccess,
    ...(deps.pickLocally !== undefined ? { pickLocally: deps.pickLocally } : {}),
  };
  await deps.client.workflow.start('poolWorkflow', {
    workflowId: poolWorkflowId(deps.taskQueue, name),
    taskQueue: deps.taskQueue,
    args: [input],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    ...(deps.poolPriorityKey !== undefined ? { priority: { priorityKey: deps.poolPriorityKey } } : {}),
  });
}

export type SchedulerActivities = ReturnType<typeof createSchedulerActivities>;
