/**
 * What a `JobProgress` event says: a job's progress between its steps. Computed in one place because
 * two writers record it — the job's workflow, and (behaviour revision 5) the step activity as the
 * last act of a step that completed, so that the step's end is a workflow task with no append in it.
 */

/** The data of a `JobProgress` event (besides `jobId` and `at`, which every job event carries). */
export interface JobProgressData {
  completedSteps: number;
  totalSteps: number;
  /** Percent, 0–100, whole steps only (in-step progress comes from `JobStepProgress`). */
  progress: number;
  /** The step that runs next; null when none is left. */
  currentStep: number | null;
  /** Seconds left at the recent steps' average duration; null before any step ended. */
  estimatedRemainingS: number | null;
  /** The job's result files so far. */
  resultFiles: string[];
}

/** Steps the remaining-time estimate averages over (the most recent ones). */
export const STEP_DURATION_WINDOW = 20;

/** Whole-step progress in percent. */
export function progressPercent(done: number, total: number): number {
  return total <= 0 ? 0 : Math.floor((done * 100) / total);
}

/** Seconds left, to a tenth, at the average of `durationsMs`; null without any. */
export function estimateRemainingS(durationsMs: readonly number[], done: number, total: number): number | null {
  if (durationsMs.length === 0) return null;
  const avg = durationsMs.reduce((a, b) => a + b, 0) / durationsMs.length;
  return Math.round(((total - done) * avg) / 100) / 10;
}

/** `durationsMs` with one more step's duration, keeping the window. */
export function withStepDuration(durationsMs: readonly number[], durationMs: number): number[] {
  const next = [...durationsMs, durationMs];
  return next.length > STEP_DURATION_WINDOW ? next.slice(next.length - STEP_DURATION_WINDOW) : next;
}

/** `resultFiles` with a step's own files added (each name once, in order). */
export function withResultFiles(resultFiles: readonly string[], added: readonly string[] | undefined): string[] {
  const next = [...resultFiles];
  for (const f of added ?? []) if (!next.includes(f)) next.push(f);
  return next;
}

/** The job's progress once step `step` (0-based) of `totalSteps` completed. */
export function progressAfterStep(args: {
  step: number;
  totalSteps: number;
  /** Step durations including this step's (the window). */
  durationsMs: readonly number[];
  /** Result files including this step's (a list of the caller's own: withResultFiles gives a new one). */
  resultFiles: string[];
}): JobProgressData {
  const completedSteps = args.step + 1;
  return {
    completedSteps,
    totalSteps: args.totalSteps,
    progress: progressPercent(completedSteps, args.totalSteps),
    currentStep: completedSteps < args.totalSteps ? completedSteps : null,
    estimatedRemainingS: estimateRemainingS(args.durationsMs, completedSteps, args.totalSteps),
    resultFiles: args.resultFiles,
  };
}
