/** Job priority: 1 low, 2 normal (default), 3 high, 4 urgent. The one place its bounds and message live. */
export type JobPriority = 1 | 2 | 3 | 4;
export const MIN_PRIORITY = 1;
export const MAX_PRIORITY = 4;
export const DEFAULT_PRIORITY: JobPriority = 2;
export const PRIORITY_RANGE_MESSAGE = 'Priority must be between 1 (low) and 4 (urgent)';

export const isPriority = (value: unknown): value is JobPriority =>
  typeof value === 'number' && Number.isInteger(value) && value >= MIN_PRIORITY && value <= MAX_PRIORITY;

/** Temporal task-queue priority keys run 1 (first) … 5 (last); ours run the other way round. */
export const toPriorityKey = (priority: number): number => 5 - priority;
