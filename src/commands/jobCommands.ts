import type { PoolGrantWaiters } from '../activities/poolGrantWaiters.js';
import type { RetrySettings } from '../jobs/jobType.js';
import { createHash, randomUUID } from 'node:crypto';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { ApplicationFailure, WorkflowIdReusePolicy } from '@temporalio/common';
import { InvalidJobInputError, UnknownJobTypeError, type JobTypeRegistry } from '../jobs/registry.js';
import { deleteJobsWorkflow } from '../workflows/deleteJobsWorkflow.js';
import {
  INVALID_ARGUMENT,
  cancelSignal,
  cancelUpdate,
  isTerminalJobStatus,
  JOB_WORKFLOW_REVISION,
  jobPlacement,
  jobSearchAttributes,
  jobSubmittedEvent,
  jobWorkflow,
  pauseSignal,
  pauseUpdate,
  reprioritizeSignal,
  reprioritizeUpdate,
  resumeSignal,
  resumeUpdate,
  toPriorityKey,
  type ControlResult,
  type JobWorkflowInput,
} from '../workflows/jobWorkflow.js';
import { fileIdsNamedBy, type JobReadModel, type JobRow } from '../projections/jobReadModel.js';
import { evolveJob } from '../projections/jobProjection.js';
import { DEFAULT_POOL, DomainError, type Dependency } from '../domain/index.js';
import { IdempotencyConflictError, badRequest, conflict, forbidden } from './commandErrors.js';
import { InputAccessDeniedError } from '../jobs/jobType.js';
import { pollUntil } from './pollUntil.js';
import { updateUntilVisible } from './updateUntilVisible.js';
import {
  DEFAULT_CONTROL_WAIT_MS,
  NotDoneYet,
  formatWait,
  sendControl,
  sendKept,
  withinControlWait,
  withinWait,
} from './controlWait.js';
import type { EventStore, RecordedEvent } from '../eventstore/index.js';
import { DEFAULT_MAX_JOB_INPUT_BYTES, assertInputSize } from './inputSize.js';
import { assertDeliverableUrl } from './webhookCommands.js';

export interface ReadYourWrites {
  /** Resolves once the read model has applied the log up to `position`. */
  waitFor(position: number, timeoutMs?: number): Promise<boolean>;
  /** Resolves once `predicate` holds on the read model (re-checked as events are applied). */
  waitUntil(predicate: () => boolean, timeoutMs?: number): Promise<boolean>;
  /** The first event applied from now on that `match` accepts (see Projector.whenApplied). */
  whenApplied?(
    match: (event: RecordedEvent) => boolean,
    timeoutMs?: number,
  ): { promise: Promise<RecordedEvent | undefined>; cancel(): void };
}

export interface JobCommandsDeps {
  client: Client;
  /** Task queue of job workflows and their steps. */
  taskQueue: string;
  registry: JobTypeRegistry;
  readModel: JobReadModel;
  projection: ReadYourWrites;
  /** Type used when a submit names none. */
  defaultJobType: string;
  /** How long a command waits for its effect to show in the read model (ms). */
  visibilityTimeoutMs?: number;
  /** How long a control (pause, resume, cancel, priority) waits for the job's workflow to take it, and a
   * deletion for its workflow to finish, before it answers that it is not done yet (ControlNotTakenYet,
   * NotDoneYet); default DEFAULT_CONTROL_WAIT_MS. */
  controlWaitMs?: number;
  /** How job workflows reach the event store (see src/workflows/eventOutbox.ts). */
  storeAccess?: 'local' | 'remote';
  /** Job workflows run next to the read model (the engine's own workers): they ask their pools by
   * local activity (JobWorkflowInput.askPoolLocally). */
  askPoolLocally?: boolean;
  /** Temporal's workflow task timeout of job workflows (ms): how soon a task lost with its worker is
   * retried elsewhere. Default: Temporal's (10 s). */
  workflowTaskTimeoutMs?: number;
  /** Largest job input as JSON, bytes; default DEFAULT_MAX_JOB_INPUT_BYTES. */
  maxJobInputBytes?: number;
  /** Uploaded files: a deleted job's input files go with it once no other job names them. */
  files?: { remove(id: string): number };
  /** Jobs of this process waiting for their pool's grant in their workflow task: a control ends the wait. */
  poolGrants?: Pick<PoolGrantWaiters, 'interrupt'>;
  /** Pools started from the configuration (known before their PoolCreated is read); default: `default`. */
  configuredPools?: readonly string[];
  /** The event store, when this process owns it: a submit records the job's JobSubmitted itself (the
   * same event the workflow records first), so the job is readable as soon as Temporal accepted it
   * instead of after the workflow's first task. Omitted: the submit waits for the workflow's record. */
  eventStore?: Pick<EventStore, 'appendToStreamGrouped'>;
}

export interface SubmitJobCommand {
  name: string;
  type?: string;
  input?: Record<string, unknown>;
  priority: number;
  owner: string;
  actor: string;
  timeoutSeconds?: number;
  delaySeconds?: number;
  /** ISO 8601 with offset: the job waits as `scheduled` until then. */
  scheduledAt?: string;
  /** Resource pool (default: the type's, else `default`) and slots taken. */
  pool?: string;
  weight?: number;
  dependsOn?: Dependency[];
  /** The caller may depend on other owners' jobs. */
  admin?: boolean;
  /** Small JSON of the caller's own, returned by GET and carried in JobSubmitted. */
  metadata?: Record<string, unknown>;
  /** Labels to filter by (`GET /jobs/list?tag=`). */
  tags?: string[];
  /** Overrides of the job type's retry settings for this job (within MAX_RETRY_OVERRIDES). */
  retry?: Partial<RetrySettings>;
  batchId?: string | null;
  /** Where the job's end is POSTed, signed (see README "Webhooks"); kept in JobSubmitted. */
  callbackUrl?: string;
  /** Idempotency-Key header: the same key (per owner) and body return the same job, never a second one. */
  idempotencyKey?: string;
}

export { IdempotencyConflictError };

export type ControlAction = 'pause' | 'resume' | 'cancel';
const updates = { pause: pauseUpdate, resume: resumeUpdate, cancel: cancelUpdate } as const;
const signals = { pause: pauseSignal, resume: resumeSignal, cancel: cancelSignal } as const;
const yes = () => true;
const no = () => false;

/** The most jobs kept as accepted-not-recorded (JobCommands.jobOrAccepted); the oldest go first. */
export const MAX_ACCEPTED_NOT_RECORDED = 10_000;

/** The API's only way to change a job: through Temporal. It never writes job state itself; it waits
 * until the workflow's events reach the read model so the caller reads its own write. */
export class JobCommands {
  private readonly visibilityTimeoutMs: number;
  /**
   * Jobs whose submit answered 202: Temporal accepted the start, but the read model did not show the
   * job within the wait (its projector behind, or the store's append refused and no worker ran the
   * job's first task yet). Kept as their JobSubmitted makes them, so that a control sent right after
   * such a submit finds its job (and its owner) instead of a 404; the control itself goes through
   * Temporal as any other. Dropped once the read model has the job.
   */
  private readonly acceptedNotRecorded = new Map<string, JobRow>();
  /** How long a control waits for the job's workflow to take it (JobCommandsDeps.controlWaitMs). */
  readonly controlWaitMs: number;

  constructor(private readonly deps: JobCommandsDeps) {
    this.visibilityTimeoutMs = deps.visibilityTimeoutMs ?? 15_000;
    this.controlWaitMs = deps.controlWaitMs ?? DEFAULT_CONTROL_WAIT_MS;
  }

  /** Validates, plans and starts a job; returns once the job is readable (or the wait times out). */
  async submit(command: SubmitJobCommand): Promise<{ jobId: string; visible: boolean; existing: boolean }> {
    const jobId = command.idempotencyKey ? idempotentJobId(command.owner, command.idempotencyKey) : `job_${randomUUID()}`;
    const input: JobWorkflowInput = { ...this.prepareJob(command), jobId, submittedAt: new Date().toISOString() };
    let runId: string;
    try {
      runId = await this.start(input);
    } catch (error) {
      if (!(error instanceof AlreadyStarted) || !command.idempotencyKey) throw error;
      // The same key again: the same job if the request is the same, else a conflict.
      await this.until(() => this.deps.readModel.getJob(jobId) !== undefined);
      const existing = this.deps.readModel.getJob(jobId);
      if (!existing) return { jobId, visible: false, existing: true };
      const same =
        existing.name === input.name &&
        existing.type === input.type &&
        existing.priority === input.priority &&
        existing.input === JSON.stringify(input.input ?? {});
      if (!same) throw new IdempotencyConflictError();
      return { jobId, visible: true, existing: true };
    }
    // A job that goes straight into line (no dependencies, no start time) may get its slot before its
    // first task runs: once its JobSubmitted is applied, the read model's owner wakes its pool
    // (wakePoolsOfQueuedJobs), as for a batch's jobs.
    const position = await this.recordSubmitted(input, runId);
    const visible =
      position !== undefined
        ? await this.deps.projection.waitFor(position, this.visibilityTimeoutMs)
        : await this.until(() => this.deps.readModel.getJob(jobId) !== undefined);
    if (!visible) this.rememberAccepted(input, runId);
    return { jobId, visible, existing: false };
  }

  /**
   * The job as the read model has it; for a job whose submit answered 202 and that the read model does
   * not have yet, the job as its JobSubmitted makes it (status `pending`). Undefined: no such job here.
   */
  jobOrAccepted(jobId: string): JobRow | undefined {
    const row = this.deps.readModel.getJob(jobId);
    if (row) {
      this.acceptedNotRecorded.delete(jobId);
      return row;
    }
    return this.acceptedNotRecorded.get(jobId);
  }

  /** Whether the job's submit answered 202 and the read model does not have it yet. */
  isAcceptedNotRecorded(jobId: string): boolean {
    return this.deps.readModel.getJob(jobId) === undefined && this.acceptedNotRecorded.has(jobId);
  }

  private rememberAccepted(input: JobWorkflowInput, runId: string): void {
    if (this.deps.readModel.getJob(input.jobId)) return; // shown meanwhile
    // The row the projection will make of this JobSubmitted (the same event the workflow records).
    const event = jobSubmittedEvent(input, runId);
    const row = evolveJob(undefined, {
      globalPosition: 0,
      streamId: input.jobId,
      streamVersion: 1,
      type: event.type,
      data: event.data,
      metadata: event.metadata,
      recordedAt: input.submittedAt ?? new Date().toISOString(),
    });
    if (!row) return;
    this.acceptedNotRecorded.set(input.jobId, row);
    for (const id of this.acceptedNotRecorded.keys()) {
      if (this.acceptedNotRecorded.size <= MAX_ACCEPTED_NOT_RECORDED) break;
      this.acceptedNotRecorded.delete(id);
    }
  }

  /**
   * Records the job's JobSubmitted as its workflow will (same id, same data: jobSubmittedData), once
   * Temporal has accepted the start — never before, so a job that failed to start is never in the log.
   * Whichever of the two appends comes second is a no-op in the store. A failed append here loses
   * nothing (the workflow records it); the caller then waits for the workflow's record.
   */
  private async recordSubmitted(input: JobWorkflowInput, runId: string): Promise<number | undefined> {
    if (!this.deps.eventStore) return undefined;
    try {
      const result = await this.deps.eventStore.appendToStreamGrouped(
        input.jobId,
        [jobSubmittedEvent(input, runId)],
        // Same id and type is the same fact, as for the workflow's own append (eventStoreActivities).
        { duplicates: 'same-type' },
      );
      return result.lastGlobalPosition;
    } catch {
      return undefined;
    }
  }

  /**
   * A submit's validation and plan: the job type, its input checked against the type's schema and
   * size limit, the plan, its pool, dependencies and start time, and the workflow input built from
   * them — with an empty job id (the caller's to set). The one place a job request becomes a
   * JobWorkflowInput: submits and the runs of a schedule share it. Errors are 400s naming the field;
   * `field` prefixes it (`job.` for a schedule).
   */
  prepareJob(command: SubmitJobCommand, field = ''): JobWorkflowInput {
    const type = command.type ?? this.deps.registry.typeForUntyped(command.input) ?? this.deps.defaultJobType;
    let prepared;
    try {
      prepared = this.deps.registry.prepare(type, command.input ?? {}, { owner: command.owner });
    } catch (error) {
      if (error instanceof UnknownJobTypeError) throw badRequest(`${field}type: ${error.message}`);
      if (error instanceof InputAccessDeniedError) throw forbidden(`${field}${error.message}`);
      if (error instanceof InvalidJobInputError)
        throw badRequest(error.issues.map((i) => `${field}input.${i.path || '(root)'}: ${i.message}`).join('; '));
      throw error;
    }
    assertInputSize(prepared.input, this.deps.maxJobInputBytes ?? DEFAULT_MAX_JOB_INPUT_BYTES, `${field}input`);
    const pool = command.pool ?? prepared.plan.pool ?? DEFAULT_POOL;
    this.assertPoolKnown(pool, command.pool !== undefined ? `${field}pool` : `type ${type}'s pool`);
    const dependsOn = this.checkDependencies(command.dependsOn ?? [], command.owner, command.admin === true);
    const runAt = this.runAtOf(command);
    if (command.callbackUrl !== undefined) assertDeliverableUrl(command.callbackUrl, `${field}callback_url`);
    return {
      revision: JOB_WORKFLOW_REVISION,
      jobId: '',
      name: command.name,
      type,
      input: prepared.input,
      priority: command.priority,
      owner: command.owner,
      batchId: command.batchId ?? null,
      plan: command.retry ? { ...prepared.plan, retry: { ...prepared.plan.retry, ...command.retry } } : prepared.plan,
      timeoutMs: command.timeoutSeconds ? Math.round(command.timeoutSeconds * 1000) : null,
      runAt,
      ...(command.metadata !== undefined ? { metadata: command.metadata } : {}),
      ...(command.tags?.length ? { tags: [...new Set(command.tags)] } : {}),
      ...(command.pool !== undefined ? { pool } : {}),
      ...(command.weight !== undefined ? { weight: command.weight } : {}),
      ...(dependsOn.length > 0 ? { dependsOn } : {}),
      ...(command.callbackUrl !== undefined ? { callbackUrl: command.callbackUrl } : {}),
      actor: command.actor,
      correlationId: command.idempotencyKey ?? null,
      ...jobPlacement(this.deps.storeAccess, this.deps.askPoolLocally),
    };
  }

  /** A pool must exist (configured, or created with PUT /pools/{name}) before jobs can wait in it. */
  private assertPoolKnown(pool: string, field: string): void {
    if ((this.deps.configuredPools ?? [DEFAULT_POOL]).includes(pool) || this.deps.readModel.getPool(pool)) return;
    throw badRequest(`${field}: no pool named ${JSON.stringify(pool)}; create it with PUT /api/v1/pools/${pool} or POOLS`);
  }

  /** Dependencies must name existing jobs the caller may see, each once, and never the job itself. */
  checkDependencies(dependsOn: Dependency[], owner: string, admin: boolean): Dependency[] {
    const seen = new Set<string>();
    const unknown: string[] = [];
    for (const dep of dependsOn) {
      if (seen.has(dep.jobId)) throw badRequest(`depends_on: ${dep.jobId} is named twice`);
      seen.add(dep.jobId);
      const row = this.deps.readModel.getJob(dep.jobId);
      if (!row) unknown.push(dep.jobId);
      else if (!admin && row.owner !== owner)
        throw new DomainError('forbidden', `depends_on: job ${dep.jobId} belongs to another user`);
    }
    if (unknown.length > 0) throw badRequest(`depends_on: no job ${unknown.join(', ')}`);
    return dependsOn.map((d) => ({ jobId: d.jobId, condition: d.condition ?? 'succeeded' }));
  }

  private runAtOf(command: SubmitJobCommand): string | null {
    if (command.scheduledAt !== undefined && command.delaySeconds !== undefined)
      throw badRequest('scheduled_at: give scheduled_at or delay_seconds, not both');
    if (command.scheduledAt !== undefined) return new Date(Date.parse(command.scheduledAt)).toISOString();
    return command.delaySeconds ? new Date(Date.now() + command.delaySeconds * 1000).toISOString() : null;
  }

  /** Deletes finished jobs: tombstones in the log (deleteJobsWorkflow), rows and result files go. */
  async deleteJobs(rows: JobRow[], actor: string, reason: string): Promise<{ deleted: number; freedBytes: number }> {
    const active = rows.find((row) => !isTerminalJobStatus(row.status));
    if (active) throw conflict(`Job ${active.id} is ${active.status}; only finished jobs can be deleted`);
    if (rows.length === 0) return { deleted: 0, freedBytes: 0 };
    const workflowId = `delete_${randomUUID()}`;
    const handle = await this.deps.client.workflow.start(deleteJobsWorkflow, {
      workflowId,
      taskQueue: this.deps.taskQueue,
      args: [{ jobIds: rows.map((r) => r.id), actor, reason }],
    });
    // Bounded: with no worker the deletion would wait for one as long as the caller does. It is
    // started (Temporal keeps it) and finishes when a worker runs it; a repeat deletes nothing twice.
    const result = await withinWait(
      this.deps.client,
      this.controlWaitMs,
      () => handle.result(),
      () => {
        const what = rows.length === 1 ? `Deletion of ${rows[0]!.id}` : `Deletion of ${rows.length} jobs`;
        return new NotDoneYet(
          `${what} started (${workflowId}); not finished within ${formatWait(this.controlWaitMs)} (a large one, or no ` +
            'worker running it): the jobs go as it runs. GET them to see.',
        );
      },
    );
    await this.deps.projection.waitFor(result.position, this.visibilityTimeoutMs);
    return { deleted: result.deleted, freedBytes: result.freedBytes + this.removeUnusedInputFiles(rows) };
  }

  /** Uploaded files named in the deleted jobs' inputs that no remaining job names; the bytes freed. */
  private removeUnusedInputFiles(rows: JobRow[]): number {
    if (!this.deps.files) return 0;
    const ids = fileIdsNamedBy(rows);
    const stillNamed = this.deps.readModel.fileIdsStillNamed(ids);
    let freed = 0;
    for (const id of ids) if (!stillNamed.has(id)) freed += this.deps.files.remove(id);
    return freed;
  }

  /** pause | resume | cancel through the workflow's Update (validated there; nothing written if refused). */
  async control(row: JobRow, action: ControlAction, actor: string, reason?: string): Promise<JobRow> {
    if (isTerminalJobStatus(row.status)) throw conflict(`Job is already ${row.status}; it cannot be ${past(action)}`);
    this.deps.poolGrants?.interrupt(row.id); // its control comes in its next workflow task
    const handle = this.deps.client.workflow.getHandle(row.id);
    if (action === 'cancel') {
      const payload = { actor, reason, closeAsCanceled: true };
      const updateId = randomUUID();
      const result = await sendKept(
        () => this.update(row.id, () => handle.executeUpdate(updates.cancel, { args: [payload], updateId })),
        // Not taken yet: the cancel signal (who and why), then Temporal's own cancel request, which
        // closes the execution as Canceled; either alone is kept in the job's history.
        async () => {
          const signalled = await handle.signal(signals.cancel, { ...payload, requestId: updateId }).then(yes, no);
          const requested = await handle.cancel().then(yes, no);
          if (!signalled && !requested) throw new Error('neither the cancel signal nor the cancel request was sent');
        },
      );
      // The Update recorded the cancel; Temporal's own cancel request makes the execution close as
      // Canceled (Web UI, `temporal workflow list`). The job waits for it; if it has closed already, fine.
      await handle.cancel().catch(() => undefined);
      await this.deps.projection.waitFor(result.position, this.visibilityTimeoutMs);
    } else {
      const definitions = { update: updates[action], signal: signals[action] };
      await updateUntilVisible(this.deps.projection, this.visibilityTimeoutMs, (updateId) =>
        sendControl(handle, definitions, { actor, reason }, updateId, (call) => this.update(row.id, call)),
      );
    }
    return this.deps.readModel.getJob(row.id) ?? row;
  }

  async reprioritize(row: JobRow, priority: number, actor: string, reason?: string): Promise<JobRow> {
    if (isTerminalJobStatus(row.status)) throw conflict(`Job is already ${row.status}; its priority cannot change`);
    this.deps.poolGrants?.interrupt(row.id);
    const handle = this.deps.client.workflow.getHandle(row.id);
    const definitions = { update: reprioritizeUpdate, signal: reprioritizeSignal };
    await updateUntilVisible(this.deps.projection, this.visibilityTimeoutMs, (updateId) =>
      sendControl(handle, definitions, { priority, actor, reason }, updateId, (call) => this.update(row.id, call)),
    );
    return this.deps.readModel.getJob(row.id) ?? row;
  }

  /** Emergency stop. The workflow cannot record its own end; the reconciler does, and we wait for it. */
  async terminate(row: JobRow, actor: string, reason?: string): Promise<JobRow> {
    if (isTerminalJobStatus(row.status)) throw conflict(`Job is already ${row.status}; it cannot be terminated`);
    try {
      await this.deps.client.workflow.getHandle(row.id).terminate(`${reason ?? 'terminated'} (by ${actor})`);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw conflict('Job is not running in Temporal any more');
      throw error;
    }
    await this.until(() => isTerminalJobStatus(this.deps.readModel.getJob(row.id)?.status ?? 'terminated'));
    return this.deps.readModel.getJob(row.id) ?? row;
  }

  /**
   * Restarts a failed or cancelled job as a new run of the same workflow id; its stream continues. The
   * jobs that were cancelled because they depended on it are retried too (transitively): they wait
   * for it again, blocked, instead of staying cancelled for a failure that is being retried.
   */
  async retry(
    row: JobRow,
    actor: string,
    reason?: string,
    /** false: return once the new run is started, without waiting for its record (a caller retrying
     * many jobs whose records are known to lag: no worker is running them). */
    options: { waitForRecord?: boolean } = {},
  ): Promise<JobRow> {
    const first = await this.retryOne(row, actor, reason, options.waitForRecord ?? true);
    // Not recorded yet (no worker ran the new run): the dependents are started again all the same (they
    // wait for the new run, which is started), without waiting for their records either.
    const waitForRecords = first.recorded;
    const rearmed = new Set<string>([row.id]);
    const queue = [row.id];
    while (queue.length > 0) {
      for (const dependent of this.deps.readModel.dependentsCancelledBy(queue.shift()!)) {
        if (rearmed.has(dependent.id)) continue;
        rearmed.add(dependent.id);
        await this.retryOne(dependent, actor, reason, waitForRecords);
        queue.push(dependent.id);
      }
    }
    if (!first.recorded) {
      const dependents = rearmed.size > 1 ? ` (and ${rearmed.size - 1} dependent job(s))` : '';
      throw new NotDoneYet(
        `Retry of ${row.id}${dependents} started; not recorded within ${formatWait(this.visibilityTimeoutMs)} ` +
          '(is a worker running?): it runs when a worker does. GET the job to see.',
      );
    }
    return first.row;
  }

  /** Starts the job's new run; `recorded` is false only when it waited for the run's record and the
   * record did not come in time (not waiting counts as recorded: the caller knows it did not ask). */
  private async retryOne(
    row: JobRow,
    actor: string,
    reason: string | undefined,
    waitForRecord: boolean,
  ): Promise<{ row: JobRow; recorded: boolean }> {
    if (!['failed', 'cancelled', 'terminated', 'timed_out'].includes(row.status)) {
      throw conflict(`Job is ${row.status}; only failed, cancelled, terminated or timed-out jobs can be retried`);
    }
    const prepared = this.deps.registry.prepare(row.type, JSON.parse(row.input));
    const input: JobWorkflowInput = {
      revision: JOB_WORKFLOW_REVISION,
      jobId: row.id,
      name: row.name,
      type: row.type,
      input: prepared.input,
      priority: row.priority,
      owner: row.owner,
      batchId: row.batch_id,
      plan: prepared.plan,
      timeoutMs: row.timeout_ms,
      actor,
      ...jobPlacement(this.deps.storeAccess, this.deps.askPoolLocally),
      ...(row.pool ? { pool: row.pool, weight: row.pool_weight ?? 1 } : {}),
      dependsOn: (JSON.parse(row.depends_on ?? '[]') as { job_id: string; condition: Dependency['condition'] }[]).map((d) => ({
        jobId: d.job_id,
        condition: d.condition,
      })),
      retryOf: {
        attempts: row.attempts,
        completedSteps: row.completed_steps,
        resultFiles: JSON.parse(row.result_files),
        createdAt: row.created_at,
        ...(reason ? { reason } : {}),
      },
    };
    const before = row.version;
    // The last event is written just before the workflow closes: let the old run finish closing.
    // Temporal's own state, not the read model: the previous run must have closed before a new one starts.
    await pollUntil(
      async () => (await this.deps.client.workflow.getHandle(row.id).describe()).status.name !== 'RUNNING',
      this.visibilityTimeoutMs,
    );
    await this.start(input, WorkflowIdReusePolicy.ALLOW_DUPLICATE);
    const recorded = !waitForRecord || (await this.until(() => (this.deps.readModel.getJob(row.id)?.version ?? 0) > before));
    return { row: this.deps.readModel.getJob(row.id) ?? row, recorded };
  }

  /** Starts the job's workflow; returns its run id. */
  private async start(input: JobWorkflowInput, reuse?: WorkflowIdReusePolicy): Promise<string> {
    try {
      const handle = await this.deps.client.workflow.start(jobWorkflow, {
        workflowId: input.jobId,
        taskQueue: this.deps.taskQueue,
        args: [input],
        // A job id is never reused by a submit (idempotency keys rely on it); only retry reuses it.
        workflowIdReusePolicy: reuse ?? WorkflowIdReusePolicy.REJECT_DUPLICATE,
        priority: { priorityKey: toPriorityKey(input.priority) },
        typedSearchAttributes: jobSearchAttributes(input),
        ...(this.deps.workflowTaskTimeoutMs ? { workflowTaskTimeout: this.deps.workflowTaskTimeoutMs } : {}),
      });
      return handle.firstExecutionRunId;
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) throw new AlreadyStarted(input.jobId);
      throw error;
    }
  }

  private async update(jobId: string, call: () => Promise<ControlResult>): Promise<ControlResult> {
    try {
      return await withinControlWait(this.deps.client, jobId, this.controlWaitMs, call);
    } catch (error) {
      if (error instanceof WorkflowUpdateFailedError) {
        const cause = error.cause;
        if (cause instanceof ApplicationFailure) {
          throw new DomainError(cause.type === INVALID_ARGUMENT ? 'invalid' : 'conflict', cause.message);
        }
        throw conflict(cause?.message ?? error.message);
      }
      if (error instanceof WorkflowNotFoundError) throw conflict(`Job ${jobId} is no longer running`);
      const message = error instanceof Error ? error.message : String(error);
      if (/already completed|workflow execution.*(completed|closed)/i.test(message))
        throw conflict(`Job ${jobId} is no longer running`);
      throw error;
    }
  }

  /** Waits for an effect on the read model (the projector re-checks it as it applies events). */
  private until(predicate: () => boolean): Promise<boolean> {
    return this.deps.projection.waitUntil(predicate, this.visibilityTimeoutMs);
  }
}

class AlreadyStarted extends DomainError {
  constructor(jobId: string) {
    super('conflict', `Job ${jobId} exists already`);
  }
}

/** A job id derived from (owner, Idempotency-Key): a repeated submit maps onto the same workflow id. */
function idempotentJobId(owner: string, key: string): string {
  const h = createHash('sha256').update(`${owner}\n${key}`).digest('hex');
  return `job_${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function past(action: ControlAction): string {
  return action === 'pause' ? 'paused' : action === 'resume' ? 'resumed' : 'cancelled';
}
