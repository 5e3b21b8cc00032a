import { findDependencyCycle, type Dependency, type DependencyCondition } from '../domain/index.js';
import { DEFAULT_MAX_JOB_INPUT_BYTES, assertInputSize } from './inputSize.js';
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure, WorkflowIdReusePolicy } from '@temporalio/common';
import { InvalidJobInputError, UnknownJobTypeError, type JobTypeRegistry } from '../jobs/registry.js';
import { InputAccessDeniedError, type RetrySettings } from '../jobs/jobType.js';
import type { BatchItemStore } from '../batches/batchItemStore.js';
import type { BatchReadModel, BatchRow } from '../projections/batchReadModel.js';
import type { JobReadModel } from '../projections/jobReadModel.js';
import {
  batchCancelUpdate,
  batchControl,
  batchPauseUpdate,
  batchReprioritizeUpdate,
  batchResumeUpdate,
  batchWorkflow,
  isTerminalBatchStatus,
  type BatchControlResult,
  type BatchCounts,
  type FailurePolicy,
  type PreparedBatchItem,
} from '../workflows/batchWorkflow.js';
import {
  INVALID_ARGUMENT,
  JOB_WORKFLOW_REVISION,
  jobPlacement,
  toPriorityKey,
  type JobWorkflowInput,
} from '../workflows/jobContract.js';
import { BatchIdKey, BatchStatusKey, OwnerKey } from '../temporal/searchAttributes.js';
import { DomainError } from '../domain/index.js';
import { badRequest, conflict, forbidden } from './commandErrors.js';
import type { ReadYourWrites } from './jobCommands.js';
import { updateUntilVisible } from './updateUntilVisible.js';
import { DEFAULT_CONTROL_WAIT_MS, NotDoneYet, formatWait, sendControl, withinControlWait } from './controlWait.js';
import { assertDeliverableUrl } from './webhookCommands.js';
import { pollUntil } from './pollUntil.js';

export interface BatchJobSpec {
  name: string;
  type?: string;
  input?: Record<string, unknown>;
  priority?: number;
  /** Names the item for other items' depends_on (unique in the batch). */
  key?: string;
  /** Items of this batch (by key) or existing jobs (by id) that must reach a state first. */
  dependsOn?: { key?: string; jobId?: string; condition: DependencyCondition }[];
  pool?: string;
  weight?: number;
  /** Where the job's end is POSTed. */
  callbackUrl?: string;
}

export interface CreateBatchCommand {
  name: string;
  description?: string;
  priority: number;
  jobs: BatchJobSpec[];
  concurrency: number;
  failurePolicy: FailurePolicy;
  retry?: Partial<RetrySettings>;
  owner: string;
  actor: string;
  jobsPerRun?: number;
  /** The caller may depend on other owners' jobs. */
  admin?: boolean;
}

/** Creates and steers batches through Temporal (batchWorkflow); never writes batch state itself. */
export class BatchCommands {
  constructor(
    private readonly deps: {
      client: Client;
      taskQueue: string;
      registry: JobTypeRegistry;
      items: BatchItemStore;
      batches: BatchReadModel;
      jobs: JobReadModel;
      projection: ReadYourWrites;
      defaultJobType: string;
      visibilityTimeoutMs?: number;
      /** How long a control waits for the batch's workflow to take it (see JobCommandsDeps.controlWaitMs). */
      controlWaitMs?: number;
      storeAccess?: 'local' | 'remote';
      /** Jobs ask their pools by local activity (JobWorkflowInput.askPoolLocally). */
      askPoolLocally?: boolean;
      /** Largest input of one job as JSON, bytes; default DEFAULT_MAX_JOB_INPUT_BYTES. */
      maxJobInputBytes?: number;
      /** Pools started from the configuration. */
      configuredPools?: readonly string[];
    },
  ) {}

  /** Validates every job (400 naming each bad index, nothing started), stores the inputs, starts the batch. */
  /** `recorded`: false when the batch's workflow did not record it in time (no worker ran it yet). */
  async create(command: CreateBatchCommand): Promise<{ batchId: string; total: number; recorded: boolean }> {
    const prepared: PreparedBatchItem[] = [];
    const problems: string[] = [];
    command.jobs.forEach((job, index) => {
      const type = job.type ?? this.deps.registry.typeForUntyped(job.input) ?? this.deps.defaultJobType;
      try {
        const { input, plan } = this.deps.registry.prepare(type, job.input ?? {}, { owner: command.owner });
        assertInputSize(input, this.deps.maxJobInputBytes ?? DEFAULT_MAX_JOB_INPUT_BYTES, `jobs[${index}].input`);
        if (job.callbackUrl !== undefined) assertDeliverableUrl(job.callbackUrl, `jobs[${index}].callback_url`);
        const callback = job.callbackUrl !== undefined ? { callbackUrl: job.callbackUrl } : {};
        prepared.push({ name: job.name, type, input, priority: job.priority ?? command.priority, plan, ...callback });
      } catch (error) {
        if (error instanceof UnknownJobTypeError) problems.push(`jobs[${index}].type: ${error.message}`);
        else if (error instanceof InvalidJobInputError)
          problems.push(...error.issues.map((i) => `jobs[${index}].input${i.path ? `.${i.path}` : ''}: ${i.message}`));
        else if (error instanceof InputAccessDeniedError) throw forbidden(`jobs[${index}].${error.message}`);
        else throw error;
      }
    });
    if (problems.length > 0) {
      const shown = problems.slice(0, 20).join('; ');
      throw badRequest(problems.length > 20 ? `${shown}; … and ${problems.length - 20} more` : shown);
    }
    const items = this.planDependencies(command, prepared);
    const batchId = `batch_${randomUUID()}`;
    this.deps.items.put(batchId, items);
    await this.deps.client.workflow.start(batchWorkflow, {
      workflowId: batchId,
      taskQueue: this.deps.taskQueue,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      priority: { priorityKey: toPriorityKey(command.priority) },
      args: [
        {
          batchId,
          name: command.name,
          description: command.description ?? null,
          owner: command.owner,
          priority: command.priority,
          total: prepared.length,
          concurrency: command.concurrency,
          failurePolicy: command.failurePolicy,
          retry: command.retry,
          actor: command.actor,
          jobsPerRun: command.jobsPerRun,
          ...jobPlacement(this.deps.storeAccess, this.deps.askPoolLocally),
        },
      ],
      typedSearchAttributes: [
        { key: BatchIdKey, value: batchId },
        { key: BatchStatusKey, value: 'queued' },
        { key: OwnerKey, value: command.owner },
      ],
    });
    const recorded = await this.until(() => this.deps.batches.getBatch(batchId) !== undefined);
    return { batchId, total: prepared.length, recorded };
  }

  /**
   * A DAG batch: items name each other by key (or existing jobs by id). Every item gets its job id up
   * front, cycles are refused naming them, and items are put in an order where each comes after what
   * it depends on, so the batch's window never fills with jobs waiting for items not started yet.
   */
  private planDependencies(command: CreateBatchCommand, prepared: PreparedBatchItem[]): PreparedBatchItem[] {
    const specs = command.jobs;
    specs.forEach((s, i) => {
      if (s.pool && !(this.deps.configuredPools ?? ['default']).includes(s.pool) && !this.deps.jobs.getPool(s.pool))
        throw badRequest(`jobs[${i}].pool: no pool named ${JSON.stringify(s.pool)}; create it with PUT /api/v1/pools/${s.pool}`);
    });
    const pools = specs.map((s, i) => ({ pool: s.pool, weight: s.weight, i }));
    const withPools = prepared.map((p, i) => ({
      ...p,
      ...(pools[i]!.pool ? { pool: pools[i]!.pool } : {}),
      ...(pools[i]!.weight ? { weight: pools[i]!.weight } : {}),
    }));
    if (!specs.some((s) => s.dependsOn?.length)) return withPools;
    const indexOfKey = new Map<string, number>();
    specs.forEach((s, i) => {
      if (s.key === undefined) return;
      if (indexOfKey.has(s.key)) throw badRequest(`jobs[${i}].key: ${JSON.stringify(s.key)} is used twice`);
      indexOfKey.set(s.key, i);
    });
    const ids = specs.map(() => `job_${randomUUID()}`);
    const edges = new Map<string, string[]>();
    const external: Dependency[] = [];
    const dependsOn = specs.map((s, i) =>
      (s.dependsOn ?? []).map((d) => {
        if (d.key !== undefined && d.jobId !== undefined) throw badRequest(`jobs[${i}].depends_on: give key or job_id, not both`);
        if (d.key !== undefined) {
          const j = indexOfKey.get(d.key);
          if (j === undefined) throw badRequest(`jobs[${i}].depends_on: no item has key ${JSON.stringify(d.key)}`);
          if (j === i) throw badRequest(`jobs[${i}].depends_on: an item cannot depend on itself`);
          edges.set(String(i), [...(edges.get(String(i)) ?? []), String(j)]);
          return { jobId: ids[j]!, condition: d.condition };
        }
        if (d.jobId === undefined) throw badRequest(`jobs[${i}].depends_on: give key or job_id`);
        external.push({ jobId: d.jobId, condition: d.condition });
        return { jobId: d.jobId, condition: d.condition };
      }),
    );
    const cycle = findDependencyCycle(edges);
    if (cycle) {
      const label = (i: string) => specs[Number(i)]!.key ?? `jobs[${i}]`;
      throw badRequest(`jobs: the dependencies form a cycle: ${cycle.map(label).join(' → ')}`);
    }
    // Existing jobs named by id: they must exist and be the caller's (or the caller is an admin).
    for (const dep of external) {
      const row = this.deps.jobs.getJob(dep.jobId);
      if (!row) throw badRequest(`depends_on: no job ${dep.jobId}`);
      if (!command.admin && row.owner !== command.owner)
        throw new DomainError('forbidden', `depends_on: job ${dep.jobId} belongs to another user`);
    }
    // Kahn's algorithm, keeping the given order among items that are ready together.
    const waitingOn = specs.map((_, i) => new Set((edges.get(String(i)) ?? []).map(Number)));
    const order: number[] = [];
    const placed = new Set<number>();
    while (order.length < specs.length) {
      for (let i = 0; i < specs.length; i++) {
        if (placed.has(i) || [...waitingOn[i]!].some((j) => !placed.has(j))) continue;
        placed.add(i);
        order.push(i);
      }
    }
    return order.map((i) => ({
      ...withPools[i]!,
      jobId: ids[i]!,
      ...(dependsOn[i]!.length ? { dependsOn: dependsOn[i]! } : {}),
    }));
  }

  async control(row: BatchRow, action: 'pause' | 'resume' | 'cancel', actor: string, reason?: string): Promise<BatchRow> {
    if (isTerminalBatchStatus(row.status)) throw conflict(`Batch is already ${row.status}`);
    const update = { pause: batchPauseUpdate, resume: batchResumeUpdate, cancel: batchCancelUpdate }[action];
    const handle = this.deps.client.workflow.getHandle(row.id);
    const definitions = { update, signal: batchControl.signals[action] };
    await updateUntilVisible(this.deps.projection, this.deps.visibilityTimeoutMs ?? 15_000, (updateId) =>
      sendControl(handle, definitions, { actor, reason }, updateId, (call) => this.update(row.id, call)),
    );
    return this.deps.batches.getBatch(row.id) ?? row;
  }

  async reprioritize(row: BatchRow, priority: number, actor: string, reason?: string): Promise<BatchRow> {
    if (isTerminalBatchStatus(row.status)) throw conflict(`Batch is already ${row.status}; its priority cannot change`);
    const handle = this.deps.client.workflow.getHandle(row.id);
    const definitions = { update: batchReprioritizeUpdate, signal: batchControl.signals.reprioritize };
    await updateUntilVisible(this.deps.projection, this.deps.visibilityTimeoutMs ?? 15_000, (updateId) =>
      sendControl(handle, definitions, { priority, actor, reason }, updateId, (call) => this.update(row.id, call)),
    );
    return this.deps.batches.getBatch(row.id) ?? row;
  }

  /** Reruns the failed jobs of a finished batch, as part of the same batch (a new run of its workflow). */
  async retryFailed(row: BatchRow, actor: string): Promise<{ retried: number }> {
    if (!isTerminalBatchStatus(row.status))
      throw conflict(`Batch is ${row.status}; only a finished batch can retry its failed jobs`);
    const failed = this.deps.jobs.listJobs({ batchId: row.id, status: 'failed', limit: 5000 }).jobs;
    if (failed.length === 0) throw conflict('Batch has no failed jobs');
    const inputs: JobWorkflowInput[] = failed.map((job) => ({
      revision: JOB_WORKFLOW_REVISION,
      jobId: job.id,
      name: job.name,
      type: job.type,
      input: JSON.parse(job.input),
      priority: job.priority,
      owner: job.owner,
      batchId: row.id,
      plan: this.deps.registry.prepare(job.type, JSON.parse(job.input)).plan,
      actor,
      correlationId: row.id,
      ...jobPlacement(this.deps.storeAccess, this.deps.askPoolLocally),
      retryOf: {
        attempts: job.attempts,
        completedSteps: job.completed_steps,
        resultFiles: JSON.parse(job.result_files),
        createdAt: job.created_at,
      },
    }));
    const summary = row.summary ? (JSON.parse(row.summary) as { counts: BatchCounts }) : undefined;
    const previous: BatchCounts = summary?.counts ?? {
      pending: 0,
      inFlight: 0,
      completed: 0,
      failed: failed.length,
      cancelled: 0,
    };
    // Temporal's own state, not the read model: the previous run must have closed before a new one starts.
    await pollUntil(
      async () => (await this.deps.client.workflow.getHandle(row.id).describe()).status.name !== 'RUNNING',
      this.deps.visibilityTimeoutMs ?? 15_000,
    );
    await this.deps.client.workflow.start(batchWorkflow, {
      workflowId: row.id,
      taskQueue: this.deps.taskQueue,
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      args: [
        {
          batchId: row.id,
          name: row.name,
          description: row.description,
          owner: row.owner,
          priority: row.priority,
          total: row.total,
          concurrency: row.concurrency,
          failurePolicy: JSON.parse(row.failure_policy),
          actor,
          ...jobPlacement(this.deps.storeAccess, this.deps.askPoolLocally),
          retryFailed: { inputs, previous },
        },
      ],
      typedSearchAttributes: [
        { key: BatchIdKey, value: row.id },
        { key: BatchStatusKey, value: 'running' },
        { key: OwnerKey, value: row.owner },
      ],
    });
    const recorded = await this.until(
      () =>
        this.deps.batches.getBatch(row.id)?.status === 'running' ||
        (this.deps.batches.getBatch(row.id)?.last_position ?? 0) > row.last_position,
    );
    if (!recorded)
      throw new NotDoneYet(
        `Retry of ${inputs.length} failed job(s) of ${row.id} started; not recorded within ` +
          `${formatWait(this.deps.visibilityTimeoutMs ?? 15_000)} (is a worker running?): it runs when a worker does.`,
      );
    return { retried: inputs.length };
  }

  private async update(batchId: string, call: () => Promise<BatchControlResult>): Promise<BatchControlResult> {
    try {
      return await withinControlWait(this.deps.client, batchId, this.deps.controlWaitMs ?? DEFAULT_CONTROL_WAIT_MS, call);
    } catch (error) {
      if (error instanceof WorkflowUpdateFailedError) {
        const cause = error.cause;
        if (cause instanceof ApplicationFailure)
          throw new DomainError(cause.type === INVALID_ARGUMENT ? 'invalid' : 'conflict', cause.message);
        throw conflict(cause?.message ?? error.message);
      }
      if (error instanceof WorkflowNotFoundError) throw conflict('Batch is no longer running');
      throw error;
    }
  }

  /** Waits for an effect on the read model (the projector re-checks it as it applies events). */
  private until(predicate: () => boolean): Promise<boolean> {
    return this.deps.projection.waitUntil(predicate, this.deps.visibilityTimeoutMs ?? 15_000);
  }
}
