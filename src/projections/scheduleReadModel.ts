import { ReadModelHolder, type ReadModelSource } from './readModelHolder.js';
import { decodeCursor, encodeCursor } from './pageCursor.js';

/** A schedules row as stored. JSON columns are still text here; the API shapes the resource. */
export interface ScheduleRow {
  id: string;
  name: string;
  owner: string;
  /** JSON: the spec as the API took it (ScheduleSpecInput). */
  spec: string;
  spec_summary: string;
  /** JSON: SchedulePolicy. */
  policy: string;
  /** JSON: ScheduleJob, the job every action starts. */
  job: string;
  job_type: string;
  /** 1 when paused (as recorded; Temporal's live state is in GET /schedules/{id}'s info). */
  paused: number;
  note: string | null;
  created_at: string;
  updated_at: string;
  /** Set by ScheduleDeleted: the row stays as a tombstone, the API answers 404. */
  deleted_at: string | null;
  version: number;
  last_position: number;
}

export interface ScheduleListFilter {
  /** Only schedules of this owner (non-admin users). */
  owner?: string;
  /** Opaque cursor from a previous page. */
  cursor?: string;
  limit: number;
}

/** Queries of the schedules read model. Reads only; scheduleProjection is the only writer. */
export class ScheduleReadModel {
  private readonly holder: ReadModelHolder;

  constructor(source: ReadModelSource) {
    this.holder = ReadModelHolder.of(source);
  }

  /** The row, deleted or not. */
  getSchedule(id: string): ScheduleRow | undefined {
    return this.holder.prepare<[string], ScheduleRow>('SELECT * FROM schedules WHERE id = ?').get(id);
  }

  /** Every schedule not deleted: id and recorded pause state (for reconcile). */
  liveSchedules(): { id: string; paused: number }[] {
    return this.holder
      .prepare<[], { id: string; paused: number }>('SELECT id, paused FROM schedules WHERE deleted_at IS NULL')
      .all();
  }

  /** Schedules not deleted, newest first. */
  listSchedules(filter: ScheduleListFilter): { schedules: ScheduleRow[]; nextCursor: string | null } {
    const where = ['deleted_at IS NULL'];
    const params: Record<string, unknown> = { limit: filter.limit + 1 };
    if (filter.owner !== undefined) {
      where.push('owner = @owner');
      params.owner = filter.owner;
    }
    if (filter.cursor !== undefined) {
      const [createdAt, id] = decodeCursor(filter.cursor);
      where.push('(created_at < @cursorCreatedAt OR (created_at = @cursorCreatedAt AND id < @cursorId))');
      params.cursorCreatedAt = createdAt;
      params.cursorId = id;
    }
    const rows = this.holder
      .prepare<Record<string, unknown>, ScheduleRow>(
        `SELECT * FROM schedules WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT @limit`,
      )
      .all(params);
    const more = rows.length > filter.limit;
    const schedules = more ? rows.slice(0, filter.limit) : rows;
    return { schedules, nextCursor: more ? encodeCursor(schedules[schedules.length - 1]!) : null };
  }
}
