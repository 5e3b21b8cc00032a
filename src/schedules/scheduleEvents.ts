/**
 * The event catalogue of a schedule stream (stream id `schedule-<schedule id>`). ScheduleCommands
 * writes every one of them, right after Temporal accepted the change (see the README: "Recurring
 * jobs"). Pure data: imported by the command side and the projection alike.
 */
import type { ScheduleJob, SchedulePolicy, ScheduleSpecInput } from './scheduleSpec.js';

export const ScheduleEvents = {
  created: 'ScheduleCreated',
  updated: 'ScheduleUpdated',
  paused: 'SchedulePaused',
  unpaused: 'ScheduleUnpaused',
  triggered: 'ScheduleTriggered',
  deleted: 'ScheduleDeleted',
} as const;
export type ScheduleEventType = (typeof ScheduleEvents)[keyof typeof ScheduleEvents];

export const isScheduleEventType = (type: string): type is ScheduleEventType =>
  (Object.values(ScheduleEvents) as string[]).includes(type);

/** The stream of one schedule's changes. */
export const scheduleStreamId = (scheduleId: string) => `schedule-${scheduleId}`;

/** data of ScheduleCreated: everything the schedule was created with (spec and job as the API took them). */
export interface ScheduleCreatedData {
  scheduleId: string;
  name: string;
  owner: string;
  spec: ScheduleSpecInput;
  policy: SchedulePolicy;
  job: ScheduleJob;
  paused: boolean;
  note: string | null;
  at: string;
}

/** data of ScheduleUpdated: the sections that changed, each whole (as it is after the change). */
export interface ScheduleUpdatedData {
  scheduleId: string;
  name?: string;
  spec?: ScheduleSpecInput;
  policy?: SchedulePolicy;
  job?: ScheduleJob;
  at: string;
}

/** data of SchedulePaused / ScheduleUnpaused: the note Temporal shows (`temporal schedule describe`). */
export interface SchedulePauseData {
  scheduleId: string;
  note: string;
  at: string;
}

/** data of ScheduleTriggered: the overlap policy of this one action, and the run it started (if seen). */
export interface ScheduleTriggeredData {
  scheduleId: string;
  overlap: string | null;
  jobId: string | null;
  at: string;
}

export interface ScheduleDeletedData {
  scheduleId: string;
  /** Temporal did not know the schedule any more (deleted outside the API); the record catches up. */
  alreadyGone?: boolean;
  at: string;
}
