/**
 * Automatic retention: a Temporal Schedule (`<task queue>-retention`) whose every action runs
 * deleteJobsWorkflow with `retention`, which deletes the jobs finished more than the configured age
 * before that run started (tombstones in the log, result files, uploads no job names any more) and
 * the stored inputs of batches finished as long ago. Created or updated when the engine starts; deleted
 * when retention is off. Not one of the API's schedules (no record, not listed by GET /schedules).
 */
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { DeleteJobsInput } from '../workflows/deleteJobsWorkflow.js';

export interface RetentionOptions {
  /** Jobs finished longer ago than this are deleted (RETENTION_MAX_AGE / RETENTION_DAYS). */
  maxAgeMs: number;
  /** How often the Schedule runs (RETENTION_INTERVAL; 1 h unless set). */
  intervalMs: number;
}
export const retentionScheduleId = (taskQueue: string) => `${taskQueue}-retention`;

/** Creates or updates the retention Schedule (retention on) or deletes it (off: `retention` undefined). */
export async function ensureRetentionSchedule(client: Client, taskQueue: string, retention: RetentionOptions | undefined) {
  const scheduleId = retentionScheduleId(taskQueue);
  const handle = client.schedule.getHandle(scheduleId);
  if (!retention) {
    await handle.delete().catch((error) => {
      if (!(error instanceof ScheduleNotFoundError)) throw error;
    });
    return undefined;
  }
  const input: DeleteJobsInput = {
    jobIds: [],
    actor: 'system:retention',
    reason: `retention: finished more than ${describeMs(retention.maxAgeMs)} ago`,
    retention: { maxAgeMs: retention.maxAgeMs },
  };
  const spec = { intervals: [{ every: retention.intervalMs }] };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'deleteJobsWorkflow',
    workflowId: scheduleId,
    taskQueue,
    args: [input] as [DeleteJobsInput],
  };
  try {
    await client.schedule.create({
      scheduleId,
      spec,
      action,
      // A run still deleting when the next is due: skip that one.
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
      memo: { purpose: 'job-engine retention' },
    });
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    await handle.update((previous) => ({ ...previous, spec, action }));
  }
  return scheduleId;
}

/** 2592000000 → `30d`, 90000 → `90s`: the age as the reason of the tombstones says it. */
function describeMs(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const)
    if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}
