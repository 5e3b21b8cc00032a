import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PermanentJobError, stepReportOf, type StepContext, type StepOutput } from '../jobs/jobType.js';
import type { JobTypeRegistry } from '../jobs/registry.js';
import { resultDirOf } from '../jobs/resultDir.js';
import type { EventMetadata, EventStore } from '../eventstore/index.js';
import { JobEvents, progressAfterStep, withResultFiles, withStepDuration, type JobProgressData } from '../domain/index.js';

export interface RunJobStepInput {
  jobId: string;
  type: string;
  input: unknown;
  step: number;
  totalSteps: number;
  attempt: number;
  checkpoint: unknown;
  /** Set by the workflow (behaviour revision 5): the JobProgress this step records as it completes. */
  endProgress?: StepEndProgress;
}

/**
 * What the step needs to record the job's JobProgress for its own end, as the workflow would have: the
 * workflow then records nothing when it sees the step end (no append in that workflow task).
 */
export interface StepEndProgress {
  /** The event's id (one per run and count of completed steps: a step run again after a lost completion adds nothing). */
  eventId: string;
  /** Recorded only if the step completes at or after this time (ms since the epoch): one per interval. */
  dueAt: number;
  /** The durations of the steps before (the remaining-time estimate's window). */
  stepDurationsMs: number[];
  /** The job's result files before this step. */
  resultFiles: string[];
  metadata: EventMetadata;
}

export type RunJobStepOutput =
  /** `progress`: the JobProgress this step recorded for its end (absent: none, the workflow's to record). */
  | { outcome: 'completed'; output: StepOutput; progress?: JobProgressData }
  /** The step saw cancellation (pause, cancel, timeout) and stopped at `checkpoint`. */
  | { outcome: 'interrupted'; checkpoint: unknown };

export interface JobStepActivityDeps {
  registry: JobTypeRegistry;
  /** Each job writes its result files into `<resultsDir>/<jobId>/`. */
  resultsDir: string;
  /** The event store, in the process that owns it: in-step progress is recorded (JobStepProgress). */
  eventStore?: Pick<EventStore, 'appendToStreamGrouped' | 'readLastOfType'>;
  /** Minimal ms between two JobStepProgress events of one step; default 1000. */
  progressEventIntervalMs?: number;
  /**
   * Minimal ms between two heartbeats the step hands to the SDK; the latest details always follow
   * (trailing edge). Default: half the interval at which the SDK sends heartbeats to Temporal
   * (`min(1000, 0.4 × heartbeatTimeout)`), so Temporal hears as often as before and the checkpoint
   * it holds is at most that much older.
   */
  heartbeatCallIntervalMs?: number;
}

/** The SDK's own heartbeat throttle is min(maxHeartbeatThrottleInterval = 2 s, 0.8 × heartbeatTimeout). */
const defaultHeartbeatCallInterval = (heartbeatTimeoutMs: number | undefined) =>
  Math.min(1000, heartbeatTimeoutMs ? 0.4 * heartbeatTimeoutMs : 1000);

export { PERMANENT_ERROR_TYPE } from '../domain/index.js';
import { PERMANENT_ERROR_TYPE } from '../domain/index.js';

export { resultDirOf };

export function createJobStepActivities(deps: JobStepActivityDeps) {
  /**
   * Whether the job's workflow was reset (`temporal workflow reset`, the Web UI) after this step was
   * scheduled: the step belongs to the run the reset replaced, which Temporal has closed, and goes on
   * only until its next heartbeat tells it so. What it would record now is no longer the job's (the
   * new run re-bases the job's row on its JobReset). A step the reset run carried over from before its
   * reset point counts as replaced too: its end is then recorded by the workflow, as without a store.
   */
  const replacedByReset = (store: Pick<EventStore, 'readLastOfType'>, jobId: string, scheduledAtMs: number): boolean => {
    const latest = store.readLastOfType(jobId, JobEvents.reset);
    return latest !== undefined && Date.parse((latest.data as { at: string }).at) > scheduledAtMs;
  };

  /**
   * Records the job's JobProgress for the end of the step that just completed, if the workflow asked
   * and one is due. Returns what it recorded; nothing when it did not (no store in this process, not
   * due, or the append failed): the workflow then records it itself, as before revision 5.
   */
  const recordEndProgress = async (
    request: RunJobStepInput,
    output: StepOutput,
    durationMs: number,
  ): Promise<JobProgressData | undefined> => {
    const asked = request.endProgress;
    const store = deps.eventStore;
    if (!asked || !store || Date.now() < asked.dueAt) return undefined;
    if (replacedByReset(store, request.jobId, Context.current().info.scheduledTimestampMs)) return undefined;
    const progress = progressAfterStep({
      step: request.step,
      totalSteps: request.totalSteps,
      durationsMs: withStepDuration(asked.stepDurationsMs, durationMs),
      resultFiles: withResultFiles(asked.resultFiles, output.resultFiles),
    });
    const event = {
      eventId: asked.eventId,
      type: JobEvents.progress,
      data: { jobId: request.jobId, at: new Date().toISOString(), ...progress },
      metadata: asked.metadata,
    };
    try {
      await store.appendToStreamGrouped(request.jobId, [event], { expectedVersion: 'any', duplicates: 'same-type' });
      return progress;
    } catch {
      return undefined; // the workflow records it (a failed group commit wrote nothing)
    }
  };

  return {
    /** Runs one step of a job with its type's handler. Failures carry the last checkpoint in their
     * details so the retry resumes the step instead of starting it again. */
    async runJobStep(request: RunJobStepInput): Promise<RunJobStepOutput> {
      const ctx = Context.current();
      const startedAt = Date.now();
      const type = deps.registry.get(request.type);
      let checkpoint = request.checkpoint;
      // In-step progress events: the step alone sees them, so it records them itself (ids derived
      // from the run, the step and the activity attempt: a retried append is a no-op), throttled.
      const store = deps.eventStore;
      const interval = deps.progressEventIntervalMs ?? 1000;
      let recorded = 0;
      let lastRecordedAt = 0;
      let pendingReport: { fraction: number; message: string | null } | undefined;
      let appending: Promise<unknown> = Promise.resolve();
      // Heartbeats, throttled here too: each one handed to the SDK costs the process's main thread a
      // native call, an encoding and a trip through the SDK's heartbeat pipeline, while the SDK sends
      // Temporal at most one per throttle interval anyway. A step reporting every 100 ms made 10 of
      // them a second (2,000/s with 200 such steps running: about a tenth of the main thread).
      const heartbeatEvery = deps.heartbeatCallIntervalMs ?? defaultHeartbeatCallInterval(ctx.info.heartbeatTimeoutMs);
      let lastHeartbeatAt = 0;
      let trailingHeartbeat: NodeJS.Timeout | undefined;
      let latestDetails: { fraction: number; checkpoint: unknown; at: number } | undefined;
      const heartbeatNow = () => {
        clearTimeout(trailingHeartbeat); // one sender: a late trailing timer must not send again
        trailingHeartbeat = undefined;
        if (!latestDetails) return;
        lastHeartbeatAt = Date.now();
        ctx.heartbeat(latestDetails);
        latestDetails = undefined;
      };
      const recordProgress = (final: boolean) => {
        if (!store || !pendingReport || (!final && Date.now() - lastRecordedAt < interval)) return;
        const { fraction, message } = pendingReport;
        pendingReport = undefined;
        lastRecordedAt = Date.now();
        const n = ++recorded;
        const info = ctx.info;
        const event = {
          eventId: `${request.jobId}:${info.workflowExecution?.runId}:step${request.step}:${info.activityId}:${info.attempt}:p${n}`,
          type: JobEvents.stepProgress,
          data: { jobId: request.jobId, step: request.step, fraction, message, at: new Date().toISOString() },
          metadata: { actor: 'system', workflowId: info.workflowExecution?.workflowId, runId: info.workflowExecution?.runId },
        };
        appending = appending
          .then(() =>
            replacedByReset(store, request.jobId, info.scheduledTimestampMs)
              ? undefined
              : store.appendToStreamGrouped(request.jobId, [event], { expectedVersion: 'any', duplicates: 'same-type' }),
          )
          .catch(() => undefined); // progress is best effort; the step's own end is recorded by the workflow
      };
      const stepContext: StepContext = {
        jobId: request.jobId,
        step: request.step,
        totalSteps: request.totalSteps,
        attempt: request.attempt,
        checkpoint: request.checkpoint,
        signal: ctx.cancellationSignal,
        progress(fraction, second) {
          const report = stepReportOf(second);
          const newCheckpoint = report ? report.checkpoint : second;
          if (report ? report.hasCheckpoint : newCheckpoint !== undefined) checkpoint = newCheckpoint;
          if (report) {
            pendingReport = { fraction: Math.max(0, Math.min(1, fraction)), message: report.message };
            recordProgress(false);
          }
          // Heartbeats are how cancellation reaches us (and carry the checkpoint a retry resumes from).
          // `at` lets the workflow leave the dead time out of the job's running time if this worker is lost.
          latestDetails = { fraction, checkpoint, at: Date.now() };
          const wait = lastHeartbeatAt + heartbeatEvery - latestDetails.at;
          if (wait <= 0) heartbeatNow();
          else trailingHeartbeat ??= setTimeout(heartbeatNow, wait);
        },
        sleep: (ms) => ctx.sleep(ms),
        async writeResultFile(fileName, content) {
          const safeName = path.basename(fileName);
          const dir = resultDirOf(deps.resultsDir, request.jobId);
          await mkdir(dir, { recursive: true });
          await writeFile(path.join(dir, safeName), content);
          return safeName;
        },
        async resultFilePath(fileName) {
          const dir = resultDirOf(deps.resultsDir, request.jobId);
          await mkdir(dir, { recursive: true });
          return path.join(dir, path.basename(fileName));
        },
      };
      try {
        const output = (await type.runStep(stepContext, request.input)) ?? {};
        clearTimeout(trailingHeartbeat);
        recordProgress(true);
        await appending; // in the log before the workflow records the step's end
        const progress = await recordEndProgress(request, output, Date.now() - startedAt);
        return { outcome: 'completed', output, ...(progress ? { progress } : {}) };
      } catch (error) {
        clearTimeout(trailingHeartbeat);
        recordProgress(true);
        await appending;
        if (ctx.cancellationSignal.aborted) return { outcome: 'interrupted', checkpoint };
        const err = error instanceof Error ? error : new Error(String(error));
        throw ApplicationFailure.create({
          type: err instanceof PermanentJobError ? PERMANENT_ERROR_TYPE : err.name || 'Error',
          message: err.message,
          nonRetryable: err instanceof PermanentJobError,
          details: [{ checkpoint }],
        });
      }
    },

    /** Removes jobs' result folders; returns the bytes freed. */
    async removeResultFiles(request: { jobIds: string[] }): Promise<number> {
      let freed = 0;
      for (const jobId of request.jobIds) {
        const dir = resultDirOf(deps.resultsDir, jobId);
        try {
          for (const name of await readdir(dir)) freed += (await stat(path.join(dir, name))).size;
        } catch {
          continue; // no files
        }
        await rm(dir, { recursive: true, force: true });
      }
      return freed;
    },

    /** The job type's cleanup, run once after a cancel. */
    async cleanupJob(request: { jobId: string; type: string; input: unknown; reason: string }): Promise<void> {
      const type = deps.registry.get(request.type);
      await type.cleanup?.({ jobId: request.jobId, reason: request.reason }, request.input);
    },
  };
}

export type JobStepActivities = ReturnType<typeof createJobStepActivities>;
