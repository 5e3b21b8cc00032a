import type { ScannedEvent } from '../eventstore/index.js';
import { BatchEvents } from '../domain/index.js';
import type { Projection } from './jobProjection.js';
import type { ReadModelDb } from './readModelDb.js';

/** batches, from the batch streams. Job counts per batch come from jobProjection (batch_job_counts). */
export function batchProjection(): Projection {
  let prepared: ReadModelDb | undefined;
  let s: ReturnType<typeof prepare>;
  function prepare(db: ReadModelDb) {
    return {
      get: db.prepare<[string], { last_position: number; status: string; completed_at: string | null }>(
        'SELECT last_position, status, completed_at FROM batches WHERE id = ?',
      ),
      insert: db.prepare(`INSERT INTO batches (id, name, description, owner, status, priority, total, concurrency, failure_policy,
          not_started_cancelled, created_at, updated_at, last_position)
        VALUES (@id, @name, @description, @owner, 'queued', @priority, @total, @concurrency, @failure_policy, 0, @created_at, @updated_at, @last_position)`),
      update: db.prepare(`UPDATE batches SET status = COALESCE(@status, status), priority = COALESCE(@priority, priority),
          started_at = COALESCE(@started_at, started_at), completed_at = @completed_at_set, not_started_cancelled = COALESCE(@not_started, not_started_cancelled),
          summary = COALESCE(@summary, summary), updated_at = @updated_at, last_position = @last_position WHERE id = @id`),
    };
  }
  return {
    name: 'batches',
    eventTypePrefixes: ['Batch'],
    apply(db, event: ScannedEvent) {
      if (!event.type.startsWith('Batch')) return;
      if (prepared !== db) {
        s = prepare(db);
        prepared = db;
      }
      const d = event.data as Record<string, any>;
      const at: string = d.at ?? event.recordedAt;
      const row = s.get.get(event.streamId);
      if (row && event.globalPosition <= row.last_position) return;
      if (event.type === BatchEvents.created) {
        if (row) return;
        s.insert.run({
          id: event.streamId,
          name: d.name,
          description: d.description ?? null,
          owner: d.owner,
          priority: d.priority,
          total: d.total,
          concurrency: d.concurrency,
          failure_policy: JSON.stringify(d.failurePolicy ?? { mode: 'continue' }),
          created_at: d.createdAt ?? at,
          updated_at: at,
          last_position: event.globalPosition,
        });
        return;
      }
      if (!row) return;
      const patch: Record<string, unknown> = {
        id: event.streamId,
        status: null,
        priority: null,
        started_at: null,
        completed_at_set: row.completed_at,
        not_started: null,
        summary: null,
        updated_at: at,
        last_position: event.globalPosition,
      };
      switch (event.type) {
        case BatchEvents.started:
          Object.assign(patch, { status: 'running', started_at: d.startedAt ?? at });
          break;
        case BatchEvents.paused:
          patch.status = 'paused';
          break;
        case BatchEvents.resumed:
          patch.status = 'running';
          break;
        case BatchEvents.reprioritized:
          patch.priority = d.to;
          break;
        case BatchEvents.retryStarted:
          Object.assign(patch, { status: 'running', completed_at_set: null, not_started: 0 });
          break;
        case BatchEvents.completed:
        case BatchEvents.failed:
          Object.assign(patch, {
            status: event.type === BatchEvents.failed ? 'failed' : (d.status ?? 'completed'),
            completed_at_set: at,
            not_started: d.notStarted ?? 0,
            summary: JSON.stringify({ counts: d.counts, reason: d.reason ?? null }),
          });
          break;
        default:
          break; // BatchCancelled (requested; the end comes with BatchCompleted), BatchSignalIgnored
      }
      s.update.run(patch);
    },
  };
}
