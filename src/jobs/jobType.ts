import type { z } from 'zod';

/** How a job type's failed attempts are retried by jobWorkflow (not by Temporal's activity retry, so
 * that every failed attempt becomes an event of its own). */
export interface RetrySettings {
  /** Attempts in all, the first included. 1 = never retry. */
  maxAttempts: number;
  /** Wait before the second attempt, in ms. */
  initialIntervalMs: number;
  /** Each further wait is the previous one times this. */
  backoffCoefficient: number;
  /** Upper bound of one wait, in ms. */
  maxIntervalMs: number;
  /** 0..1: each wait is spread by up to ± this fraction, so a crowd of retries does not come back at once. */
  jitter: number;
}

export const DEFAULT_RETRY: RetrySettings = {
  maxAttempts: 3,
  initialIntervalMs: 1000,
  backoffCoefficient: 2,
  maxIntervalMs: 60_000,
  jitter: 0.2,
};

/** What jobWorkflow needs to know about a job before it runs: computed at submit from the type and
 * input (outside the workflow, so the workflow bundle never imports handler code). */
export interface JobPlan {
  /** Number of steps the job runs; progress is completedSteps / totalSteps. */
  totalSteps: number;
  retry: RetrySettings;
  /** Limit of one step's run, in ms (Temporal startToCloseTimeout). */
  stepTimeoutMs: number;
  /** A step must heartbeat at least this often (ms), or it is taken as lost (worker crash). */
  heartbeatTimeoutMs: number;
  /** The resource pool whose slot the job holds while it runs (the type's, or `default`). */
  pool?: string;
  /** Slots of the pool the job takes (default 1). */
  weight?: number;
}

/** Thrown by a handler for an error that retrying cannot fix (bad credentials, 404, invalid data). */
export class PermanentJobError extends Error {
  override readonly name = 'PermanentJobError';
}

/** What a handler gets for one step. */
export interface StepContext {
  readonly jobId: string;
  /** 0-based index of the step being run. */
  readonly step: number;
  readonly totalSteps: number;
  /** 1-based attempt of the job. */
  readonly attempt: number;
  /** What the handler last passed to progress() for this step before it was interrupted (pause,
   * crash, failed attempt); undefined when the step starts fresh. */
  readonly checkpoint: unknown;
  /** Aborted when the step must stop (pause, cancel, timeout). */
  readonly signal: AbortSignal;
  /**
   * Reports progress inside the step and saves a checkpoint to resume from. Cheap: throttled.
   * `progress(0.4, {message: 'matched 120,000 of 500,000 rows', checkpoint})` also sets the job's
   * message: the job's progress and message move while the step runs (recorded as JobStepProgress
   * events, at most one a second, by workers that own the event store).
   */
  progress(fractionOfStep: number, checkpointOrReport?: unknown): void;
  /** A sleep that ends early (throwing) when the step is aborted. */
  sleep(ms: number): Promise<void>;
  /** Writes a file into this job's results folder; returns its name (listed in result_files). */
  writeResultFile(fileName: string, content: string | Uint8Array): Promise<string>;
  /** The absolute path of a file in this job's results folder (the folder is created), for a handler
   * that streams a large file there itself; list its name in resultFiles. Names starting with `.` are
   * the handler's own working files: never listed, removed with the job's results. */
  resultFilePath(fileName: string): Promise<string>;
}

export interface StepOutput {
  /** Result files written by this step (names within the job's results folder). */
  resultFiles?: string[];
  /** A small JSON value; the last step's output becomes the job's result. */
  result?: unknown;
}

/** A job type is declared once: name, input schema, plan, and a handler that works in steps. */
export interface JobTypeDefinition<I = any> {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: z.ZodType<I>;
  /** Steps of a job with this input (at least 1). */
  steps(input: I): number;
  readonly retry?: Partial<RetrySettings>;
  readonly stepTimeoutMs?: number;
  readonly heartbeatTimeoutMs?: number;
  /** Resource pool of jobs of this type (a submit may name another); default `default`. */
  readonly pool?: string;
  /** Slots of the pool one job takes (a submit may say otherwise); default 1. */
  readonly weight?: number;
  /** Runs one step; may resume from ctx.checkpoint. Throw PermanentJobError for errors not worth a retry. */
  runStep(ctx: StepContext, input: I): Promise<StepOutput | void>;
  /** Runs once after the job is cancelled (free what the steps held). */
  cleanup?(ctx: { jobId: string; reason: string }, input: I): Promise<void>;
  /** Checks at submit that need to know who submits (e.g. that files named in the input are the
   * submitter's), after the schema: throw InputAccessDeniedError for what the submitter may not use (403). */
  authorizeInput?(input: I, submitter: Submitter): void;
  /** A submit that names no type goes to the first type that claims its input (else the default type). */
  claimsUntypedInput?(input: unknown): boolean;
}

/** Who submits a job: its owner. */
export interface Submitter {
  owner: string;
}

/** Thrown by authorizeInput: the input names something its submitter may not use (the API answers 403). */
export class InputAccessDeniedError extends Error {
  override readonly name = 'InputAccessDeniedError';
}

export function defineJobType<I>(definition: JobTypeDefinition<I>): JobTypeDefinition<I> {
  return definition;
}

/** `{message, checkpoint?}` as the second argument of ctx.progress (else it is the checkpoint). */
export function stepReportOf(value: unknown): { message: string; checkpoint?: unknown; hasCheckpoint: boolean } | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  const message = (value as { message?: unknown }).message;
  if (typeof message !== 'string' || !keys.every((k) => k === 'message' || k === 'checkpoint')) return undefined;
  return {
    message: message.slice(0, 500),
    checkpoint: (value as { checkpoint?: unknown }).checkpoint,
    hasCheckpoint: keys.includes('checkpoint'),
  };
}
