import Database from 'better-sqlite3';
import { realpathSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { subscribeToAppends } from '../../src/eventstore/appendNotifier.js';
import { createGroupCommitter } from '../../src/eventstore/groupCommit.js';
import {
  ConcurrencyError,
  EventIdConflictError,
  InvalidEventError,
  type AppendResult,
  type EventStore,
  type NewEvent,
} from '../../src/eventstore/index.js';
import { createStoreFixture, createTempDir, newEvent } from './tempEventStore.js';

let fixture: ReturnType<typeof createStoreFixture>;
let store: EventStore;
/** Positions announced by the store: one announcement per committed group that wrote something. */
let announcements: number[];
let unsubscribe: () => void;

const eventIdAt = (position: number): string | undefined =>
  store.readAll({ fromPosition: position - 1, limit: 1 }).find((e) => e.globalPosition === position)?.eventId;

/** Settles every promise and keeps each outcome in call order. */
const settleAll = (calls: Promise<AppendResult>[]) => Promise.allSettled(calls);

// Every behaviour holds the same whether the groups are committed on the calling thread or in the
// append thread (appendThread.ts).
describe.each([{ appendThread: false }, { appendThread: true }])('append thread: $appendThread', ({ appendThread }) => {
  beforeEach(() => {
    fixture = createStoreFixture();
    store = fixture.open({ appendThread });
    announcements = [];
    unsubscribe = subscribeToAppends(realpathSync(fixture.dbPath), (position) => announcements.push(position));
  });

  afterEach(() => {
    unsubscribe();
    fixture.dispose();
  });

  describe('appendToStreamGrouped: concurrent callers share one commit', () => {
    it('N concurrent callers each get exactly their own result, from one commit', async () => {
      const callers = 40;
      const results = await Promise.all(
        Array.from({ length: callers }, (_, i) =>
          store.appendToStreamGrouped(`stream-${i % 7}`, [newEvent(`e${i}-1`), newEvent(`e${i}-2`)]),
        ),
      );

      results.forEach((result, i) => {
        expect(result.appended).toBe(2);
        // The position each caller got is that of its own last event.
        expect(eventIdAt(result.lastGlobalPosition)).toBe(`e${i}-2`);
        expect(eventIdAt(result.lastGlobalPosition - 1)).toBe(`e${i}-1`);
      });
      expect(store.lastPosition()).toBe(callers * 2);
      // One group, one commit: announced once, with the last position.
      expect(announcements).toEqual([callers * 2]);
    });

    it('reports each caller the version its own stream reached after its own events', async () => {
      const results = await Promise.all([
        store.appendToStreamGrouped('a', [newEvent('a1')]),
        store.appendToStreamGrouped('b', [newEvent('b1'), newEvent('b2')]),
        store.appendToStreamGrouped('a', [newEvent('a2'), newEvent('a3')]),
      ]);
      expect(results.map((r) => r.nextExpectedVersion)).toEqual([1, 2, 3]);
    });

    it('calls made after a group resolved form a group of their own', async () => {
      await Promise.all([store.appendToStreamGrouped('a', [newEvent('a1')]), store.appendToStreamGrouped('b', [newEvent('b1')])]);
      await Promise.all([store.appendToStreamGrouped('a', [newEvent('a2')]), store.appendToStreamGrouped('b', [newEvent('b2')])]);
      expect(announcements).toEqual([2, 4]);
    });

    it('splits a long queue into groups of at most maxCallsPerGroup, losing and reordering nothing', async () => {
      const small = fixture.open({ maxCallsPerGroup: 4, appendThread });
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => small.appendToStreamGrouped('s', [newEvent(`s${i}`)])),
      );
      expect(results.map((r) => r.nextExpectedVersion)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(small.readStream('s').map((e) => e.eventId)).toEqual(Array.from({ length: 10 }, (_, i) => `s${i}`));
      expect(announcements).toEqual([4, 8, 10]);
    });

    it('refuses a maxCallsPerGroup below 1', () => {
      expect(() => fixture.open({ maxCallsPerGroup: 0, appendThread })).toThrow(RangeError);
    });

    it('wakes waitForEvents once the group is committed', async () => {
      const woken = store.waitForEvents(0, { timeoutMs: 5000 });
      await store.appendToStreamGrouped('a', [newEvent('a1')]);
      await expect(woken).resolves.toBe(true);
    });

    it('close() commits the calls still queued instead of dropping them', async () => {
      const pending = store.appendToStreamGrouped('a', [newEvent('a1')]);
      store.close();
      await expect(pending).resolves.toMatchObject({ appended: 1, nextExpectedVersion: 1 });
      const reopened = fixture.open({ readonly: true });
      expect(reopened.readStream('a').map((e) => e.eventId)).toEqual(['a1']);
    });
  });

  describe('appendToStreamGrouped: a failing caller fails alone', () => {
    it('a ConcurrencyError, an id conflict and a malformed call reach only their callers; the rest commits gaplessly', async () => {
      store.appendToStream('taken', [newEvent('t1', { v: 1 })]);
      const outcomes = await settleAll([
        store.appendToStreamGrouped('ok-1', [newEvent('ok1')]),
        store.appendToStreamGrouped('taken', [newEvent('late')], { expectedVersion: 0 }),
        // A new event first, then a conflicting one: the savepoint takes back the new one too.
        store.appendToStreamGrouped('mixed', [newEvent('m1'), newEvent('t1', { v: 2 })]),
        store.appendToStreamGrouped('bad', [{ eventId: 'x', type: '', data: {} } as NewEvent]),
        store.appendToStreamGrouped('ok-2', [newEvent('ok2')]),
      ]);

      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected', 'fulfilled']);
      const reason = (i: number) => (outcomes[i] as PromiseRejectedResult).reason;
      expect(reason(1)).toBeInstanceOf(ConcurrencyError);
      expect(reason(1)).toMatchObject({ streamId: 'taken', expected: 0, actual: 1 });
      expect(reason(2)).toBeInstanceOf(EventIdConflictError);
      expect(reason(2)).toMatchObject({ eventId: 't1' });
      expect(reason(3)).toBeInstanceOf(InvalidEventError);

      const value = (i: number) => (outcomes[i] as PromiseFulfilledResult<AppendResult>).value;
      expect(value(0)).toEqual({ nextExpectedVersion: 1, lastGlobalPosition: 2, appended: 1 });
      // Nothing of the failed calls was written, and they burned no position.
      expect(value(4)).toEqual({ nextExpectedVersion: 1, lastGlobalPosition: 3, appended: 1 });
      expect(store.readAll().map((e) => e.eventId)).toEqual(['t1', 'ok1', 'ok2']);
      expect(store.readStream('mixed')).toEqual([]);
      expect(store.readStream('taken').map((e) => e.eventId)).toEqual(['t1']);
    });

    it('an expectedVersion chain inside one group holds, and a broken link fails only itself', async () => {
      const outcomes = await settleAll([
        store.appendToStreamGrouped('s', [newEvent('s1')], { expectedVersion: 'no_stream' }),
        store.appendToStreamGrouped('s', [newEvent('s2')], { expectedVersion: 1 }),
        store.appendToStreamGrouped('s', [newEvent('stale')], { expectedVersion: 1 }),
        store.appendToStreamGrouped('s', [newEvent('s3')], { expectedVersion: 2 }),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      expect(store.readStream('s').map((e) => [e.streamVersion, e.eventId])).toEqual([
        [1, 's1'],
        [2, 's2'],
        [3, 's3'],
      ]);
    });
  });

  describe('appendToStreamGrouped: versions and idempotency', () => {
    it('keeps every stream gapless and in call order when many callers write the same streams at once', async () => {
      const callers = 60;
      await Promise.all(
        Array.from({ length: callers }, (_, i) =>
          store.appendToStreamGrouped(`s${i % 3}`, [newEvent(`c${i}-a`), newEvent(`c${i}-b`), newEvent(`c${i}-c`)]),
        ),
      );
      for (const stream of ['s0', 's1', 's2']) {
        const events = store.readStream(stream);
        expect(events.map((e) => e.streamVersion)).toEqual(Array.from({ length: events.length }, (_, v) => v + 1));
        expect(events).toHaveLength((callers / 3) * 3);
        const callOrder = events.filter((_, v) => v % 3 === 0).map((e) => Number(/^c(\d+)-a$/.exec(e.eventId)![1]));
        expect(callOrder).toEqual([...callOrder].sort((x, y) => x - y));
      }
      const positions = store.readAll({ limit: 1000 }).map((e) => e.globalPosition);
      expect(positions).toEqual(Array.from({ length: callers * 3 }, (_, p) => p + 1));
    });

    it('a re-send in a later group writes nothing and reports the first outcome', async () => {
      const first = await store.appendToStreamGrouped('s', [newEvent('s1'), newEvent('s2')], { expectedVersion: 'no_stream' });
      const again = await store.appendToStreamGrouped('s', [newEvent('s1'), newEvent('s2')], { expectedVersion: 'no_stream' });
      expect(again).toEqual({ nextExpectedVersion: 2, lastGlobalPosition: first.lastGlobalPosition, appended: 0 });
      expect(store.lastPosition()).toBe(2);
      expect(announcements).toEqual([2]);
    });

    it('the same ids sent by two callers of one group are written once; the second caller gets the first one\u2019s positions', async () => {
      const [first, second] = await Promise.all([
        store.appendToStreamGrouped('s', [newEvent('d1'), newEvent('d2')]),
        store.appendToStreamGrouped('s', [newEvent('d1'), newEvent('d2')]),
      ]);
      expect(first).toEqual({ nextExpectedVersion: 2, lastGlobalPosition: 2, appended: 2 });
      expect(second).toEqual({ nextExpectedVersion: 2, lastGlobalPosition: 2, appended: 0 });
      expect(store.readStream('s').map((e) => e.eventId)).toEqual(['d1', 'd2']);
    });

    it('ids appended synchronously are recognised by grouped calls, and the other way round', async () => {
      store.appendToStream('s', [newEvent('sync1')]);
      await expect(store.appendToStreamGrouped('s', [newEvent('sync1')])).resolves.toMatchObject({
        appended: 0,
        lastGlobalPosition: 1,
      });
      await store.appendToStreamGrouped('s', [newEvent('grouped1')]);
      expect(store.appendToStream('s', [newEvent('grouped1')])).toMatchObject({ appended: 0, lastGlobalPosition: 2 });
    });

    it("passes duplicates: 'same-type' through: the first write wins across groups; the default still reports the conflict", async () => {
      await store.appendToStreamGrouped('job', [newEvent('job:started', { at: '10:00:00' }, 'JobStarted')]);
      const rederived = await store.appendToStreamGrouped('job', [newEvent('job:started', { at: '10:00:07' }, 'JobStarted')], {
        duplicates: 'same-type',
      });
      expect(rederived).toEqual({ nextExpectedVersion: 1, lastGlobalPosition: 1, appended: 0 });
      expect(store.readStream('job').map((e) => e.data)).toEqual([{ at: '10:00:00' }]);

      const outcomes = await settleAll([
        store.appendToStreamGrouped('job', [newEvent('job:started', { at: '10:00:09' }, 'JobStarted')]),
        store.appendToStreamGrouped('job', [newEvent('job:started', { at: '10:00:00' }, 'JobCompleted')], {
          duplicates: 'same-type',
        }),
        store.appendToStreamGrouped('job', [newEvent('job:done', {}, 'JobCompleted')], { duplicates: 'same-type' }),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
      expect((outcomes[0] as PromiseRejectedResult).reason).toBeInstanceOf(EventIdConflictError);
      expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(EventIdConflictError);
      expect(store.readStream('job').map((e) => e.eventId)).toEqual(['job:started', 'job:done']);
    });
  });
});

describe('createGroupCommitter', () => {
  it('an error that is not the call\u2019s own (I/O, SQLite) fails the whole group and commits nothing of it', async () => {
    const temp = createTempDir();
    const db = new Database(temp.dbPath);
    try {
      db.exec('CREATE TABLE rows (stream TEXT NOT NULL)');
      const insert = db.prepare('INSERT INTO rows (stream) VALUES (?)');
      const committed: number[] = [];
      const committer = createGroupCommitter(
        db,
        (streamId) => {
          if (streamId === 'disk-error') throw new Error('SQLITE_IOERR: disk I/O error');
          insert.run(streamId);
          return { nextExpectedVersion: 1, lastGlobalPosition: 1, appended: 1 };
        },
        (position) => committed.push(position),
        100,
      );
      const outcomes = await settleAll([
        committer.append('a', [], 'any', 'same-data'),
        committer.append('disk-error', [], 'any', 'same-data'),
        committer.append('b', [], 'any', 'same-data'),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
      for (const outcome of outcomes) expect((outcome as PromiseRejectedResult).reason.message).toMatch(/SQLITE_IOERR/);
      expect(db.prepare('SELECT count(*) FROM rows').pluck().get()).toBe(0);
      expect(committed).toEqual([]);
      expect(db.inTransaction).toBe(false);
      // The committer goes on with the next group.
      await expect(committer.append('c', [], 'any', 'same-data')).resolves.toMatchObject({ appended: 1 });
      expect(db.prepare('SELECT stream FROM rows').pluck().all()).toEqual(['c']);
    } finally {
      db.close();
      temp.cleanup();
    }
  });
});

describe('the append thread', () => {
  /** A second connection on this thread that holds the store's write lock until released. */
  const holdWriteLock = (dbPath: string) => {
    const blocker = new Database(dbPath);
    blocker.exec('BEGIN IMMEDIATE');
    return {
      release: () => {
        if (!blocker.open) return;
        blocker.exec('COMMIT');
        blocker.close();
      },
    };
  };

  /**
   * A store of its own that commits in its append thread (one group already committed, so the thread
   * is up), and a second connection on this thread holding the write lock until released.
   */
  const threadStoreWithLock = async (busyTimeoutMs: number) => {
    const own = createStoreFixture();
    disposers.push(() => own.dispose());
    const threaded = own.open({ appendThread: true, busyTimeoutMs });
    await threaded.appendToStreamGrouped('warm-up', [newEvent('w1')]);
    const lock = holdWriteLock(own.dbPath);
    disposers.unshift(lock.release);
    return { fixture: own, store: threaded, lock };
  };
  const disposers: (() => void)[] = [];
  afterEach(() => {
    for (const dispose of disposers.splice(0)) dispose();
  });

  it('commits off the calling thread: this thread runs on while the commit waits for the write lock', async () => {
    const { store, lock } = await threadStoreWithLock(3000);
    const pending = store.appendToStreamGrouped('s', [newEvent('s1')]);
    // On the calling thread the commit would block this thread in the busy wait, so the timer
    // that releases the lock could not run before the busy timeout failed the append.
    setTimeout(lock.release, 100);
    await expect(pending).resolves.toMatchObject({ appended: 1, lastGlobalPosition: 2 });
    expect(store.readStream('s').map((e) => e.eventId)).toEqual(['s1']);
  });

  it('an error of the whole group (a busy timeout) reaches every caller as SQLite\u2019s error, with its code; the next group commits', async () => {
    const { store, lock } = await threadStoreWithLock(50);
    const outcomes = await settleAll([
      store.appendToStreamGrouped('a', [newEvent('a1')]),
      store.appendToStreamGrouped('b', [newEvent('b1')]),
    ]);
    lock.release();
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(Database.SqliteError);
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_BUSY' });
    }
    await expect(store.appendToStreamGrouped('a', [newEvent('a1')])).resolves.toMatchObject({ appended: 1 });
    expect(store.readAll().map((e) => e.eventId)).toEqual(['w1', 'a1']);
  });

  it('close() waits for the group the thread is committing, then commits what is still queued', async () => {
    const { fixture, store, lock } = await threadStoreWithLock(3000);
    const inFlight = store.appendToStreamGrouped('a', [newEvent('a1')]);
    // One turn later the group is in the thread, waiting for the lock.
    await new Promise((resolve) => setImmediate(resolve));
    const queued = store.appendToStreamGrouped('b', [newEvent('b1')]);
    // No timer runs while close() blocks, so the lock is released now: the thread is still in its
    // busy wait (SQLite sleeps between tries) when close() starts waiting for it.
    lock.release();
    store.close();
    await expect(inFlight).resolves.toMatchObject({ appended: 1, lastGlobalPosition: 2 });
    await expect(queued).resolves.toMatchObject({ appended: 1, lastGlobalPosition: 3 });
    const reopened = fixture.open({ readonly: true });
    expect(reopened.readAll().map((e) => e.eventId)).toEqual(['w1', 'a1', 'b1']);
    // A call after close() fails, as on a closed store without the thread.
    await expect(store.appendToStreamGrouped('c', [newEvent('c1')])).rejects.toThrow(/not open/);
  });
});
