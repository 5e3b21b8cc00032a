/** The body of a delivery: `{type, timestamp, data: {event, job | batch}}` (Standard Webhooks' shape). */
import type { RecordedEvent } from '../eventstore/index.js';
import type { JobRow } from '../projections/jobReadModel.js';
import type { BatchRow } from '../projections/batchReadModel.js';

const parsed = (text: string | null | undefined): unknown => (text == null ? null : JSON.parse(text));

/** What a receiver learns of the job: its read-model row when the delivery was created. */
export function jobSummary(row: JobRow) {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    status: row.status,
    priority: row.priority,
    user_id: row.owner,
    batch_id: row.batch_id,
    tags: parsed(row.tags) ?? [],
    metadata: parsed(row.metadata),
    progress: row.progress,
    attempts: row.attempts,
    error_message: row.error_message,
    error_type: row.error_type,
    result: parsed(row.result),
    result_files: parsed(row.result_files) ?? [],
    created_at: row.created_at,
    started_at: row.started_at,
    completed_at: row.completed_at,
  };
}

export function batchSummary(row: BatchRow) {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    priority: row.priority,
    user_id: row.owner,
    total: row.total,
    summary: parsed(row.summary),
    created_at: row.created_at,
    started_at: row.started_at,
    completed_at: row.completed_at,
  };
}

export function webhookBody(event: RecordedEvent, subject: { job?: JobRow; batch?: BatchRow }): string {
  return JSON.stringify({
    type: event.type,
    timestamp: event.recordedAt,
    data: {
      event: {
        id: event.eventId,
        position: event.globalPosition,
        stream_id: event.streamId,
        version: event.streamVersion,
        type: event.type,
        data: event.data,
        actor: event.metadata.actor ?? null,
        reason: event.metadata.reason ?? null,
        recorded_at: event.recordedAt,
      },
      ...(subject.job ? { job: jobSummary(subject.job) } : {}),
      ...(subject.batch ? { batch: batchSummary(subject.batch) } : {}),
    },
  });
}
