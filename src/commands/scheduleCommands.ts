import { randomUUID } from 'node:crypto';
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ServiceError,
  type Client,
  type ScheduleDescription,
  type ScheduleOptionsStartWorkflowAction,
} from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import type { EventStore } from '../eventstore/index.js';
import { DomainError } from '../domain/index.js';
import { jobSearchAttributes, jobWorkflow, toPriorityKey, type JobWorkflowInput } from '../workflows/jobWorkflow.js';
import type { ScheduleReadModel, ScheduleRow } from '../projections/scheduleReadModel.js';
import {
  ScheduleEvents,
  scheduleStreamId,
  type ScheduleCreatedData,
  type ScheduleDeletedData,
  type SchedulePauseData,
  type ScheduleTriggeredData,
  type ScheduleUpdatedData,
} from '../schedules/scheduleEvents.js';
import {
  DEFAULT_POLICY,
  toTemporalOverlap,
  toTemporalPolicies,
  toTemporalSpec,
  type OverlapPolicy,
  type ScheduleJob,
  type SchedulePolicy,
  type ScheduleSpecInput,
} from '../schedules/scheduleSpec.js';
import type { JobCommands, ReadYourWrites } from './jobCommands.js';
import { badRequest, conflict } from './commandErrors.js';
import { appendCommandEvent } from './commandEvents.js';

export interface ScheduleCommandsDeps {
  client: Client;
  /** Task queue of job workflows: every action of a schedule starts a jobWorkflow there. */
  taskQueue: string;
  /** A job request's validation and plan, shared with submits. */
  jobs: Pick<JobCommands, 'prepareJob'>;
  /** The log: this command side writes the schedule streams. */
  eventStore: EventStore;
  readModel: ScheduleReadModel;
  projection: ReadYourWrites;
  /** Workflow task timeout of job workflows (ms), as for submits. */
  workflowTaskTimeoutMs?: number;
  /** How long a command waits for its event to show in the read model (ms). */
  visibilityTimeoutMs?: number;
  /** How long a trigger looks for the run it started (ms); default 3000. */
  triggerLookupMs?: number;
}

/** The job part of a schedule request: the fields of a job submit. */
export interface ScheduleJobRequest {
  name: string;
  type?: string;
  input?: Record<string, unknown>;
  priority: number;
  timeoutSeconds?: number | null;
  /** Resource pool (default: the type's) and slots each run takes. */
  pool?: string;
  weight?: number;
}

export interface CreateScheduleCommand {
  /** The client's id for the schedule (and `temporal schedule … --schedule-id`); default `sched_<uuid>`. */
  scheduleId?: string;
  /** Default: the job's name. */
  name?: string;
  spec: ScheduleSpecInput;
  policy?: Partial<SchedulePolicy>;
  job: ScheduleJobRequest;
  paused?: boolean;
  note?: string;
  owner: string;
  actor: string;
}

export interface UpdateScheduleCommand {
  name?: string;
  /** Replaces the spec. */
  spec?: ScheduleSpecInput;
  /** Merged over the current policy. */
  policy?: Partial<SchedulePolicy>;
  /** Merged over the current job (an input given replaces the input). null timeoutSeconds: none. */
  job?: Partial<ScheduleJobRequest>;
}

/** What Temporal says about a schedule now (GET /schedules/{id}). */
export interface LiveScheduleInfo {
  paused: boolean;
  note: string | null;
  nextActionTimes: string[];
  recentActions: { scheduledAt: string; takenAt: string; jobId: string }[];
  runningJobIds: string[];
  actionsTaken: number;
  actionsSkippedOverlap: number;
  actionsMissedCatchupWindow: number;
}

interface Who {
  actor: string;
  reason?: string;
}

/**
 * The write side of recurring jobs: every change goes to Temporal's Schedule first; once Temporal
 * accepted it, the change is recorded in the schedule's stream (`schedule-<id>`), with an event id
 * derived from the stream and its next version, and the command waits until the read model shows it.
 * Every action of a schedule starts an ordinary jobWorkflow whose job id is its workflow id.
 */
export class ScheduleCommands {
  private readonly visibilityTimeoutMs: number;
  private readonly locks = new Map<string, Promise<void>>();

  constructor(private readonly deps: ScheduleCommandsDeps) {
    this.visibilityTimeoutMs = deps.visibilityTimeoutMs ?? 15_000;
  }

  /** Creates the schedule in Temporal, then records ScheduleCreated. */
  create(command: CreateScheduleCommand): Promise<{ scheduleId: string; visible: boolean }> {
    const scheduleId = command.scheduleId ?? `sched_${randomUUID()}`;
    return this.exclusive(scheduleId, () => this.createNow(scheduleId, command));
  }

  /** Spec, policy, job or name: Temporal's schedule through handle.update, then ScheduleUpdated. */
  update(row: ScheduleRow, change: UpdateScheduleCommand, who: Who): Promise<ScheduleRow> {
    return this.exclusive(row.id, () => this.updateNow(this.current(row.id), change, who));
  }

  /** pause | unpause; 409 when Temporal says the schedule is in that state already. */
  setPaused(row: ScheduleRow, paused: boolean, who: Who): Promise<ScheduleRow> {
    return this.exclusive(row.id, () => this.setPausedNow(this.current(row.id), paused, who));
  }

  /**
   * Takes an action now (also when paused). `overlap` is this action's policy; default allow_all (it
   * runs even if another run is still going). Returns the run it started when that can be told
   * apart: the one new action Temporal lists within triggerLookupMs (null if none or several).
   */
  trigger(row: ScheduleRow, overlap: OverlapPolicy | undefined, who: Who): Promise<{ row: ScheduleRow; jobId: string | null }> {
    return this.exclusive(row.id, () => this.triggerNow(this.current(row.id), overlap, who));
  }

  /** Deletes the Temporal schedule (its runs stay jobs); a schedule Temporal no longer knows is recorded deleted too. */
  delete(row: ScheduleRow, who: Who): Promise<void> {
    return this.exclusive(row.id, () => this.deleteNow(this.current(row.id), who));
  }

  private async createNow(scheduleId: string, command: CreateScheduleCommand): Promise<{ scheduleId: string; visible: boolean }> {
    const existing = this.deps.readModel.getSchedule(scheduleId);
    if (existing && !existing.deleted_at) throw conflict(`Schedule ${scheduleId} exists already`);
    const policy: SchedulePolicy = { ...DEFAULT_POLICY, ...command.policy };
    const { action, job } = this.action(scheduleId, command.job, command.owner);
    const paused = command.paused ?? false;
    await this.temporal(scheduleId, () =>
      this.deps.client.schedule.create({
        scheduleId,
        spec: toTemporalSpec(command.spec),
        action,
        policies: toTemporalPolicies(policy),
        state: { paused, ...(command.note ? { note: command.note } : {}) },
        memo: { owner: command.owner, createdBy: 'job-engine' },
      }),
    );
    const data: ScheduleCreatedData = {
      scheduleId,
      name: command.name ?? job.name,
      owner: command.owner,
      spec: command.spec,
      policy,
      job,
      paused,
      note: command.note ?? null,
      at: new Date().toISOString(),
    };
    const position = this.record(scheduleId, ScheduleEvents.created, data, { actor: command.actor });
    return { scheduleId, visible: await this.deps.projection.waitFor(position, this.visibilityTimeoutMs) };
  }

  private async updateNow(row: ScheduleRow, change: UpdateScheduleCommand, who: Who): Promise<ScheduleRow> {
    const policy = change.policy ? { ...(JSON.parse(row.policy) as SchedulePolicy), ...change.policy } : undefined;
    let job: { action: ScheduleOptionsStartWorkflowAction<Workflow>; job: ScheduleJob } | undefined;
    if (change.job) {
      const current = JSON.parse(row.job) as ScheduleJob;
      const timeout = change.job.timeoutSeconds === undefined ? current.timeout_seconds : change.job.timeoutSeconds;
      job = this.action(
        row.id,
        {
          name: change.job.name ?? current.name,
          type: change.job.type ?? current.type,
          input: change.job.input ?? (current.input as Record<string, unknown>),
          priority: change.job.priority ?? current.priority,
          timeoutSeconds: timeout,
          pool: change.job.pool ?? current.pool,
          weight: change.job.weight ?? current.weight,
        },
        row.owner,
      );
    }
    if (change.spec || policy || job) {
      await this.temporal(row.id, () =>
        this.deps.client.schedule.getHandle(row.id).update((previous) => ({
          ...previous,
          spec: change.spec ? toTemporalSpec(change.spec) : previous.spec,
          policies: policy ? toTemporalPolicies(policy) : previous.policies,
          action: job ? job.action : previous.action,
        })),
      );
    }
    const data: ScheduleUpdatedData = {
      scheduleId: row.id,
      ...(change.name !== undefined ? { name: change.name } : {}),
      ...(change.spec ? { spec: change.spec } : {}),
      ...(policy ? { policy } : {}),
      ...(job ? { job: job.job } : {}),
      at: new Date().toISOString(),
    };
    return this.recordAndRead(row, ScheduleEvents.updated, data, who);
  }

  private async setPausedNow(row: ScheduleRow, paused: boolean, who: Who): Promise<ScheduleRow> {
    const handle = this.deps.client.schedule.getHandle(row.id);
    const live = await this.temporal(row.id, () => handle.describe());
    if (live.state.paused === paused) throw conflict(`Schedule is already ${paused ? 'paused' : 'running (not paused)'}`);
    const note = who.reason ?? `${paused ? 'paused' : 'unpaused'} by ${who.actor}`;
    await this.temporal(row.id, () => (paused ? handle.pause(note) : handle.unpause(note)));
    const data: SchedulePauseData = { scheduleId: row.id, note, at: new Date().toISOString() };
    return this.recordAndRead(row, paused ? ScheduleEvents.paused : ScheduleEvents.unpaused, data, who);
  }

  private async triggerNow(
    row: ScheduleRow,
    overlap: OverlapPolicy | undefined,
    who: Who,
  ): Promise<{ row: ScheduleRow; jobId: string | null }> {
    const handle = this.deps.client.schedule.getHandle(row.id);
    const seen = new Set(actionIds(await this.temporal(row.id, () => handle.describe())));
    const since = Date.now() - 1000; // tolerance between our clock and the server's
    await this.temporal(row.id, () => handle.trigger(toTemporalOverlap(overlap ?? 'allow_all')));
    const jobId = await this.newRun(row.id, seen, since);
    const data: ScheduleTriggeredData = { scheduleId: row.id, overlap: overlap ?? null, jobId, at: new Date().toISOString() };
    return { row: await this.recordAndRead(row, ScheduleEvents.triggered, data, who), jobId };
  }

  private async deleteNow(row: ScheduleRow, who: Who): Promise<void> {
    let alreadyGone = false;
    try {
      await this.deps.client.schedule.getHandle(row.id).delete();
    } catch (error) {
      if (!(error instanceof ScheduleNotFoundError)) throw temporalError(error, row.id);
      alreadyGone = true;
    }
    const data: ScheduleDeletedData = {
      scheduleId: row.id,
      ...(alreadyGone ? { alreadyGone } : {}),
      at: new Date().toISOString(),
    };
    const position = this.record(row.id, ScheduleEvents.deleted, data, who);
    await this.deps.projection.waitFor(position, this.visibilityTimeoutMs);
  }

  /**
   * Records what happened to the API's schedules outside it — `temporal schedule toggle|delete`, the
   * Web UI, Temporal's own pause on failure — and so also repairs a pause, unpause or delete whose
   * record was lost (the process died between Temporal's answer and the append). One list of
   * Temporal's schedules per call; a schedule whose listed state differs from its row is described
   * (list is eventually consistent, describe is not) before anything is recorded, with actor
   * `external`. Spec changes made outside are not seen. Returns the number of events recorded.
   */
  async reconcile(): Promise<number> {
    const rows = this.deps.readModel.liveSchedules();
    if (rows.length === 0) return 0;
    const listed = new Map<string, boolean>();
    for await (const summary of this.deps.client.schedule.list()) listed.set(summary.scheduleId, summary.state.paused);
    let recorded = 0;
    for (const row of rows) {
      if (listed.get(row.id) === (row.paused === 1)) continue;
      recorded += await this.exclusive(row.id, () => this.reconcileOne(row.id));
    }
    return recorded;
  }

  private async reconcileOne(scheduleId: string): Promise<number> {
    const row = this.deps.readModel.getSchedule(scheduleId);
    if (!row || row.deleted_at) return 0;
    let description: ScheduleDescription | undefined;
    try {
      description = await this.deps.client.schedule.getHandle(scheduleId).describe();
    } catch (error) {
      if (!(error instanceof ScheduleNotFoundError)) throw error;
    }
    const at = new Date().toISOString();
    if (!description) {
      const data: ScheduleDeletedData = { scheduleId, alreadyGone: true, at };
      await this.recordAndRead(row, ScheduleEvents.deleted, data, { actor: 'external', reason: 'deleted outside the API' });
      return 1;
    }
    const paused = description.state.paused;
    if (paused === (row.paused === 1)) return 0;
    const note = description.state.note ?? '';
    const data: SchedulePauseData = { scheduleId, note, at };
    const reason = note || `${paused ? 'paused' : 'unpaused'} outside the API`;
    await this.recordAndRead(row, paused ? ScheduleEvents.paused : ScheduleEvents.unpaused, data, { actor: 'external', reason });
    return 1;
  }

  /** Temporal's live view of the schedule; null when Temporal does not know it (deleted outside the API). */
  async live(scheduleId: string): Promise<LiveScheduleInfo | null> {
    let description: ScheduleDescription;
    try {
      description = await this.deps.client.schedule.getHandle(scheduleId).describe();
    } catch (error) {
      if (error instanceof ScheduleNotFoundError) return null;
      throw error;
    }
    const { info, state } = description;
    return {
      paused: state.paused,
      note: state.note || null,
      nextActionTimes: info.nextActionTimes.map((t) => t.toISOString()),
      recentActions: info.recentActions.map((a) => ({
        scheduledAt: a.scheduledAt.toISOString(),
        takenAt: a.takenAt.toISOString(),
        jobId: a.action.workflow.workflowId,
      })),
      runningJobIds: info.runningActions.map((a) => a.workflow.workflowId),
      actionsTaken: info.numActionsTaken,
      actionsSkippedOverlap: info.numActionsSkippedOverlap,
      actionsMissedCatchupWindow: info.numActionsMissedCatchupWindow,
    };
  }

  /**
   * One change of a schedule at a time in this process (commands and reconcile): a change in Temporal
   * and its record are never interleaved with another change of the same schedule, so the record
   * keeps Temporal's order and reconcile never records what a command is about to.
   */
  private exclusive<T>(scheduleId: string, work: () => Promise<T>): Promise<T> {
    const run = (this.locks.get(scheduleId) ?? Promise.resolve()).then(work);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(scheduleId, tail);
    void tail.then(() => {
      if (this.locks.get(scheduleId) === tail) this.locks.delete(scheduleId);
    });
    return run;
  }

  /** The row as it is now (inside the lock): a change that waited may find the schedule deleted. */
  private current(scheduleId: string): ScheduleRow {
    const row = this.deps.readModel.getSchedule(scheduleId);
    if (!row || row.deleted_at) throw new DomainError('not_found', `Schedule not found: ${scheduleId}`);
    return row;
  }

  /** The schedule's action: start a jobWorkflow with the validated job (job id = workflow id). */
  private action(scheduleId: string, request: ScheduleJobRequest, owner: string) {
    const input: JobWorkflowInput = {
      ...this.deps.jobs.prepareJob(
        {
          name: request.name,
          type: request.type,
          input: request.input,
          priority: request.priority,
          timeoutSeconds: request.timeoutSeconds ?? undefined,
          pool: request.pool,
          weight: request.weight,
          owner,
          actor: `schedule:${scheduleId}`,
        },
        'job.',
      ),
      jobId: '', // each run takes its workflow id, `<schedule id>-<time>`, as its job id
      scheduleId,
      correlationId: scheduleId,
    };
    const action = {
      type: 'startWorkflow' as const,
      workflowType: jobWorkflow,
      // Temporal appends the action's time: `<schedule id>-2026-01-31T09:00:00Z`.
      workflowId: scheduleId,
      taskQueue: this.deps.taskQueue,
      args: [input] as [JobWorkflowInput],
      typedSearchAttributes: jobSearchAttributes(input),
      staticSummary: `${input.name} (${input.type}), a run of schedule ${scheduleId}`,
      ...(this.deps.workflowTaskTimeoutMs ? { workflowTaskTimeout: this.deps.workflowTaskTimeoutMs } : {}),
      // Not in the SDK's option type for schedules, but encoded (and described) by it: the same
      // priority key a submitted job starts with.
      priority: { priorityKey: toPriorityKey(input.priority) },
    };
    const job: ScheduleJob = {
      name: input.name,
      type: input.type,
      input: input.input,
      priority: input.priority,
      timeout_seconds: request.timeoutSeconds ?? null,
      ...(request.pool !== undefined ? { pool: request.pool } : {}),
      ...(request.weight !== undefined ? { weight: request.weight } : {}),
    };
    return { action: action as ScheduleOptionsStartWorkflowAction<Workflow>, job };
  }

  /** The one new action (workflow id) Temporal lists after a trigger, if exactly one shows up in time. */
  private async newRun(scheduleId: string, seen: Set<string>, since: number): Promise<string | null> {
    const deadline = Date.now() + (this.deps.triggerLookupMs ?? 3000);
    for (;;) {
      const live = await this.live(scheduleId);
      const fresh = (live?.recentActions ?? []).filter((a) => !seen.has(a.jobId) && Date.parse(a.scheduledAt) >= since);
      if (fresh.length > 0) return fresh.length === 1 ? fresh[0]!.jobId : null;
      if (!live || Date.now() > deadline) return null;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private async recordAndRead(row: ScheduleRow, type: string, data: object, who: Who): Promise<ScheduleRow> {
    const position = this.record(row.id, type, data, who);
    await this.deps.projection.waitFor(position, this.visibilityTimeoutMs);
    return this.deps.readModel.getSchedule(row.id) ?? row;
  }

  /** Appends one event to `schedule-<id>`: id = stream and next version (gapless; a repeat of the same
   * append is recognised by the store), actor and reason in the metadata. Returns its position. */
  private record(scheduleId: string, type: string, data: object, who: Who): number {
    return appendCommandEvent(this.deps.eventStore, scheduleStreamId(scheduleId), type, data, {
      ...who,
      correlationId: scheduleId,
    });
  }

  /** Runs a Temporal call, turning its errors into domain errors (an invalid spec is a 400, never a 500). */
  private async temporal<T>(scheduleId: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw temporalError(error, scheduleId);
    }
  }
}

/** gRPC status code 3. */
const GRPC_INVALID_ARGUMENT = 3;

function temporalError(error: unknown, scheduleId: string): unknown {
  if (error instanceof DomainError) return error;
  if (error instanceof ScheduleAlreadyRunning) return conflict(`Schedule ${scheduleId} exists already`);
  if (error instanceof ScheduleNotFoundError)
    return new DomainError('not_found', `Schedule ${scheduleId} no longer exists in Temporal (deleted outside the API?)`);
  // The SDK turns the server's "Invalid schedule spec: …" (and a duration it cannot read) into a TypeError.
  if (error instanceof TypeError) return badRequest(`spec: ${error.message}`);
  const cause = error instanceof ServiceError ? (error.cause as { code?: number; details?: string } | undefined) : undefined;
  if (cause?.code === GRPC_INVALID_ARGUMENT) return badRequest(cause.details ?? (error as Error).message);
  return error;
}

/** Workflow ids of the actions a description lists (recent and running). */
function actionIds(description: ScheduleDescription): string[] {
  return [
    ...description.info.recentActions.map((a) => a.action.workflow.workflowId),
    ...description.info.runningActions.map((a) => a.workflow.workflowId),
  ];
}
