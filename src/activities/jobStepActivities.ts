import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PermanentJobError, type StepContext, type StepOutput } from '../jobs/jobType.js';
import type { JobTypeRegistry } from '../jobs/registry.js';
import { resultDirOf } from '../jobs/resultDir.js';

export interface RunJobStepInput {
  jobId: string;
  type: string;
  input: unknown;
  step: number;
  totalSteps: number;
  attempt: number;
  checkpoint: unknown;
}

export type RunJobStepOutput =
  | { outcome: 'completed'; output: StepOutput }
  /** The step saw cancellation (pause, cancel, timeout) and stopped at `checkpoint`. */
  | { outcome: 'interrupted'; checkpoint: unknown };

export interface JobStepActivityDeps {
  registry: JobTypeRegistry;
  /** Each job writes its result files into `<resultsDir>/<jobId>/`. */
  resultsDir: string;
}

export { PERMANENT_ERROR_TYPE } from '../domain/index.js';
import { PERMANENT_ERROR_TYPE } from '../domain/index.js';

export { resultDirOf };

export function createJobStepActivities(deps: JobStepActivityDeps) {
  return {
    /** Runs one step of a job with its type's handler. Failures carry the last checkpoint in their
     * details so the retry resumes the step instead of starting it again. */
    async runJobStep(request: RunJobStepInput): Promise<RunJobStepOutput> {
      const ctx = Context.current();
      const type = deps.registry.get(request.type);
      let checkpoint = request.checkpoint;
      const stepContext: StepContext = {
        jobId: request.jobId,
        step: request.step,
        totalSteps: request.totalSteps,
        attempt: request.attempt,
        checkpoint: request.checkpoint,
        signal: ctx.cancellationSignal,
        progress(fraction, newCheckpoint) {
          if (newCheckpoint !== undefined) checkpoint = newCheckpoint;
          // Heartbeats are throttled by the worker, and they are how cancellation reaches us.
          // `at` lets the workflow leave the dead time out of the job's running time if this worker is lost.
          ctx.heartbeat({ fraction, checkpoint, at: Date.now() });
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
        const output = await type.runStep(stepContext, request.input);
        return { outcome: 'completed', output: output ?? {} };
      } catch (error) {
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
