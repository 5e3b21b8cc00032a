import type { ScannedEvent } from '../eventstore/index.js';
import {
  ScheduleEvents,
  type ScheduleCreatedData,
  type SchedulePauseData,
  type ScheduleUpdatedData,
} from '../schedules/scheduleEvents.js';
import { summarizeSpec } from '../schedules/scheduleSpec.js';
import type { Projection } from './jobProjection.js';
import type { ReadModelDb } from './readModelDb.js';
import type { ScheduleRow } from './scheduleReadModel.js';

const COLUMNS = [
  'id',
  'name',
  'owner',
  'spec',
  'spec_summary',
  'policy',
  'job',
  'job_type',
  'paused',
  'note',
  'created_at',
  'updated_at',
  'deleted_at',
  'version',
  'last_position',
] as const;

/**
 * The fold of a schedule stream: the row after `event` (undefined: none). Returns the same object
 * when the event changes nothing. A ScheduleCreated after a ScheduleDeleted (the id was reused)
 * starts the row afresh; one on a live row is ignored (never clobber).
 */
export function evolveSchedule(row: ScheduleRow | undefined, event: ScannedEvent): ScheduleRow | undefined {
  if (!event.type.startsWith('Schedule')) return row;
  if (row && event.globalPosition <= row.last_position) return row; // already applied
  const at: string = (event.data as { at?: string }).at ?? event.recordedAt;
  const touched = { updated_at: at, version: event.streamVersion, last_position: event.globalPosition };
  if (event.type === ScheduleEvents.created) {
    if (row && !row.deleted_at) return row;
    const d = event.data as ScheduleCreatedData;
    return {
      id: d.scheduleId,
      name: d.name,
      owner: d.owner,
      spec: JSON.stringify(d.spec),
      spec_summary: summarizeSpec(d.spec),
      policy: JSON.stringify(d.policy),
      job: JSON.stringify(d.job),
      job_type: d.job.type,
      paused: d.paused ? 1 : 0,
      note: d.note ?? null,
      created_at: at,
      deleted_at: null,
      ...touched,
    };
  }
  if (!row) return undefined;
  switch (event.type) {
    case ScheduleEvents.updated: {
      const d = event.data as ScheduleUpdatedData;
      return {
        ...row,
        ...(d.name !== undefined ? { name: d.name } : {}),
        ...(d.spec ? { spec: JSON.stringify(d.spec), spec_summary: summarizeSpec(d.spec) } : {}),
        ...(d.policy ? { policy: JSON.stringify(d.policy) } : {}),
        ...(d.job ? { job: JSON.stringify(d.job), job_type: d.job.type } : {}),
        ...touched,
      };
    }
    case ScheduleEvents.paused:
    case ScheduleEvents.unpaused:
      return {
        ...row,
        paused: event.type === ScheduleEvents.paused ? 1 : 0,
        note: (event.data as SchedulePauseData).note ?? null,
        ...touched,
      };
    case ScheduleEvents.deleted:
      return { ...row, deleted_at: at, ...touched };
    default: // ScheduleTriggered and events this version does not know: part of the history only
      return { ...row, ...touched };
  }
}

/** schedules, from the schedule streams. Idempotent: an event at or before a row's last_position is skipped. */
export function scheduleProjection(): Projection {
  let preparedFor: ReadModelDb | undefined;
  let s: ReturnType<typeof prepare>;
  function prepare(db: ReadModelDb) {
    return {
      get: db.prepare<[string], ScheduleRow>('SELECT * FROM schedules WHERE id = ?'),
      upsert: db.prepare(
        `INSERT OR REPLACE INTO schedules (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')})`,
      ),
    };
  }
  return {
    name: 'schedules',
    eventTypePrefixes: ['Schedule'],
    apply(db, event) {
      if (!event.type.startsWith('Schedule')) return;
      if (preparedFor !== db) {
        s = prepare(db);
        preparedFor = db;
      }
      const id = (event.data as { scheduleId?: string }).scheduleId ?? event.streamId.replace(/^schedule-/, '');
      const before = s.get.get(id);
      const after = evolveSchedule(before, event);
      if (after && after !== before) s.upsert.run(after);
    },
  };
}
