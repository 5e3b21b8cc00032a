import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEventStore, type EventStore, type NewEvent } from '../../src/eventstore/index.js';
import { openReadModelDb, type ReadModelDb } from '../../src/projections/readModelDb.js';
import { Projector } from '../../src/projections/projector.js';
import { readModelProjections } from '../../src/projections/readModelProjections.js';
import { rangeWeights, rebuildReadModel } from '../../src/projections/rebuildReadModel.js';

let dir: string;
let store: EventStore;
let live: ReadModelDb;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rebuild-'));
  store = openEventStore(path.join(dir, 'events.db'));
  live = openReadModelDb(path.join(dir, 'live.db'));
});

afterEach(() => {
  store.close();
  live.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
let seq = 0;
const event = (type: string, data: Record<string, unknown>, reason?: string): NewEvent => ({
  eventId: `e${++seq}`,
  type,
  data: { at: at(seq % 60), ...data },
  metadata: { actor: 'system', ...(reason ? { reason } : {}) },
});
const submitted = (owner: string, batchId: string | null = null) =>
  event('JobSubmitted', {
    name: 'n',
    type: 'sleep',
    input: { steps: 2 },
    priority: 2,
    owner,
    batchId,
    totalSteps: 2,
    maxAttempts: 3,
    createdAt: at(seq % 60),
  });

/** Every table of the read model, row by row (a table added later is compared too). */
const dump = (db: ReadModelDb) =>
  Object.fromEntries(
    db
      .prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .pluck()
      .all()
      .map((table) => {
        const columns = db.prepare<[], string>(`SELECT name FROM pragma_table_info('${table}')`).pluck().all();
        return [table, db.prepare(`SELECT * FROM ${table} ORDER BY ${columns.map((c) => `"${c}"`).join(', ')}`).all()];
      }),
  );

const append = (stream: string, ...events: NewEvent[]) => store.appendToStream(stream, events);

/** Batches, pools and schedules: streams the rebuild applies through their live projections, interleaved with jobs. */
function appendOtherStreams(): void {
  append(
    'batch_1',
    event('BatchCreated', {
      name: 'b',
      owner: 'alice',
      priority: 2,
      total: 2,
      concurrency: 1,
      failurePolicy: { mode: 'continue' },
      createdAt: at(1),
    }),
  );
  append('pool-gpu', event('PoolCreated', { pool: 'gpu', limit: 2 }));
  append('batch_1', event('BatchStarted', {}));
  const spec = { intervals: [{ every: '1h' }] };
  const scheduleCreated = (scheduleId: string) =>
    event('ScheduleCreated', {
      scheduleId,
      name: scheduleId,
      owner: 'bob',
      spec,
      policy: { overlap: 'skip' },
      job: { type: 'sleep', name: 'tick' },
      paused: false,
      note: null,
    });
  append('schedule-s1', scheduleCreated('s1'));
  append('pool-gpu', event('PoolLimitChanged', { pool: 'gpu', limit: 5 }));
  append('schedule-s2', scheduleCreated('s2'), event('SchedulePaused', { scheduleId: 's2', note: 'holiday' }));
  append('schedule-s1', event('ScheduleTriggered', { scheduleId: 's1' }));
  append('pool-default', event('PoolCreated', { pool: 'default', limit: 10 }));
  append('schedule-s2', event('ScheduleDeleted', { scheduleId: 's2' }));
  append('batch_1', event('BatchCompleted', { status: 'completed', counts: { completed: 1, failed: 1 }, notStarted: 0 }));
}

describe('rebuildReadModel', () => {
  it('given a mixed log, when rebuilt, then it equals the live projection row by row (in-place fold = pure fold)', async () => {
    // Interleaved streams: every kind of change, a retry, a delete, a pause with a reason, a batch.
    append('job_a', submitted('alice', 'batch_1'));
    append('job_b', submitted('bob'));
    append('job_a', event('JobStarted', { attempt: 1 }));
    append('job_c', submitted('alice', 'batch_1'));
    append('job_b', event('JobStarted', { attempt: 1 }), event('JobPaused', { from: 'running' }, 'disk full'));
    append(
      'job_a',
      event('JobProgress', {
        completedSteps: 1,
        totalSteps: 2,
        progress: 50,
        currentStep: 1,
        estimatedRemainingS: 2,
        resultFiles: ['x.csv'],
      }),
    );
    append(
      'job_c',
      event('JobStarted', { attempt: 1 }),
      event('JobFailed', { error: 'boom', errorType: 'E', attempt: 1, completedSteps: 0 }),
    );
    append(
      'job_a',
      event('JobCompleted', { completedSteps: 2, totalSteps: 2, result: { n: 1 }, resultFiles: ['x.csv', 'y.csv'], attempt: 1 }),
    );
    append(
      'job_c',
      event('JobRetried', { attempt: 2, maxAttempts: 4, completedSteps: 0 }),
      event('JobReprioritized', { from: 2, to: 4 }),
    );
    append('job_d', submitted('carol'), event('JobCancelled', { from: 'pending' }, 'not needed'));
    append('job_d', event('JobDeleted', {}));
    append('job_b', event('JobTerminated', { reason: 'terminated', closedAt: at(59) }, 'terminated through Temporal'));
    append('job_e', submitted('alice'));
    appendOtherStreams();
    // Many streams, so every partition of a parallel rebuild has some (stream ids end in 0-9).
    for (let i = 0; i < 30; i++) {
      append(`job_many_${i}`, submitted(`owner-${i % 4}`, i % 3 === 0 ? 'batch_1' : null));
      if (i % 2) append(`job_many_${i}`, event('JobStarted', { attempt: 1 }));
      if (i % 5 === 0) append(`job_many_${i}`, event('JobCancelled', { from: 'pending' }, 'enough'));
    }

    const projector = new Projector(store, live, readModelProjections());
    expect(projector.catchUp()).toBe(store.lastPosition());

    const expected = dump(live);
    expect(expected.jobs).toHaveLength(34); // job_d is gone
    expect(expected.batches).toHaveLength(1);
    expect(expected.pools).toHaveLength(2);
    expect(expected.schedules).toHaveLength(2);
    expect(expected.batch_job_counts!.length).toBeGreaterThan(0);

    // In this thread (one partition) and in worker threads (several partitions of the streams).
    for (const threads of [0, 1, 3]) {
      const target = path.join(dir, `rebuilt-${threads}.db`);
      let lastProgress = 0;
      const result = await rebuildReadModel(store, target, { threads, onProgress: (position) => (lastProgress = position) });
      expect(result).toMatchObject({ events: store.lastPosition(), jobs: 34, threads, position: store.lastPosition() });
      // Folding threads run below the thread that started them (the writer, the API); none in this thread.
      expect(result.foldPriority).toBe(threads === 0 ? undefined : Math.min(19, os.getPriority() + 10));
      expect(lastProgress).toBe(store.lastPosition());
      expect(fs.readdirSync(dir).filter((f) => f.includes('.part-'))).toEqual([]); // scratch files removed

      // Handed over ready for the live projector: WAL, the same indexes as a fresh read model (the
      // jobs' built after the first copies: same definitions), each holding every row it should. Read
      // as the file was left: opening it as a read model would create a missing index.
      const indexes = (db: Database.Database) =>
        db.prepare("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name").all();
      const asLeft = new Database(target, { readonly: true });
      try {
        expect(asLeft.pragma('journal_mode', { simple: true })).toBe('wal');
        expect(indexes(asLeft)).toEqual(indexes(live));
        expect(asLeft.pragma('integrity_check', { simple: true })).toBe('ok');
      } finally {
        asLeft.close();
      }
      const rebuilt = openReadModelDb(target);
      try {
        expect(dump(rebuilt)).toEqual(expected);
      } finally {
        rebuilt.close();
      }
    }
  });

  it('given job streams that run across the ranges of the partitions, when rebuilt, then the merge carries them on to equal live', async () => {
    // Every job's events are spread over the whole log, so in a parallel rebuild most streams begin
    // in one range and go on in the next ones (their later events are carried to the merge).
    const jobs = Array.from({ length: 24 }, (_, i) => `job_x${i}`);
    jobs.forEach((id, i) => append(id, submitted(`owner-${i % 3}`, i % 4 === 0 ? 'batch_1' : null)));
    appendOtherStreams();
    jobs.forEach((id) => append(id, event('JobStarted', { attempt: 1 })));
    jobs.forEach((id, i) => {
      if (i % 3 === 0) append(id, event('JobPaused', { from: 'running' }, `reason ${i}`));
      if (i % 3 === 1) append(id, event('JobAttemptFailed', { attempt: 1, error: 'x', errorType: 'E', nextRetryAt: at(30) }));
    });
    jobs.forEach((id, i) => {
      if (i % 3 === 0) append(id, event('JobResumed', { to: 'running' }));
      if (i % 6 === 1) append(id, event('JobFailed', { error: 'boom', errorType: 'E', attempt: 2, completedSteps: 0 }));
    });
    jobs.forEach((id, i) => {
      if (i % 5 === 0) append(id, event('JobCancelled', { from: 'running' }, 'enough'));
      else if (i % 6 !== 1) append(id, event('JobCompleted', { completedSteps: 2, totalSteps: 2, result: { i }, attempt: 1 }));
    });
    // Deleted in one range, submitted again (same stream) in a later one; another deleted for good.
    append('job_x0', event('JobDeleted', {}));
    append('job_x5', event('JobDeleted', {}));
    for (let i = 0; i < 12; i++) append(`job_filler_${i}`, submitted('owner-9'));
    append('job_x0', submitted('owner-7', 'batch_1'), event('JobStarted', { attempt: 1 }));
    append('job_x5', event('JobReprioritized', { from: 2, to: 5 })); // of a deleted job: ignored

    new Projector(store, live, readModelProjections()).catchUp();
    const expected = dump(live);
    expect(expected.jobs).toHaveLength(24 - 1 + 12);
    expect(expected.job_throughput!.length).toBeGreaterThan(0);

    for (const threads of [0, 2, 3, 5]) {
      const target = path.join(dir, `across-${threads}.db`);
      const result = await rebuildReadModel(store, target, { threads });
      // One range carries nothing; several must have carried most job streams' later events.
      if (threads <= 1) expect(result.carried).toBe(0);
      else expect(result.carried).toBeGreaterThan(24);
      const rebuilt = openReadModelDb(target);
      try {
        expect(dump(rebuilt)).toEqual(expected);
      } finally {
        rebuilt.close();
      }
    }
  });

  it('given threads, then the ranges folded last (the oldest) are the smallest, so little is left to copy after the last fold', () => {
    expect(rangeWeights(8, 2)).toEqual([0.25, 0.25, 0.5, 0.5, 1, 1, 1, 1]);
    expect(rangeWeights(4, 1)).toEqual([0.25, 0.5, 1, 1]);
    expect(rangeWeights(1, 0)).toEqual([1]); // one range, in this thread
  });

  it('given a rebuild that fails or is aborted, then it rejects and leaves no file behind', async () => {
    for (let i = 0; i < 40; i++) append(`job_f${i}`, submitted('alice'), event('JobStarted', { attempt: 1 }));
    const leftovers = () => fs.readdirSync(dir).filter((f) => f.startsWith('broken') || f.startsWith('aborted'));

    const controller = new AbortController();
    const aborted = rebuildReadModel(store, path.join(dir, 'aborted.db'), {
      threads: 2,
      onProgress: () => controller.abort(), // at the first range folded
      signal: controller.signal,
    });
    await expect(aborted).rejects.toThrow('rebuild aborted');
    expect(leftovers()).toEqual([]);

    // A row no fold can read (written behind the store's back): the folding thread fails, the rest stop.
    const raw = new Database(path.join(dir, 'events.db'));
    raw
      .prepare(
        `INSERT INTO events (stream_id, stream_version, event_id, type, data, metadata, recorded_at)
         VALUES ('job_f3', 3, 'broken-1', 'JobPaused', 'not json', '{}', '2026-01-01T00:00:00.000Z')`,
      )
      .run();
    raw.close();
    for (const threads of [0, 2]) {
      await expect(rebuildReadModel(store, path.join(dir, 'broken.db'), { threads })).rejects.toThrow(/JSON/);
      expect(leftovers()).toEqual([]);
    }
  });

  it('given toPosition, when rebuilt, then it stops there and a projector resumes from its checkpoint to equal live', async () => {
    for (let i = 0; i < 20; i++) append(`job_p${i}`, submitted('alice'), event('JobStarted', { attempt: 1 }));
    const middle = store.lastPosition();
    appendOtherStreams();
    for (let i = 0; i < 20; i++) append(`job_p${i}`, event('JobPaused', { from: 'running' }, 'later'));
    new Projector(store, live, readModelProjections()).catchUp();

    const target = path.join(dir, 'partial.db');
    const result = await rebuildReadModel(store, target, { threads: 2, toPosition: middle });
    expect(result).toMatchObject({ position: middle, jobs: 20, events: middle });
    const rebuilt = openReadModelDb(target);
    try {
      const tail = new Projector(store, rebuilt, readModelProjections());
      expect(tail.checkpoint()).toBe(middle);
      expect(tail.catchUp()).toBe(store.lastPosition() - middle);
      expect(dump(rebuilt)).toEqual(dump(live));
    } finally {
      rebuilt.close();
    }
  });
});
