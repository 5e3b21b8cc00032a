import type { RecordedEvent } from '../eventstore/index.js';
import { JobEvents } from '../workflows/jobContract.js';
import type { ReadModelDb } from './readModelDb.js';

/** A projection turns events into read-model rows. `apply` runs inside the projector's transaction,
 * which also moves the checkpoint, so a row never gets ahead of or behind its checkpoint. */
export interface Projection {
  readonly name: string;
  apply(db: ReadModelDb, event: RecordedEvent): void;
}

type Row = Record<string, unknown> & { status: string; owner: string; last_position: number; batch_id: string | null };

/** jobs + job_counts from the job streams. Idempotent: an event at or before a row's last_position
 * is skipped, so delivering an event twice changes nothing. */
export function jobProjection(): Projection {
  let statements: ReturnType<typeof prepare> | undefined;
  let preparedFor: ReadModelDb | undefined;
  // UPDATE statements by the set of columns they write; events of one type always write the same set.
  let updates = new Map<string, ReturnType<ReadModelDb['prepare']>>();

  function prepare(db: ReadModelDb) {
    return {
      get: db.prepare<[string], Row>('SELECT * FROM jobs WHERE id = ?'),
      insert: db.prepare(`INSERT INTO jobs (id, name, type, status, priority, owner, batch_id, input, total_steps,
          completed_steps, current_step, progress, attempts, max_attempts, timeout_ms, run_at, result_files,
          created_at, updated_at, version, last_position)
        VALUES (@id, @name, @type, 'pending', @priority, @owner, @batch_id, @input, @total_steps, 0, 0, 0, 1,
          @max_attempts, @timeout_ms, @run_at, '[]', @created_at, @updated_at, @version, @last_position)`),
      remove: db.prepare('DELETE FROM jobs WHERE id = ?'),
      count: db.prepare(`INSERT INTO job_counts (owner, status, count) VALUES (?, ?, ?)
        ON CONFLICT (owner, status) DO UPDATE SET count = count + excluded.count`),
      batchCount: db.prepare(`INSERT INTO batch_job_counts (batch_id, status, count) VALUES (?, ?, ?)
        ON CONFLICT (batch_id, status) DO UPDATE SET count = count + excluded.count`),
    };
  }

  return {
    name: 'jobs',
    apply(db, event) {
      if (!event.type.startsWith('Job')) return;
      if (preparedFor !== db) {
        statements = prepare(db);
        preparedFor = db;
        updates = new Map();
      }
      const s = statements!;
      const d = event.data as Record<string, any>;
      const jobId = event.streamId;
      const at: string = d.at ?? event.recordedAt;
      const row = s.get.get(jobId);
      if (row && event.globalPosition <= row.last_position) return; // already applied

      if (event.type === JobEvents.submitted) {
        if (row) return; // a second JobSubmitted cannot happen; never clobber a row
        s.insert.run({
          id: jobId,
          name: d.name,
          type: d.type,
          priority: d.priority,
          owner: d.owner,
          batch_id: d.batchId ?? null,
          input: JSON.stringify(d.input ?? {}),
          total_steps: d.totalSteps,
          max_attempts: d.maxAttempts,
          timeout_ms: d.timeoutMs ?? null,
          run_at: d.runAt ?? null,
          created_at: d.createdAt ?? at,
          updated_at: at,
          version: event.streamVersion,
          last_position: event.globalPosition,
        });
        s.count.run(d.owner, 'pending', 1);
        if (d.batchId) s.batchCount.run(d.batchId, 'pending', 1);
        return;
      }
      if (!row) return; // events of a deleted job, or a stream we do not know

      if (event.type === JobEvents.deleted) {
        s.remove.run(jobId);
        s.count.run(row.owner, row.status, -1);
        if (row.batch_id) s.batchCount.run(row.batch_id, row.status, -1);
        return;
      }

      const patch: Record<string, unknown> = {};
      switch (event.type) {
        case JobEvents.retried:
          Object.assign(patch, {
            status: 'pending',
            attempts: d.attempt,
            max_attempts: d.maxAttempts,
            completed_at: null,
            error_message: null,
            error_type: null,
            next_retry_at: null,
            current_step: d.completedSteps,
            message: 'retry requested',
          });
          break;
        case JobEvents.started:
          Object.assign(patch, { status: 'running', started_at: row.started_at ?? d.startedAt ?? at, attempts: d.attempt, message: null });
          break;
        case JobEvents.progress:
          Object.assign(patch, {
            completed_steps: d.completedSteps,
            total_steps: d.totalSteps,
            progress: d.progress,
            current_step: d.currentStep,
            estimated_remaining: d.estimatedRemainingS,
            result_files: JSON.stringify(d.resultFiles ?? []),
          });
          break;
        case JobEvents.paused:
          Object.assign(patch, { status: 'paused', paused_at: at, message: event.metadata.reason ?? 'paused' });
          break;
        case JobEvents.resumed:
          Object.assign(patch, { status: d.to ?? 'running', paused_at: null, message: null });
          break;
        case JobEvents.reprioritized:
          Object.assign(patch, { priority: d.to });
          break;
        case JobEvents.attemptFailed:
          Object.assign(patch, {
            error_message: d.error,
            error_type: d.errorType,
            next_retry_at: d.nextRetryAt,
            attempts: d.attempt + 1,
            message: `attempt ${d.attempt} failed; retrying at ${d.nextRetryAt}`,
          });
          break;
        case JobEvents.completed:
          Object.assign(patch, {
            status: 'completed',
            completed_at: at,
            progress: 100,
            completed_steps: d.completedSteps,
            current_step: null,
            estimated_remaining: 0,
            result: JSON.stringify(d.result ?? null),
            result_files: JSON.stringify(d.resultFiles ?? []),
            active_ms: d.activeMs ?? 0,
            attempts: d.attempt ?? row.attempts,
            error_message: null,
            error_type: null,
            next_retry_at: null,
            message: 'completed',
          });
          break;
        case JobEvents.failed:
          Object.assign(patch, {
            status: 'failed',
            completed_at: at,
            error_message: d.error,
            error_type: d.errorType,
            attempts: d.attempt,
            completed_steps: d.completedSteps,
            next_retry_at: null,
            current_step: null,
            estimated_remaining: null,
            active_ms: d.activeMs ?? 0,
            message: 'failed',
          });
          break;
        case JobEvents.cancelled:
          Object.assign(patch, {
            status: 'cancelled',
            completed_at: at,
            paused_at: null,
            next_retry_at: null,
            current_step: null,
            estimated_remaining: null,
            message: event.metadata.reason ? `cancelled: ${event.metadata.reason}` : 'cancelled',
          });
          break;
        case JobEvents.terminated:
        case JobEvents.timedOut:
          Object.assign(patch, {
            status: event.type === JobEvents.terminated ? 'terminated' : 'timed_out',
            completed_at: d.closedAt ?? at,
            paused_at: null,
            next_retry_at: null,
            current_step: null,
            estimated_remaining: null,
            error_message: event.metadata.reason ?? d.reason ?? null,
            message: event.type === JobEvents.terminated ? 'terminated' : 'timed out',
          });
          break;
        default:
          break; // JobSignalIgnored and others: part of the history, not of the row
      }
      patch.updated_at = at;
      patch.version = event.streamVersion;
      patch.last_position = event.globalPosition;
      const columns = Object.keys(patch);
      const key = columns.join(',');
      let update = updates.get(key);
      if (!update) {
        update = db.prepare(`UPDATE jobs SET ${columns.map((c) => `${c} = @${c}`).join(', ')} WHERE id = @id`);
        updates.set(key, update);
      }
      update.run({ ...patch, id: jobId });
      if (typeof patch.status === 'string' && patch.status !== row.status) {
        s.count.run(row.owner, row.status, -1);
        s.count.run(row.owner, patch.status, 1);
        if (row.batch_id) {
          s.batchCount.run(row.batch_id, row.status, -1);
          s.batchCount.run(row.batch_id, patch.status, 1);
        }
      }
    },
  };
}
