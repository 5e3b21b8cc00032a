import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { WEBHOOK_SCHEMA } from './webhookReadModel.js';

export type ReadModelDb = Database.Database;

/** The read model's schema. Everything here is derived from the event log and can be rebuilt. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  status TEXT NOT NULL,
  priority INTEGER NOT NULL,
  owner TEXT NOT NULL,
  batch_id TEXT,
  input TEXT NOT NULL,
  total_steps INTEGER NOT NULL,
  completed_steps INTEGER NOT NULL DEFAULT 0,
  current_step INTEGER,
  progress INTEGER NOT NULL DEFAULT 0,
  message TEXT,
  error_message TEXT,
  error_type TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  next_retry_at TEXT,
  timeout_ms INTEGER,
  run_at TEXT,
  result TEXT,
  result_files TEXT NOT NULL DEFAULT '[]',
  estimated_remaining REAL,
  active_ms INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  started_at TEXT,
  completed_at TEXT,
  paused_at TEXT,
  updated_at TEXT NOT NULL,
  version INTEGER NOT NULL,
  last_position INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS jobs_by_owner ON jobs (owner, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS jobs_by_owner_status ON jobs (owner, status, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS jobs_by_type ON jobs (type, priority, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS jobs_by_priority ON jobs (priority, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS jobs_by_batch ON jobs (batch_id, created_at DESC, id DESC) WHERE batch_id IS NOT NULL;

-- Counts per owner and status, kept by the projection as jobs move, so stats never scan jobs.
CREATE TABLE IF NOT EXISTS job_counts (
  owner TEXT NOT NULL,
  status TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (owner, status)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS batches (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  description TEXT,
  owner TEXT NOT NULL,
  status TEXT NOT NULL,
  priority INTEGER NOT NULL,
  total INTEGER NOT NULL,
  concurrency INTEGER NOT NULL,
  failure_policy TEXT NOT NULL,
  -- jobs never started because the batch was cancelled or failed fast
  not_started_cancelled INTEGER NOT NULL DEFAULT 0,
  summary TEXT,
  created_at TEXT NOT NULL,
  started_at TEXT,
  completed_at TEXT,
  updated_at TEXT NOT NULL,
  last_position INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS batches_by_created ON batches (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS batches_by_owner ON batches (owner, created_at DESC, id DESC);

-- Schedules (recurring jobs), from the schedule streams. A deleted schedule keeps its row (deleted_at).
CREATE TABLE IF NOT EXISTS schedules (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  owner TEXT NOT NULL,
  spec TEXT NOT NULL,
  spec_summary TEXT NOT NULL,
  policy TEXT NOT NULL,
  job TEXT NOT NULL,
  job_type TEXT NOT NULL,
  paused INTEGER NOT NULL,
  note TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT,
  version INTEGER NOT NULL,
  last_position INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS schedules_by_created ON schedules (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS schedules_by_owner ON schedules (owner, created_at DESC, id DESC);

-- Jobs of each batch by status, kept by the job projection as jobs move.
CREATE TABLE IF NOT EXISTS batch_job_counts (
  batch_id TEXT NOT NULL,
  status TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (batch_id, status)
) WITHOUT ROWID;

-- Resource pools (limits), from the pool streams.
CREATE TABLE IF NOT EXISTS pools (
  name TEXT PRIMARY KEY,
  "limit" INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  last_position INTEGER NOT NULL
);

-- Jobs submitted, finished and retried per minute and owner (GET /stats/timeseries), by each event's
-- own time; last_position makes a repeated delivery a no-op.
CREATE TABLE IF NOT EXISTS job_throughput (
  minute INTEGER NOT NULL,
  owner TEXT NOT NULL,
  submitted INTEGER NOT NULL DEFAULT 0,
  completed INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  cancelled INTEGER NOT NULL DEFAULT 0,
  terminated INTEGER NOT NULL DEFAULT 0,
  timed_out INTEGER NOT NULL DEFAULT 0,
  retried INTEGER NOT NULL DEFAULT 0,
  attempts_failed INTEGER NOT NULL DEFAULT 0,
  last_position INTEGER NOT NULL,
  PRIMARY KEY (minute, owner)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS projection_checkpoints (
  name TEXT PRIMARY KEY,
  position INTEGER NOT NULL
);
`;

/** Columns added after the first release: added in place to older files (they start empty). */
const ADDED_JOB_COLUMNS: [string, string][] = [
  ['pool', 'TEXT'],
  ['pool_weight', 'INTEGER'],
  ['queued_seq', 'INTEGER'],
  ['depends_on', "TEXT NOT NULL DEFAULT '[]'"],
  ['metadata', 'TEXT'],
  ['tags', "TEXT NOT NULL DEFAULT '[]'"],
  ['schedule_id', 'TEXT'],
];

function migrate(db: ReadModelDb): void {
  const have = new Set(
    db
      .prepare<[], { name: string }>('PRAGMA table_info(jobs)')
      .all()
      .map((c) => c.name),
  );
  for (const [name, type] of ADDED_JOB_COLUMNS) if (!have.has(name)) db.exec(`ALTER TABLE jobs ADD COLUMN ${name} ${type}`);
  // The pools' lines: queued jobs of a pool (and jobs submitted straight into line whose workflow has
  // not run yet) by priority and arrival.
  db.exec('DROP INDEX IF EXISTS jobs_in_line');
  db.exec(
    `CREATE INDEX IF NOT EXISTS jobs_in_line_v2 ON jobs (pool, status, priority DESC, queued_seq) WHERE status IN ('queued', 'pending')`,
  );
  // The runs of a schedule (GET /schedules/{id}/runs, /jobs/list?schedule_id=).
  db.exec(
    'CREATE INDEX IF NOT EXISTS jobs_by_schedule ON jobs (schedule_id, created_at DESC, id DESC) WHERE schedule_id IS NOT NULL',
  );
}

export function openReadModelDb(file: string): ReadModelDb {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
  db.exec(WEBHOOK_SCHEMA);
  migrate(db);
  return db;
}
