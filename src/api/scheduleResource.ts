import type { ScheduleRow } from '../projections/scheduleReadModel.js';
import type { LiveScheduleInfo } from '../commands/scheduleCommands.js';
import type { ScheduleJob, SchedulePolicy, ScheduleSpecInput } from '../schedules/scheduleSpec.js';

/** A schedules row (the record) and Temporal's live view, as the API shows them (snake_case). */
export function toScheduleResource(row: ScheduleRow, live: LiveScheduleInfo | null = null) {
  return {
    id: row.id,
    name: row.name,
    user_id: row.owner,
    paused: row.paused === 1,
    note: row.note,
    spec: JSON.parse(row.spec) as ScheduleSpecInput,
    spec_summary: row.spec_summary,
    policy: JSON.parse(row.policy) as SchedulePolicy,
    job: JSON.parse(row.job) as ScheduleJob,
    created_at: row.created_at,
    updated_at: row.updated_at,
    info: live && {
      paused: live.paused,
      note: live.note,
      next_action_times: live.nextActionTimes,
      recent_actions: live.recentActions.map((a) => ({ scheduled_at: a.scheduledAt, taken_at: a.takenAt, job_id: a.jobId })),
      running_job_ids: live.runningJobIds,
      actions_taken: live.actionsTaken,
      actions_skipped_overlap: live.actionsSkippedOverlap,
      actions_missed_catchup_window: live.actionsMissedCatchupWindow,
    },
  };
}
