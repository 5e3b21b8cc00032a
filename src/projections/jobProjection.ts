import type { ScannedEvent } from '../eventstore/index.js';
import { DEPENDENCY_FAILED, JobEvents, isTerminalJobStatus, jobStatusAfter, type JobStatus } from '../domain/index.js';
import type { JobRow } from './jobReadModel.js';
import type { ReadModelDb } from './readModelDb.js';

/** A projection turns events into read-model rows. `apply` runs inside the projector's transaction,
 * which also moves the checkpoint, so a row never gets ahead of or behind its checkpoint. */
export interface Projection {
  readonly name: string;
  /**
   * The event types it reads, by prefix (e.g. `Batch`): a rebuild hands it only those. Unset: every
   * event (always right, but a rebuild then sends it the whole log).
   */
  readonly eventTypePrefixes?: readonly string[];
  apply(db: ReadModelDb, event: ScannedEvent): void;
}

export const JOB_COLUMNS = [
  'id',
  'name',
  'type',
  'status',
  'priority',
  'owner',
  'batch_id',
  'schedule_id',
  'input',
  'total_steps',
  'completed_steps',
  'current_step',
  'progress',
  'message',
  'error_message',
  'error_type',
  'attempts',
  'max_attempts',
  'next_retry_at',
  'timeout_ms',
  'run_at',
  'result',
  'result_files',
  'estimated_remaining',
  'active_ms',
  'created_at',
  'started_at',
  'completed_at',
  'paused_at',
  'updated_at',
  'version',
  'last_position',
  'pool',
  'pool_weight',
  'queued_seq',
  'depends_on',
  'metadata',
  'tags',
] as const;

/**
 * Runs `statement` (an INSERT of JOB_COLUMNS, positional parameters) for one row. Compiled once from
 * the column list (constant names only): a loop over the names is a keyed lookup per column, and a
 * rebuild binds millions of rows. The values go as arguments, not as one array: better-sqlite3 binds
 * an array argument element by element through a slower path (182,000 rows: 0.63 s against 0.84 s).
 */
export const runWithJobRow = new Function(
  'statement',
  'row',
  `return statement.run(${JOB_COLUMNS.map((c) => `row.${c} ?? null`).join(', ')});`,
) as (statement: { run(...values: unknown[]): unknown }, row: JobRow) => void;

type Patch = (row: JobRow, d: Record<string, any>, event: ScannedEvent, at: string) => Partial<JobRow>;

/** JobTerminated / JobTimedOut: written by the reconciler for a run closed from outside. */
const closedOutside: Patch = (_row, d, event, at) => ({
  completed_at: d.closedAt ?? at,
  paused_at: null,
  next_retry_at: null,
  current_step: null,
  estimated_remaining: null,
  error_message: event.metadata.reason ?? d.reason ?? null,
  message: event.type === JobEvents.terminated ? 'terminated' : 'timed out',
});

/** What each job event changes in its row (besides the status, which the domain maps). Events not
 * listed (JobSignalIgnored and others) are part of the history, not of the row. */
const JOB_ROW_PATCHES: Partial<Record<string, Patch>> = {
  [JobEvents.retried]: (_row, d) => ({
    attempts: d.attempt,
    max_attempts: d.maxAttempts,
    completed_at: null,
    error_message: null,
    error_type: null,
    next_retry_at: null,
    current_step: d.completedSteps,
    message: 'retry requested',
    // A new run joins the line afresh (where its JobQueued puts it), not at its first submit's place.
    queued_seq: null,
  }),
  [JobEvents.started]: (row, d, _event, at) => ({
    started_at: row.started_at ?? d.startedAt ?? at,
    attempts: d.attempt,
    next_retry_at: null,
    message: null,
  }),
  [JobEvents.blocked]: (_row, d) => ({
    message: `waiting for ${(d.waitingFor ?? []).length} of its dependencies`,
  }),
  [JobEvents.dependencyMet]: (row, d) => ({ depends_on: markDependency(row.depends_on, d.dependency, 'met') }),
  [JobEvents.scheduled]: (_row, d) => ({ run_at: d.runAt, message: `scheduled for ${d.runAt}` }),
  // The line of a pool is ordered by the position of the event that put the job in it. A job that goes
  // into line straight from its submit (or retry) keeps the place of that event: the submit is recorded
  // when the API accepts it, the JobQueued when its workflow first runs, and workflows of jobs submitted
  // one after the other may run in either order.
  [JobEvents.queued]: (row, d, event) => ({
    pool: d.pool,
    pool_weight: d.weight,
    queued_seq: row.status === 'pending' ? (row.queued_seq ?? row.last_position) : event.globalPosition,
    next_retry_at: null,
    message: `waiting for a slot in pool ${d.pool}`,
  }),
  // Never backwards: a job's completed steps only grow (a retry goes on from them), but two writers
  // record JobProgress (the workflow, and since revision 5 the step at its end), so a pause's progress
  // and the end of the step it met can land in either order.
  [JobEvents.progress]: (row, d) =>
    d.completedSteps < row.completed_steps
      ? {}
      : {
          completed_steps: d.completedSteps,
          total_steps: d.totalSteps,
          // In-step progress of the same step may already show more.
          progress: d.completedSteps === row.completed_steps ? Math.max(row.progress, d.progress) : d.progress,
          current_step: d.currentStep,
          estimated_remaining: d.estimatedRemainingS,
          result_files: JSON.stringify(d.resultFiles ?? []),
        },
  // In-step progress (the step activity's own report): the job's progress moves within the step and
  // its message says what the step is doing. Never backwards, never to 100 (the workflow ends it).
  [JobEvents.stepProgress]: (row, d) =>
    isTerminalJobStatus(row.status) || d.step < row.completed_steps
      ? {}
      : {
          progress: Math.max(
            row.progress,
            Math.min(99, Math.floor(((row.completed_steps + (Number(d.fraction) || 0)) * 100) / Math.max(1, row.total_steps))),
          ),
          ...(typeof d.message === 'string' ? { message: d.message } : {}),
        },
  [JobEvents.paused]: (_row, _d, event, at) => ({ paused_at: at, message: event.metadata.reason ?? 'paused' }),
  [JobEvents.resumed]: (row, d, event) =>
    d.to === 'queued'
      ? { paused_at: null, queued_seq: event.globalPosition, message: `waiting for a slot in pool ${row.pool ?? d.pool}` }
      : { paused_at: null, message: null },
  [JobEvents.reprioritized]: (_row, d) => ({ priority: d.to }),
  [JobEvents.attemptFailed]: (_row, d) => ({
    error_message: d.error,
    error_type: d.errorType,
    next_retry_at: d.nextRetryAt,
    // A step lost with its worker is retried within the same attempt (countsAsAttempt: false).
    attempts: d.countsAsAttempt === false ? d.attempt : d.attempt + 1,
    message:
      d.countsAsAttempt === false
        ? `worker lost during attempt ${d.attempt}; retrying at ${d.nextRetryAt}`
        : `attempt ${d.attempt} failed; retrying at ${d.nextRetryAt}`,
  }),
  [JobEvents.completed]: (row, d, _event, at) => ({
    completed_at: at,
    progress: 100,
    completed_steps: d.completedSteps,
    current_step: null,
    estimated_remaining: 0,
    result: JSON.stringify(d.result ?? null),
    result_files: JSON.stringify(d.resultFiles ?? []),
    active_ms: d.activeMs ?? 0,
    attempts: d.attempt ?? row.attempts,
    error_message: null,
    error_type: null,
    next_retry_at: null,
    message: 'completed',
  }),
  [JobEvents.failed]: (_row, d, _event, at) => ({
    completed_at: at,
    error_message: d.error,
    error_type: d.errorType,
    attempts: d.attempt,
    completed_steps: d.completedSteps,
    next_retry_at: null,
    current_step: null,
    estimated_remaining: null,
    active_ms: d.activeMs ?? 0,
    message: 'failed',
  }),
  [JobEvents.cancelled]: (row, d, event, at) => ({
    ...(d.errorType === DEPENDENCY_FAILED
      ? {
          error_type: DEPENDENCY_FAILED,
          error_message: event.metadata.reason ?? null,
          depends_on: markDependency(row.depends_on, d.dependency, 'impossible'),
        }
      : {}),
    completed_at: at,
    paused_at: null,
    next_retry_at: null,
    current_step: null,
    estimated_remaining: null,
    message: event.metadata.reason ? `cancelled: ${event.metadata.reason}` : 'cancelled',
  }),
  [JobEvents.terminated]: closedOutside,
  [JobEvents.timedOut]: closedOutside,
  // A reset run's own view of the job (its status comes through the domain's mapping): what its base
  // run did after the reset point is undone in the row, the log keeps it.
  [JobEvents.reset]: (row, d, event) => ({
    attempts: d.attempt ?? row.attempts,
    completed_steps: d.completedSteps ?? row.completed_steps,
    progress: d.progress ?? row.progress,
    current_step: d.currentStep ?? null,
    started_at: d.startedAt ?? null,
    completed_at: d.completedAt ?? null,
    paused_at: d.pausedAt ?? null,
    next_retry_at: d.nextRetryAt ?? null,
    error_message: d.error ?? null,
    error_type: d.errorType ?? null,
    estimated_remaining: null,
    // A reset run waiting for its pool's slot is in line from here (its JobQueued, if it records one, moves it).
    queued_seq: d.status === 'queued' || d.status === 'pending' ? event.globalPosition : row.queued_seq,
    message: 'reset through Temporal',
  }),
};

/** The job events whose patch above reads the event's metadata (a rebuild reads theirs with the row,
 * every other event's only if asked: naming one too few is slower, never wrong). */
export const JOB_EVENTS_READING_METADATA: readonly string[] = [
  JobEvents.paused,
  JobEvents.cancelled,
  JobEvents.terminated,
  JobEvents.timedOut,
];

/** The row a JobSubmitted creates. */
function submittedRow(event: ScannedEvent, d: Record<string, any>, at: string): JobRow {
  return {
    id: event.streamId,
    name: d.name,
    type: d.type,
    status: 'pending',
    priority: d.priority,
    owner: d.owner,
    batch_id: d.batchId ?? null,
    schedule_id: d.scheduleId ?? null,
    input: JSON.stringify(d.input ?? {}),
    total_steps: d.totalSteps,
    completed_steps: 0,
    current_step: 0,
    progress: 0,
    message: null,
    error_message: null,
    error_type: null,
    attempts: 1,
    max_attempts: d.maxAttempts,
    next_retry_at: null,
    timeout_ms: d.timeoutMs ?? null,
    run_at: d.runAt ?? null,
    result: null,
    result_files: '[]',
    estimated_remaining: null,
    active_ms: 0,
    created_at: d.createdAt ?? at,
    started_at: null,
    completed_at: null,
    paused_at: null,
    updated_at: at,
    version: event.streamVersion,
    last_position: event.globalPosition,
    pool: d.pool ?? null,
    pool_weight: d.weight ?? null,
    // Its place in its pool's line from the start: a job with neither dependencies nor a start time
    // may be given a slot before its workflow first runs (see PoolWaker).
    queued_seq: event.globalPosition,
    metadata: d.metadata == null ? null : JSON.stringify(d.metadata),
    tags: JSON.stringify(d.tags ?? []),
    depends_on: JSON.stringify(
      (d.dependsOn ?? []).map((x: { jobId: string; condition: string }) => ({
        job_id: x.jobId,
        condition: x.condition,
        state: 'waiting',
      })),
    ),
  };
}

/** depends_on (JSON) with one dependency's state changed. */
function markDependency(dependsOn: string | null, jobId: string, state: 'met' | 'impossible'): string {
  const deps = JSON.parse(dependsOn ?? '[]') as { job_id: string; state: string }[];
  return JSON.stringify(deps.map((x) => (x.job_id === jobId ? { ...x, state } : x)));
}

/**
 * The fold of a job stream: the row after `event`, given the row before it (undefined: none yet).
 * Returns the same object when the event changes nothing, `null` when it deletes the job. The live
 * projection and the rebuild both use it, so they cannot disagree. Pure by default; `inPlace` lets
 * the rebuild, which owns its rows, change `row` itself instead of copying it for every event
 * (millions of 31-field copies are most of a rebuild's garbage).
 */
export function evolveJob(row: JobRow | undefined, event: ScannedEvent, inPlace = false): JobRow | null | undefined {
  if (!event.type.startsWith('Job')) return row;
  if (row && event.globalPosition <= row.last_position) return row; // already applied
  const d = event.data as Record<string, any>;
  const at: string = d.at ?? event.recordedAt;
  if (event.type === JobEvents.submitted) return row ?? submittedRow(event, d, at); // never clobber a row
  if (!row) return undefined; // events of a deleted job, or a stream we do not know
  if (event.type === JobEvents.deleted) return null;
  const patch: Record<string, unknown> = JOB_ROW_PATCHES[event.type]?.(row, d, event, at) ?? {};
  // The status after the event: the domain's one mapping, shared with the workflow and the reconciler.
  const status = jobStatusAfter(event.type, d, row.status as JobStatus);
  if (status !== row.status) patch.status = status;
  const next = inPlace ? Object.assign(row, patch as Partial<JobRow>) : { ...row, ...(patch as Partial<JobRow>) };
  next.updated_at = at;
  next.version = event.streamVersion;
  next.last_position = event.globalPosition;
  return next;
}

/** jobs, job_counts and batch_job_counts from the job streams. Idempotent: an event at or before a
 * row's last_position is skipped, so delivering an event twice changes nothing. Counts are kept as
 * jobs move (rows at zero are removed, so a rebuild from final states gives the same table). */
export function jobProjection(): Projection {
  let preparedFor: ReadModelDb | undefined;
  let s: ReturnType<typeof prepare>;
  function prepare(db: ReadModelDb) {
    return {
      get: db.prepare<[string], JobRow>('SELECT * FROM jobs WHERE id = ?'),
      insert: db.prepare(`INSERT INTO jobs (${JOB_COLUMNS.join(', ')}) VALUES (${JOB_COLUMNS.map((c) => `@${c}`).join(', ')})`),
      update: db.prepare(
        `UPDATE jobs SET ${JOB_COLUMNS.filter((c) => c !== 'id')
          .map((c) => `${c} = @${c}`)
          .join(', ')} WHERE id = @id`,
      ),
      remove: db.prepare('DELETE FROM jobs WHERE id = ?'),
      ...countStatements(db),
    };
  }
  return {
    name: 'jobs',
    eventTypePrefixes: ['Job'],
    apply(db, event) {
      if (!event.type.startsWith('Job')) return;
      if (preparedFor !== db) {
        s = prepare(db);
        preparedFor = db;
      }
      const before = s.get.get(event.streamId);
      const after = evolveJob(before, event);
      if (after === before) return;
      if (after === null) s.remove.run(event.streamId);
      else if (!before) s.insert.run(after);
      else s.update.run(after);
      if (before && after && before.status === after.status) return; // counters unchanged
      if (before) s.move(before, -1);
      if (after) s.move(after, +1);
    },
  };
}

/** Statements that move a job in and out of the per-owner and per-batch counters. */
export function countStatements(db: ReadModelDb) {
  const count = db.prepare(`INSERT INTO job_counts (owner, status, count) VALUES (?, ?, ?)
    ON CONFLICT (owner, status) DO UPDATE SET count = count + excluded.count`);
  const dropCount = db.prepare('DELETE FROM job_counts WHERE owner = ? AND status = ? AND count = 0');
  const batchCount = db.prepare(`INSERT INTO batch_job_counts (batch_id, status, count) VALUES (?, ?, ?)
    ON CONFLICT (batch_id, status) DO UPDATE SET count = count + excluded.count`);
  const dropBatchCount = db.prepare('DELETE FROM batch_job_counts WHERE batch_id = ? AND status = ? AND count = 0');
  return {
    move(row: Pick<JobRow, 'owner' | 'status' | 'batch_id'>, delta: 1 | -1) {
      count.run(row.owner, row.status, delta);
      if (delta < 0) dropCount.run(row.owner, row.status);
      if (row.batch_id) {
        batchCount.run(row.batch_id, row.status, delta);
        if (delta < 0) dropBatchCount.run(row.batch_id, row.status);
      }
    },
  };
}
