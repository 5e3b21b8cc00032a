import type { JobRow } from '../projections/jobReadModel.js';

const parse = (text: string | null, fallback: unknown) => {
  if (text === null || text === undefined) return fallback;
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
};

/** A jobs row as the API shows it (snake_case; unknown values null; ISO-8601 UTC timestamps). */
export function toJobResource(row: JobRow, now = Date.now()) {
  const started = row.started_at ? Date.parse(row.started_at) : null;
  const ended = row.completed_at ? Date.parse(row.completed_at) : null;
  const running = row.status === 'running';
  const dependsOn = parse(row.depends_on ?? '[]', []) as {
    job_id: string;
    condition: string;
    state: 'waiting' | 'met' | 'impossible';
  }[];
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    status: row.status as any,
    priority: row.priority,
    created_at: row.created_at,
    started_at: row.started_at,
    completed_at: row.completed_at,
    progress: row.progress,
    message: row.message,
    error_message: row.error_message,
    result_files: parse(row.result_files, []) as string[],
    user_id: row.owner,
    duration:
      started === null
        ? null
        : Math.max(
            0,
            Math.round(((ended ?? (running || row.status === 'paused' ? now : Date.parse(row.updated_at))) - started) / 100) / 10,
          ),
    estimated_remaining: row.status === 'completed' ? 0 : row.estimated_remaining,
    batch_id: row.batch_id,
    schedule_id: row.schedule_id ?? null,
    attempts: row.attempts,
    max_attempts: row.max_attempts,
    current_step: row.current_step,
    completed_steps: row.completed_steps,
    total_steps: row.total_steps,
    next_retry_at: row.next_retry_at,
    error_type: row.error_type,
    paused_at: row.paused_at,
    updated_at: row.updated_at,
    input: parse(row.input, {}),
    result: parse(row.result, null),
    pool: row.pool ?? null,
    weight: row.pool_weight ?? null,
    scheduled_at: row.run_at,
    depends_on: dependsOn,
    blocked_by: dependsOn.filter((d) => d.state === 'waiting').map((d) => d.job_id),
    metadata: parse(row.metadata ?? null, null) as Record<string, unknown> | null,
    tags: parse(row.tags ?? '[]', []) as string[],
  };
}

export type JobResourceShape = ReturnType<typeof toJobResource>;
