import { TERMINAL_BATCH_STATUSES } from '../domain/index.js';
import { ReadModelHolder, type ReadModelSource } from './readModelHolder.js';

export interface BatchRow {
  id: string;
  name: string;
  description: string | null;
  owner: string;
  status: string;
  priority: number;
  total: number;
  concurrency: number;
  failure_policy: string;
  not_started_cancelled: number;
  summary: string | null;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  updated_at: string;
  last_position: number;
}

const FINAL_BATCH_STATUSES_SQL = TERMINAL_BATCH_STATUSES.map((status) => `'${status}'`).join(', ');

/** Items of a batch that no job was started for (yet): its progress counts them pending. `jobCounts`:
 * its jobs by status (every job started so far). */
export function itemsNotStarted(
  row: Pick<BatchRow, 'total' | 'not_started_cancelled'>,
  jobCounts: Record<string, number>,
): number {
  const started = Object.values(jobCounts).reduce((a, b) => a + b, 0);
  return Math.max(0, row.total - started - row.not_started_cancelled);
}

/** Queries of the batches read model. */
export class BatchReadModel {
  private readonly holder: ReadModelHolder;

  constructor(source: ReadModelSource) {
    this.holder = ReadModelHolder.of(source);
  }

  getBatch(id: string): BatchRow | undefined {
    return this.holder.prepare<[string], BatchRow>('SELECT * FROM batches WHERE id = ?').get(id);
  }

  /** Jobs of the batch by job status (jobs started so far). */
  jobCounts(id: string): Record<string, number> {
    const result: Record<string, number> = {};
    for (const row of this.holder
      .prepare<[string], { status: string; count: number }>('SELECT status, count FROM batch_job_counts WHERE batch_id = ?')
      .all(id))
      result[row.status] = row.count;
    return result;
  }

  /** Batches not in a final status (created, queued, running, paused). Few: no index needed. */
  countOpen(): number {
    return this.holder
      .prepare<[], number>(`SELECT COUNT(*) FROM batches WHERE status NOT IN (${FINAL_BATCH_STATUSES_SQL})`)
      .pluck()
      .get()!;
  }

  /** Ids of batches not in a final status whose row last changed before `cutoff` (ISO), oldest change first. */
  openNotUpdatedSince(cutoff: string, limit: number): string[] {
    return this.holder
      .prepare<[string, number], string>(
        `SELECT id FROM batches WHERE status NOT IN (${FINAL_BATCH_STATUSES_SQL}) AND updated_at < ? ORDER BY updated_at LIMIT ?`,
      )
      .pluck()
      .all(cutoff, limit);
  }

  /** Items of the batch that no job was started for (yet), as its progress counts them pending. */
  notStartedOf(id: string): number {
    const row = this.getBatch(id);
    return row ? itemsNotStarted(row, this.jobCounts(id)) : 0;
  }

  listBatches(filter: { owner?: string; status?: string; limit: number; before?: string }): BatchRow[] {
    const where: string[] = [];
    if (filter.owner !== undefined) where.push('owner = @owner');
    if (filter.status !== undefined) where.push('status = @status');
    if (filter.before !== undefined) where.push('created_at < @before');
    return this.holder
      .prepare<Record<string, unknown>, BatchRow>(
        `SELECT * FROM batches ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT @limit`,
      )
      .all({ ...filter });
  }

  countByStatus(owner?: string): Record<string, number> {
    const rows = this.holder
      .prepare<Record<string, unknown>, { status: string; n: number }>(
        `SELECT status, COUNT(*) AS n FROM batches ${owner !== undefined ? 'WHERE owner = @owner' : ''} GROUP BY status`,
      )
      .all({ owner });
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  /** Durations (s) of the batch's finished jobs, slowest first, and its failed jobs. */
  report(id: string, slowest = 10) {
    const durations = this.holder
      .prepare<[string], { id: string; name: string; d: number }>(
        `SELECT id, name, (julianday(completed_at) - julianday(started_at)) * 86400.0 AS d FROM jobs
          WHERE batch_id = ? AND started_at IS NOT NULL AND completed_at IS NOT NULL ORDER BY d DESC`,
      )
      .all(id);
    const failed = this.holder
      .prepare<
        [string],
        { id: string; name: string; status: string; error_message: string | null; error_type: string | null; attempts: number }
      >(
        `SELECT id, name, status, error_message, error_type, attempts FROM jobs WHERE batch_id = ? AND status IN ('failed', 'timed_out') ORDER BY created_at, id`,
      )
      .all(id);
    return { durations, slowest: durations.slice(0, slowest), failed };
  }
}
