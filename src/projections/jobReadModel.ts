import type { Statement } from 'better-sqlite3';
import { ReadModelHolder, type ReadModelSource } from './readModelHolder.js';
import { InvalidCursorError, decodeCursor, encodeCursor } from './pageCursor.js';
import { JOB_STATUSES, WAITING_JOB_STATUSES, isTerminalJobStatus } from '../domain/index.js';

/** The statuses not final, as an SQL list (constant names only). */
const OPEN_STATUSES_SQL = JOB_STATUSES.filter((s) => !isTerminalJobStatus(s))
  .map((s) => `'${s}'`)
  .join(', ');

/** An uploaded file's id as it appears (quoted) in a job's input JSON. */
export const FILE_ID = /"(file_[0-9a-f-]{36})"/g;

/** The uploaded files the jobs' inputs name. */
export function fileIdsNamedBy(rows: Iterable<Pick<JobRow, 'input'>>): Set<string> {
  const ids = new Set<string>();
  for (const row of rows) for (const m of row.input.matchAll(FILE_ID)) ids.add(m[1]!);
  return ids;
}

export interface PoolRow {
  name: string;
  limit: number;
  created_at: string;
  updated_at: string;
}

/** A pool as the read model knows it: its limit and who is running and waiting in it. */
export interface PoolView extends PoolRow {
  used: number;
  running: number;
  queued: number;
  queued_by_priority: Record<string, number>;
}

/** A jobs row as stored. JSON columns are still text here; the API shapes the resource. */
export interface JobRow {
  id: string;
  name: string;
  type: string;
  status: string;
  priority: number;
  owner: string;
  batch_id: string | null;
  /** The schedule whose action started this job (its runs), else null. */
  schedule_id: string | null;
  input: string;
  total_steps: number;
  completed_steps: number;
  current_step: number | null;
  progress: number;
  message: string | null;
  error_message: string | null;
  error_type: string | null;
  attempts: number;
  max_attempts: number;
  next_retry_at: string | null;
  timeout_ms: number | null;
  run_at: string | null;
  result: string | null;
  result_files: string;
  estimated_remaining: number | null;
  active_ms: number;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  paused_at: string | null;
  updated_at: string;
  version: number;
  last_position: number;
  /** Resource pool, slots taken, and the log position that put it in the pool's line. */
  pool: string | null;
  pool_weight: number | null;
  queued_seq: number | null;
  /** JSON: [{job_id, condition, state: waiting|met|impossible}]. */
  depends_on: string;
  /** JSON of the submitter's own, or null; JSON array of labels. */
  metadata: string | null;
  tags: string;
}

export interface JobListFilter {
  /** Only jobs of this owner (non-admin users). */
  owner?: string;
  /** One status, or `waiting` (every status of WAITING_JOB_STATUSES). */
  status?: string;
  pool?: string;
  /** Jobs with this tag. */
  tag?: string;
  type?: string;
  priority?: number;
  batchId?: string;
  scheduleId?: string;
  createdAfter?: string;
  createdBefore?: string;
  nameContains?: string;
  /** Opaque cursor from a previous page. */
  cursor?: string;
  limit: number;
}

export interface JobPage {
  jobs: JobRow[];
  /** Cursor of the next page, or null on the last one. */
  nextCursor: string | null;
}

export { InvalidCursorError };

/** Queries of the jobs read model. Reads only; the projection is the only writer. Statements come
 * from the holder (prepared once per SQL text and connection: lists build their SQL from the filters
 * given, so there are few texts), so they follow an online rebuild's swap. */
export class JobReadModel {
  private readonly holder: ReadModelHolder;

  constructor(source: ReadModelSource) {
    this.holder = ReadModelHolder.of(source);
  }

  private statement<P extends unknown[] | Record<string, unknown>, R>(sql: string): Statement<P, R> {
    return this.holder.prepare<P, R>(sql);
  }

  getJob(id: string): JobRow | undefined {
    return this.statement<[string], JobRow>('SELECT * FROM jobs WHERE id = ?').get(id);
  }

  /** A job's pool (undefined: no such job). Asked for every job's end: one column, not the row. */
  poolOf(id: string): string | null | undefined {
    return this.statement<[string], string | null>('SELECT pool FROM jobs WHERE id = ?').pluck().get(id);
  }

  listJobs(filter: JobListFilter): JobPage {
    const { where, params } = this.whereOf(filter);
    if (filter.cursor !== undefined) {
      const [createdAt, id] = decodeCursor(filter.cursor);
      where.push('(created_at < @cursorCreatedAt OR (created_at = @cursorCreatedAt AND id < @cursorId))');
      params.cursorCreatedAt = createdAt;
      params.cursorId = id;
    }
    params.limit = filter.limit + 1;
    const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY created_at DESC, id DESC LIMIT @limit`;
    const rows = this.statement<Record<string, unknown>, JobRow>(sql).all(params);
    const more = rows.length > filter.limit;
    const jobs = more ? rows.slice(0, filter.limit) : rows;
    return { jobs, nextCursor: more ? encodeCursor(jobs[jobs.length - 1]!) : null };
  }

  /** How many jobs match a list filter (every page together; the cursor and limit are ignored). */
  countJobs(filter: Omit<JobListFilter, 'cursor' | 'limit'>): number {
    const { where, params } = this.whereOf(filter);
    const sql = `SELECT COUNT(*) AS n FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`;
    return this.statement<Record<string, unknown>, { n: number }>(sql).get(params)!.n;
  }

  /** The WHERE conditions of a list filter (without its cursor) and their parameters. */
  private whereOf(filter: Omit<JobListFilter, 'cursor' | 'limit'>): { where: string[]; params: Record<string, unknown> } {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    const where_ = (condition: string, name: string, value: unknown) => {
      if (value === undefined) return;
      where.push(condition);
      params[name] = value;
    };
    where_('owner = @owner', 'owner', filter.owner);
    if (filter.status === 'waiting') where.push(`status IN (${WAITING_JOB_STATUSES.map((s) => `'${s}'`).join(',')})`);
    else where_('status = @status', 'status', filter.status);
    where_('pool = @pool', 'pool', filter.pool);
    where_('EXISTS (SELECT 1 FROM json_each(jobs.tags) t WHERE t.value = @tag)', 'tag', filter.tag);
    where_('type = @type', 'type', filter.type);
    where_('priority = @priority', 'priority', filter.priority);
    where_('batch_id = @batchId', 'batchId', filter.batchId);
    where_('schedule_id = @scheduleId', 'scheduleId', filter.scheduleId);
    where_('created_at > @createdAfter', 'createdAfter', filter.createdAfter);
    where_('created_at < @createdBefore', 'createdBefore', filter.createdBefore);
    if (filter.nameContains !== undefined) {
      where.push("name LIKE @name ESCAPE '\\'");
      params.name = `%${filter.nameContains.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
    }
    return { where, params };
  }

  /** Finished jobs that ended before `cutoff` (ISO), for cleanup. */
  finishedBefore(cutoff: string, owner?: string, limit = 10_000): JobRow[] {
    return this.statement<Record<string, unknown>, JobRow>(
      `SELECT * FROM jobs WHERE status IN ('completed','failed','cancelled','terminated','timed_out')
           AND completed_at < @cutoff ${owner !== undefined ? 'AND owner = @owner' : ''} LIMIT @limit`,
    ).all({ cutoff, owner, limit });
  }

  /** Queued jobs per pool and per priority (an owner's only, when given). */
  queuedCounts(owner?: string): { byPool: Record<string, number>; byPriority: Record<string, number> } {
    const rows = this.statement<Record<string, unknown>, { pool: string; priority: number; n: number }>(
      `SELECT pool, priority, COUNT(*) AS n FROM jobs WHERE status = 'queued' AND pool IS NOT NULL
          ${owner !== undefined ? 'AND owner = @owner' : ''} GROUP BY pool, priority`,
    ).all({ owner });
    const byPool: Record<string, number> = {};
    const byPriority: Record<string, number> = {};
    for (const r of rows) {
      byPool[r.pool] = (byPool[r.pool] ?? 0) + r.n;
      byPriority[r.priority] = (byPriority[r.priority] ?? 0) + r.n;
    }
    return { byPool, byPriority };
  }

  getPool(name: string): PoolView | undefined {
    const row = this.statement<[string], PoolRow>('SELECT name, "limit", created_at, updated_at FROM pools WHERE name = ?').get(
      name,
    );
    return row ? this.poolView(row) : undefined;
  }

  listPools(): PoolView[] {
    return this.statement<[], PoolRow>('SELECT name, "limit", created_at, updated_at FROM pools ORDER BY name')
      .all()
      .map((row) => this.poolView(row));
  }

  private poolView(row: PoolRow): PoolView {
    const running = this.statement<[string], { n: number; used: number | null }>(
      `SELECT COUNT(*) AS n, SUM(COALESCE(pool_weight, 1)) AS used FROM jobs WHERE pool = ? AND status = 'running'`,
    ).get(row.name)!;
    const queued = this.statement<[string], { priority: number; n: number }>(
      `SELECT priority, COUNT(*) AS n FROM jobs WHERE pool = ? AND status = 'queued' GROUP BY priority`,
    ).all(row.name);
    return {
      ...row,
      used: running.used ?? 0,
      running: running.n,
      queued: queued.reduce((a, r) => a + r.n, 0),
      queued_by_priority: Object.fromEntries(queued.map((r) => [String(r.priority), r.n])),
    };
  }

  /** Jobs not yet final whose input names `fileId` (an uploaded file): it may not be deleted. */
  activeJobsUsingFile(fileId: string): JobRow[] {
    return this.statement<[string], JobRow>(
      `SELECT * FROM jobs WHERE instr(input, ?) > 0
          AND status NOT IN ('completed','failed','cancelled','terminated','timed_out') LIMIT 100`,
    ).all(JSON.stringify(fileId));
  }

  /** Jobs still waiting for `jobId` (blocked or paused with it among their unmet dependencies). */
  dependentsWaitingFor(jobId: string): JobRow[] {
    return this.statement<[string], JobRow>(
      `SELECT * FROM jobs WHERE status NOT IN ('completed','failed','cancelled','terminated','timed_out')
          AND EXISTS (SELECT 1 FROM json_each(jobs.depends_on) d
                       WHERE json_extract(d.value, '$.job_id') = ? AND json_extract(d.value, '$.state') = 'waiting')`,
    ).all(jobId);
  }

  /** Which of `fileIds` some job's input still names: one pass over the jobs that name any file. */
  fileIdsStillNamed(fileIds: Iterable<string>): Set<string> {
    const wanted = new Set(fileIds);
    const named = new Set<string>();
    if (wanted.size === 0) return named;
    for (const { input } of this.statement<[], { input: string }>(
      `SELECT input FROM jobs WHERE instr(input, '"file_') > 0`,
    ).iterate()) {
      for (const m of input.matchAll(FILE_ID)) if (wanted.has(m[1]!)) named.add(m[1]!);
      if (named.size === wanted.size) break;
    }
    return named;
  }

  /** Jobs cancelled because `jobId` could not meet their dependency on it (to re-arm on its retry). */
  dependentsCancelledBy(jobId: string): JobRow[] {
    return this.statement<[string], JobRow>(
      `SELECT * FROM jobs WHERE status = 'cancelled' AND error_type = 'DependencyFailed'
          AND EXISTS (SELECT 1 FROM json_each(jobs.depends_on) d WHERE json_extract(d.value, '$.job_id') = ?)`,
    ).all(jobId);
  }

  /** Jobs not in a final status, from the counters the projection keeps (no scan of jobs). */
  countOpen(): number {
    return this.statement<[], number>(`SELECT COALESCE(SUM(count), 0) FROM job_counts WHERE status IN (${OPEN_STATUSES_SQL})`)
      .pluck()
      .get()!;
  }

  /** Ids of jobs not in a final status whose row last changed before `cutoff` (ISO), oldest change first. */
  openNotUpdatedSince(cutoff: string, limit: number): string[] {
    return this.statement<[string, number], string>(
      // By status (its index): the open jobs only, not every job ever kept.
      `SELECT id FROM jobs WHERE status IN (${OPEN_STATUSES_SQL}) AND updated_at < ? ORDER BY updated_at LIMIT ?`,
    )
      .pluck()
      .all(cutoff, limit);
  }

  /** Jobs by status, from the counters the projection keeps (no scan of jobs). */
  countByStatus(owner?: string): Record<string, number> {
    const rows =
      owner === undefined
        ? this.statement<[], { status: string; count: number }>(
            'SELECT status, SUM(count) AS count FROM job_counts GROUP BY status',
          ).all()
        : this.statement<[string], { status: string; count: number }>('SELECT status, count FROM job_counts WHERE owner = ?').all(
            owner,
          );
    const result: Record<string, number> = {};
    for (const row of rows) result[row.status] = row.count;
    return result;
  }
}
