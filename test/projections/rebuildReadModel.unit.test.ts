import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEventStore, type EventStore, type NewEvent } from '../../src/eventstore/index.js';
import { openReadModelDb, type ReadModelDb } from '../../src/projections/readModelDb.js';
import { Projector } from '../../src/projections/projector.js';
import { readModelProjections } from '../../src/projections/readModelProjections.js';
import { rebuildReadModel } from '../../src/projections/rebuildReadModel.js';

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

const dump = (db: ReadModelDb) => ({
  jobs: db.prepare('SELECT * FROM jobs ORDER BY id').all(),
  counts: db.prepare('SELECT * FROM job_counts ORDER BY owner, status').all(),
  batchCounts: db.prepare('SELECT * FROM batch_job_counts ORDER BY batch_id, status').all(),
  checkpoint: db.prepare('SELECT * FROM projection_checkpoints').all(),
  throughput: db.prepare('SELECT * FROM job_throughput ORDER BY minute, owner').all(),
});

describe('rebuildReadModel', () => {
  it('given a mixed log, when rebuilt, then it equals the live projection row by row (in-place fold = pure fold)', () => {
    // Interleaved streams: every kind of change, a retry, a delete, a pause with a reason, a batch.
    const append = (stream: string, ...events: NewEvent[]) => store.appendToStream(stream, events);
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

    const projector = new Projector(store, live, readModelProjections());
    expect(projector.catchUp()).toBe(store.lastPosition());

    const target = path.join(dir, 'rebuilt.db');
    let lastProgress = 0;
    const result = rebuildReadModel(store, target, (position) => (lastProgress = position));
    expect(result).toMatchObject({ events: store.lastPosition(), jobs: 4 });
    expect(lastProgress).toBe(store.lastPosition());

    const rebuilt = openReadModelDb(target);
    try {
      const expected = dump(live);
      expect(expected.jobs).toHaveLength(4); // job_d is gone
      // Counted at each event's time, for the job's owner; the deleted job_d's history stays.
      const total = (key: string) => (expected.throughput as Record<string, number>[]).reduce((a, r) => a + r[key]!, 0);
      expect([total('submitted'), total('completed'), total('failed'), total('cancelled')]).toEqual([5, 1, 1, 1]);
      expect([total('retried'), total('terminated')]).toEqual([1, 1]);
      expect(dump(rebuilt)).toEqual(expected);
      // Handed over ready for the live projector: WAL, same indexes as a fresh read model.
      expect(rebuilt.pragma('journal_mode', { simple: true })).toBe('wal');
      const indexes = (db: ReadModelDb) =>
        db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name").pluck().all();
      expect(indexes(rebuilt)).toEqual(indexes(live));
    } finally {
      rebuilt.close();
    }
  });
});
