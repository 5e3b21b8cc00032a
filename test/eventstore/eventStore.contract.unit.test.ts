import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ConcurrencyError,
  EventIdConflictError,
  InvalidEventError,
  deterministicEventId,
  type EventMetadata,
  type EventStore,
  type NewEvent,
  type ScannedEvent,
} from '../../src/eventstore/index.js';
import { createStoreFixture, newEvent } from './tempEventStore.js';

let fixture: ReturnType<typeof createStoreFixture>;
let store: EventStore;

beforeEach(() => {
  fixture = createStoreFixture();
  store = fixture.open();
});

afterEach(() => fixture.dispose());

const countRows = (): number => {
  const db = new Database(fixture.dbPath, { readonly: true });
  try {
    return db.prepare<[], number>('SELECT count(*) FROM events').pluck().get()!;
  } finally {
    db.close();
  }
};

const isoUtc = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('schema and connection', () => {
  it('uses WAL and keeps the events of a reopened file', () => {
    store.appendToStream('s', [newEvent('e1')]);
    store.close();
    const reopened = fixture.open();
    expect(reopened.readStream('s').map((e) => e.eventId)).toEqual(['e1']);
    const db = new Database(fixture.dbPath);
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      db.close();
    }
  });

  it('starts empty', () => {
    expect(store.lastPosition()).toBe(0);
    expect(store.streamVersion('nothing')).toBe(0);
    expect(store.readStream('nothing')).toEqual([]);
    expect(store.readAll()).toEqual([]);
  });

  it('exposes the path it was opened with', () => {
    expect(store.path).toBe(fixture.dbPath);
  });

  it('a read-only store reads but refuses to append', () => {
    store.appendToStream('s', [newEvent('e1')]);
    const reader = fixture.open({ readonly: true });
    expect(reader.readAll().map((e) => e.eventId)).toEqual(['e1']);
    expect(() => reader.appendToStream('s', [newEvent('e2')])).toThrow(/readonly/i);
    expect(store.lastPosition()).toBe(1);
  });
});

describe('appendToStream / readStream', () => {
  it('records every field and reads it back', () => {
    const before = Date.now();
    const result = store.appendToStream('order-1', [
      { eventId: 'a', type: 'OrderPlaced', data: { amount: 42, items: [{ sku: 'x', qty: 2 }], note: null } },
    ]);
    expect(result).toEqual({ nextExpectedVersion: 1, lastGlobalPosition: 1, appended: 1 });

    const [event, ...rest] = store.readStream('order-1');
    expect(rest).toEqual([]);
    expect(event).toMatchObject({
      globalPosition: 1,
      streamId: 'order-1',
      streamVersion: 1,
      eventId: 'a',
      type: 'OrderPlaced',
      data: { amount: 42, items: [{ sku: 'x', qty: 2 }], note: null },
      metadata: {},
    });
    expect(event!.recordedAt).toMatch(isoUtc);
    expect(Date.parse(event!.recordedAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(event!.recordedAt)).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('numbers stream versions from 1, gapless across calls, each stream on its own', () => {
    store.appendToStream('a', [newEvent('a1'), newEvent('a2')]);
    store.appendToStream('b', [newEvent('b1')]);
    const third = store.appendToStream('a', [newEvent('a3'), newEvent('a4'), newEvent('a5')]);

    expect(third.nextExpectedVersion).toBe(5);
    expect(third.appended).toBe(3);
    expect(store.readStream('a').map((e) => e.streamVersion)).toEqual([1, 2, 3, 4, 5]);
    expect(store.readStream('a').map((e) => e.eventId)).toEqual(['a1', 'a2', 'a3', 'a4', 'a5']);
    expect(store.readStream('b').map((e) => e.streamVersion)).toEqual([1]);
    expect(store.streamVersion('a')).toBe(5);
    expect(store.streamVersion('b')).toBe(1);
  });

  it('gives a batch consecutive global positions and reports the last one', () => {
    store.appendToStream('x', [newEvent('x1')]);
    const result = store.appendToStream('y', [newEvent('y1'), newEvent('y2'), newEvent('y3')]);
    expect(result.lastGlobalPosition).toBe(4);
    expect(store.readStream('y').map((e) => e.globalPosition)).toEqual([2, 3, 4]);
    expect(store.lastPosition()).toBe(4);
  });

  it('round-trips metadata, standard and custom keys; missing metadata reads as {}', () => {
    const metadata = { actor: 'alice', reason: 'retry', causationId: 'c-1', correlationId: 'r-1', attempt: 3, tags: ['a'] };
    store.appendToStream('m', [{ ...newEvent('m1'), metadata }, newEvent('m2')]);
    const [first, second] = store.readStream('m');
    expect(first!.metadata).toEqual(metadata);
    expect(second!.metadata).toEqual({});
  });

  it('readStream honours fromVersion (inclusive) and maxCount', () => {
    store.appendToStream(
      's',
      ['1', '2', '3', '4', '5', '6'].map((id) => newEvent(`s${id}`)),
    );
    expect(store.readStream('s', { fromVersion: 3 }).map((e) => e.streamVersion)).toEqual([3, 4, 5, 6]);
    expect(store.readStream('s', { maxCount: 2 }).map((e) => e.streamVersion)).toEqual([1, 2]);
    expect(store.readStream('s', { fromVersion: 4, maxCount: 2 }).map((e) => e.streamVersion)).toEqual([4, 5]);
    expect(store.readStream('s', { fromVersion: 7 })).toEqual([]);
    expect(store.readStream('other')).toEqual([]);
  });

  it('readLastOfType gives the newest event of a type in the stream, as readStream has it', () => {
    store.appendToStream('s', [newEvent('a1', { n: 1 }, 'A'), newEvent('b1', { n: 2 }, 'B'), newEvent('a2', { n: 3 }, 'A')]);
    store.appendToStream('t', [newEvent('a3', { n: 4 }, 'A')]);
    store.appendToStream('s', [newEvent('b2', { n: 5 }, 'B')]);
    expect(store.readLastOfType('s', 'A')).toEqual(store.readStream('s')[2]);
    expect(store.readLastOfType('s', 'B')?.data).toEqual({ n: 5 });
    expect(store.readLastOfType('t', 'A')?.eventId).toBe('a3');
    expect(store.readLastOfType('s', 'C')).toBeUndefined();
    expect(store.readLastOfType('other', 'A')).toBeUndefined();
  });
});

describe('expectedVersion', () => {
  it("defaults to 'any'", () => {
    store.appendToStream('s', [newEvent('e1')]);
    expect(store.appendToStream('s', [newEvent('e2')]).nextExpectedVersion).toBe(2);
  });

  it('accepts the current version and rejects any other with a ConcurrencyError, writing nothing', () => {
    store.appendToStream('s', [newEvent('e1'), newEvent('e2')]);
    expect(store.appendToStream('s', [newEvent('e3')], { expectedVersion: 2 }).nextExpectedVersion).toBe(3);

    const attempt = () => store.appendToStream('s', [newEvent('e4'), newEvent('e5')], { expectedVersion: 2 });
    expect(attempt).toThrow(ConcurrencyError);
    try {
      attempt();
    } catch (error) {
      expect(error).toBeInstanceOf(Error);
      expect(error).toMatchObject({ name: 'ConcurrencyError', streamId: 's', expected: 2, actual: 3 });
    }
    expect(store.streamVersion('s')).toBe(3);
    expect(countRows()).toBe(3);
  });

  it('0 means an empty stream', () => {
    expect(store.appendToStream('s', [newEvent('e1')], { expectedVersion: 0 }).appended).toBe(1);
    expect(() => store.appendToStream('s', [newEvent('e2')], { expectedVersion: 0 })).toThrow(ConcurrencyError);
  });

  it("'no_stream' succeeds on a new stream only", () => {
    expect(store.appendToStream('s', [newEvent('e1')], { expectedVersion: 'no_stream' }).nextExpectedVersion).toBe(1);
    let caught: unknown;
    try {
      store.appendToStream('s', [newEvent('e2')], { expectedVersion: 'no_stream' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConcurrencyError);
    expect(caught).toMatchObject({ streamId: 's', expected: 'no_stream', actual: 1 });
    expect(store.readStream('s').map((e) => e.eventId)).toEqual(['e1']);
  });

  it("'any' appends whatever the version", () => {
    store.appendToStream('s', [newEvent('e1')], { expectedVersion: 'any' });
    store.appendToStream('s', [newEvent('e2')], { expectedVersion: 'any' });
    expect(store.streamVersion('s')).toBe(2);
  });

  it('is checked against the stream, not the store', () => {
    store.appendToStream('other', [newEvent('o1'), newEvent('o2')]);
    expect(store.appendToStream('s', [newEvent('e1')], { expectedVersion: 'no_stream' }).nextExpectedVersion).toBe(1);
  });
});

describe('idempotency', () => {
  const call: NewEvent[] = [newEvent('r1', { step: 1 }), newEvent('r2', { step: 2 })];

  it('a retried call writes nothing and reports the first outcome', () => {
    const first = store.appendToStream('s', call, { expectedVersion: 'no_stream' });
    const retry = store.appendToStream('s', call, { expectedVersion: 'no_stream' });
    expect(retry).toEqual({
      nextExpectedVersion: first.nextExpectedVersion,
      lastGlobalPosition: first.lastGlobalPosition,
      appended: 0,
    });
    expect(countRows()).toBe(2);
    expect(store.lastPosition()).toBe(2);
  });

  it('a retry with a stale numeric expectedVersion succeeds, even after the stream moved on', () => {
    store.appendToStream('s', [newEvent('e1')]);
    const first = store.appendToStream('s', call, { expectedVersion: 1 });
    store.appendToStream('s', [newEvent('later')]);
    const retry = store.appendToStream('s', call, { expectedVersion: 1 });
    expect(retry).toEqual({ nextExpectedVersion: 4, lastGlobalPosition: first.lastGlobalPosition, appended: 0 });
    expect(countRows()).toBe(4);
  });

  it('compares data as canonical JSON: the same payload with keys in another order is a duplicate', () => {
    store.appendToStream('s', [newEvent('k', { a: 1, nested: { x: [1, { p: 1, q: 2 }], y: 'z' } })]);
    const retry = store.appendToStream('s', [newEvent('k', { nested: { y: 'z', x: [1, { q: 2, p: 1 }] }, a: 1 })]);
    expect(retry.appended).toBe(0);
    expect(countRows()).toBe(1);
  });

  it('ignores metadata when recognising a re-send', () => {
    store.appendToStream('s', [{ ...newEvent('k'), metadata: { actor: 'first' } }]);
    expect(store.appendToStream('s', [{ ...newEvent('k'), metadata: { actor: 'second' } }]).appended).toBe(0);
    expect(store.readStream('s')[0]!.metadata).toEqual({ actor: 'first' });
  });

  it('a call mixing duplicates and new events appends only the new ones, gaplessly', () => {
    store.appendToStream('s', [newEvent('e1'), newEvent('e2')]);
    const result = store.appendToStream('s', [newEvent('e2'), newEvent('e3'), newEvent('e1'), newEvent('e4')], {
      expectedVersion: 2,
    });
    // The caller learns which of its events the store had: up to index 2 (e1).
    expect(result).toEqual({ nextExpectedVersion: 4, lastGlobalPosition: 4, appended: 2, lastDuplicateIndex: 2 });
    expect(store.readStream('s').map((e) => [e.streamVersion, e.eventId])).toEqual([
      [1, 'e1'],
      [2, 'e2'],
      [3, 'e3'],
      [4, 'e4'],
    ]);
  });

  it("a call whose first event was recorded ahead (the command side's JobSubmitted) says only that one was stored", () => {
    store.appendToStream('s', [newEvent('submitted')]);
    const result = store.appendToStream('s', [newEvent('submitted'), newEvent('queued'), newEvent('started')]);
    expect(result).toEqual({ nextExpectedVersion: 3, lastGlobalPosition: 3, appended: 2, lastDuplicateIndex: 0 });
    // Nothing mixed, nothing to tell: all new, or all stored already.
    expect(store.appendToStream('s', [newEvent('completed')])).not.toHaveProperty('lastDuplicateIndex');
    expect(store.appendToStream('s', [newEvent('queued'), newEvent('started')])).not.toHaveProperty('lastDuplicateIndex');
  });

  it('a call mixing duplicates and new events still checks expectedVersion', () => {
    store.appendToStream('s', [newEvent('e1'), newEvent('e2')]);
    expect(() => store.appendToStream('s', [newEvent('e2'), newEvent('e3')], { expectedVersion: 1 })).toThrow(ConcurrencyError);
    expect(countRows()).toBe(2);
  });

  it('the same id twice in one call is written once', () => {
    const result = store.appendToStream('s', [newEvent('d', { v: 1 }), newEvent('d', { v: 1 }), newEvent('e', { v: 2 })]);
    expect(result).toMatchObject({ appended: 2, nextExpectedVersion: 2 });
    expect(store.readStream('s').map((e) => e.eventId)).toEqual(['d', 'e']);
  });
});

describe('event id conflicts', () => {
  beforeEach(() => {
    store.appendToStream('s', [newEvent('taken', { v: 1 }, 'Original')]);
  });

  const expectConflict = (attempt: () => unknown) => {
    let caught: unknown;
    try {
      attempt();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(EventIdConflictError);
    expect(caught).toMatchObject({ name: 'EventIdConflictError', eventId: 'taken' });
  };

  it('rejects the same id with other data', () => {
    expectConflict(() => store.appendToStream('s', [newEvent('taken', { v: 2 }, 'Original')]));
  });

  it('rejects the same id with another type', () => {
    expectConflict(() => store.appendToStream('s', [newEvent('taken', { v: 1 }, 'Other')]));
  });

  it('rejects the same id in another stream', () => {
    expectConflict(() => store.appendToStream('elsewhere', [newEvent('taken', { v: 1 }, 'Original')]));
    expect(store.streamVersion('elsewhere')).toBe(0);
  });

  it('writes nothing of a call that holds one new event and one conflicting event, in either order', () => {
    expectConflict(() => store.appendToStream('s', [newEvent('fresh-1'), newEvent('taken', { v: 2 }, 'Original')]));
    expectConflict(() => store.appendToStream('s', [newEvent('taken', { v: 2 }, 'Original'), newEvent('fresh-2')]));
    expect(countRows()).toBe(1);
    expect(store.streamVersion('s')).toBe(1);
    expect(store.readAll().map((e) => e.eventId)).toEqual(['taken']);
  });

  it('reports the conflict even when the expectedVersion is also wrong', () => {
    expectConflict(() =>
      store.appendToStream('s', [newEvent('taken', { v: 2 }, 'Original'), newEvent('fresh')], { expectedVersion: 7 }),
    );
  });

  it('rejects the same id twice in one call with different data, writing nothing', () => {
    expect(() => store.appendToStream('t', [newEvent('twice', { v: 1 }), newEvent('twice', { v: 2 })])).toThrow(
      EventIdConflictError,
    );
    expect(store.streamVersion('t')).toBe(0);
    expect(countRows()).toBe(1);
  });

  describe("with duplicates: 'same-type' (a fact re-derived with another clock)", () => {
    it('takes the same id and type with other data as a no-op: the first write wins', () => {
      const result = store.appendToStream('s', [newEvent('taken', { v: 2 }, 'Original'), newEvent('next', { v: 3 })], {
        duplicates: 'same-type',
      });
      expect(result).toMatchObject({ appended: 1, nextExpectedVersion: 2 });
      expect(store.readStream('s').map((e) => [e.eventId, e.data.v])).toEqual([
        ['taken', 1],
        ['next', 3],
      ]);
    });

    it('still rejects the same id with another type or in another stream, writing nothing', () => {
      expectConflict(() =>
        store.appendToStream('s', [newEvent('fresh'), newEvent('taken', { v: 1 }, 'Other')], { duplicates: 'same-type' }),
      );
      expectConflict(() =>
        store.appendToStream('elsewhere', [newEvent('taken', { v: 1 }, 'Original')], { duplicates: 'same-type' }),
      );
      expect(countRows()).toBe(1);
    });
  });
});

describe('validation', () => {
  const invalidCalls: [string, () => unknown][] = [
    ['empty stream id', () => store.appendToStream('', [newEvent('e')])],
    ['empty events array', () => store.appendToStream('s', [])],
    ['events not an array', () => store.appendToStream('s', undefined as unknown as NewEvent[])],
    ['missing eventId', () => store.appendToStream('s', [{ type: 'T', data: {} } as unknown as NewEvent])],
    ['empty eventId', () => store.appendToStream('s', [{ eventId: '', type: 'T', data: {} }])],
    ['missing type', () => store.appendToStream('s', [{ eventId: 'e', data: {} } as unknown as NewEvent])],
    ['missing data', () => store.appendToStream('s', [{ eventId: 'e', type: 'T' } as unknown as NewEvent])],
    ['non-object metadata', () => store.appendToStream('s', [{ ...newEvent('e'), metadata: 'x' as unknown as EventMetadata }])],
    ['negative expectedVersion', () => store.appendToStream('s', [newEvent('e')], { expectedVersion: -1 })],
    ['unknown expectedVersion', () => store.appendToStream('s', [newEvent('e')], { expectedVersion: 'stream_exists' as 'any' })],
    ['data that is not JSON', () => store.appendToStream('s', [newEvent('e', { big: 1n })])],
  ];

  it.each(invalidCalls)('rejects %s with an InvalidEventError (a TypeError) and writes nothing', (_, call) => {
    expect(call).toThrow(InvalidEventError);
    expect(call).toThrow(TypeError);
    expect(countRows()).toBe(0);
  });

  it('rejects a whole call when only its second event is malformed', () => {
    expect(() => store.appendToStream('s', [newEvent('ok'), { eventId: 'bad' } as unknown as NewEvent])).toThrow(/bad.*type/);
    expect(countRows()).toBe(0);
  });
});

describe('readEvent', () => {
  it('finds an event by its id with its stream, version and data; undefined for an id never recorded', () => {
    store.appendToStream('a', [newEvent('a1'), newEvent('a2', { n: 2 })]);
    store.appendToStream('b', [newEvent('b1')]);
    expect(store.readEvent('a2')).toMatchObject({
      streamId: 'a',
      streamVersion: 2,
      eventId: 'a2',
      type: 'TestEvent',
      data: { n: 2 },
    });
    expect(store.readEvent('a2')).toEqual(store.readStream('a')[1]);
    expect(store.readEvent('b1')!.globalPosition).toBe(3);
    expect(store.readEvent('nothing')).toBeUndefined();
  });

  it('answers the first write of an id re-sent with other data under the same-type policy', async () => {
    store.appendToStream('a', [newEvent('x', { first: true })]);
    const again = await store.appendToStreamGrouped('a', [newEvent('x', { first: false })], { duplicates: 'same-type' });
    expect(again.appended).toBe(0);
    expect(store.readEvent('x')!.data).toEqual({ first: true });
  });
});

describe('readAll', () => {
  beforeEach(() => {
    store.appendToStream('a', [newEvent('a1'), newEvent('a2')]);
    store.appendToStream('b', [newEvent('b1')]);
    store.appendToStream('a', [newEvent('a3')]);
    store.appendToStream('c', [newEvent('c1'), newEvent('c2')]);
  });

  it('returns every stream interleaved in ascending position order', () => {
    const all = store.readAll();
    expect(all.map((e) => e.eventId)).toEqual(['a1', 'a2', 'b1', 'a3', 'c1', 'c2']);
    expect(all.map((e) => e.globalPosition)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('treats fromPosition as exclusive (the last position already seen)', () => {
    expect(store.readAll({ fromPosition: 3 }).map((e) => e.globalPosition)).toEqual([4, 5, 6]);
    expect(store.readAll({ fromPosition: 6 })).toEqual([]);
  });

  it('honours limit, so a reader can page through by its last position', () => {
    const pages: string[][] = [];
    let position = 0;
    for (;;) {
      const page = store.readAll({ fromPosition: position, limit: 4 });
      if (page.length === 0) break;
      pages.push(page.map((e) => e.eventId));
      position = page[page.length - 1]!.globalPosition;
    }
    expect(pages).toEqual([
      ['a1', 'a2', 'b1', 'a3'],
      ['c1', 'c2'],
    ]);
  });

  it('returns at most 1000 events by default', () => {
    const events = Array.from({ length: 1100 }, (_, i) => newEvent(deterministicEventId('bulk', i)));
    store.appendToStream('bulk', events);
    const page = store.readAll();
    expect(page).toHaveLength(1000);
    expect(page[999]!.globalPosition).toBe(1000);
  });
});

describe('scanAll', () => {
  beforeEach(() => {
    store.appendToStream('a', [newEvent('a1'), newEvent('a2')]);
    store.appendToStream('b', [{ ...newEvent('b1'), metadata: { actor: 'user:bob', reason: 'why not' } }]);
    store.appendToStream('a', [newEvent('a3')]);
  });

  it('yields what readAll returns, without event ids, in position order', () => {
    const scanned = [...store.scanAll()];
    const read = store.readAll().map(({ eventId: _id, ...rest }) => rest);
    expect(scanned.map((e) => ({ ...e, metadata: e.metadata }))).toEqual(read);
    expect(scanned.map((e) => e.globalPosition)).toEqual([1, 2, 3, 4]);
    expect(scanned[2]!.metadata).toEqual({ actor: 'user:bob', reason: 'why not' });
  });

  it('takes an exclusive lower and an inclusive upper bound', () => {
    expect([...store.scanAll({ fromPosition: 1, toPosition: 3 })].map((e) => e.globalPosition)).toEqual([2, 3]);
    expect([...store.scanAll({ fromPosition: 4 })]).toEqual([]);
  });

  it('two scans may overlap, and the store still appends while one is open', () => {
    const outer = store.scanAll();
    expect(outer.next().value?.globalPosition).toBe(1);
    expect([...store.scanAll()].length).toBe(4);
    store.appendToStream('c', [newEvent('c1')]);
    // The open scan reads one snapshot: the new event is not part of it.
    expect([...outer].map((e) => e.globalPosition)).toEqual([2, 3, 4]);
    expect([...store.scanAll({ fromPosition: 4 })].map((e) => e.globalPosition)).toEqual([5]);
  });

  it('given thousands of events (many pages), then it reads them all in order, from one snapshot', () => {
    for (let s = 0; s < 50; s++)
      store.appendToStream(
        `bulk_${s}`,
        Array.from({ length: 100 }, (_, i) => newEvent(deterministicEventId(`bulk_${s}`, i))),
      );
    const last = store.lastPosition(); // 4 + 5,000
    const scan = store.scanAll({ fromPosition: 2 });
    const first = [scan.next().value!.globalPosition, scan.next().value!.globalPosition];
    store.appendToStream('late', [newEvent('late1')]);
    const positions = [...first, ...[...scan].map((e) => e.globalPosition)];
    expect(positions).toEqual(Array.from({ length: last - 2 }, (_, i) => i + 3));
    // A range (as a rebuild's partition reads it): after fromPosition, up to toPosition, across pages.
    const range = [...store.scanAll({ fromPosition: 100, toPosition: 4500 })].map((e) => e.globalPosition);
    expect(range).toEqual(Array.from({ length: 4400 }, (_, i) => i + 101));
  });

  it('given lazy metadata, then a scan reads the same events', () => {
    for (let i = 0; i < 20; i++) store.appendToStream(`job_${i}`, [newEvent(`j${i}a`), newEvent(`j${i}b`)]);
    const all = [...store.scanAll()];
    const lazily = [...store.scanAll({ lazyMetadata: true })].map((e) => ({ ...e, metadata: e.metadata }));
    expect(lazily).toEqual(all.map((e) => ({ ...e, metadata: e.metadata })));
    // Some types' metadata read with the row, the rest looked up: the same events either way.
    const mixed = [...store.scanAll({ lazyMetadata: true, metadataWithTypes: [all[0]!.type, "it's"] })];
    expect(mixed.map((e) => ({ ...e, metadata: e.metadata }))).toEqual(all.map((e) => ({ ...e, metadata: e.metadata })));
  });

  it('given lazy recordedAt, then a scan reads the same events, each recordedAt looked up when asked for', () => {
    for (let i = 0; i < 20; i++) store.appendToStream(`job_${i}`, [newEvent(`j${i}a`), newEvent(`j${i}b`)]);
    const plain = (e: ScannedEvent) => ({ ...e, metadata: e.metadata, recordedAt: e.recordedAt });
    const all = [...store.scanAll()].map(plain);
    expect(all.every((e) => typeof e.recordedAt === 'string' && e.recordedAt.length > 0)).toBe(true);
    const lazily = [...store.scanAll({ lazyRecordedAt: true, lazyMetadata: true, metadataWithTypes: [all[0]!.type] })];
    // Not read with the row: a getter, not an own field (a spread skips it) …
    expect(Object.keys(lazily[0]!)).not.toContain('recordedAt');
    // … and still the event's own time when asked for, also after the scan has ended.
    expect(lazily.map(plain)).toEqual(all);
  });
});

describe('global positions', () => {
  it('are never reused, even after the newest rows are deleted', () => {
    store.appendToStream('s', [newEvent('e1'), newEvent('e2'), newEvent('e3')]);
    const db = new Database(fixture.dbPath);
    try {
      db.prepare('DELETE FROM events WHERE global_position >= 2').run();
    } finally {
      db.close();
    }
    const result = store.appendToStream('t', [newEvent('e4')]);
    expect(result.lastGlobalPosition).toBe(4);
    expect(store.readAll().map((e) => e.globalPosition)).toEqual([1, 4]);
  });

  it('are not consumed by skipped duplicates', () => {
    store.appendToStream('s', [newEvent('e1'), newEvent('e2')]);
    store.appendToStream('s', [newEvent('e1'), newEvent('e2')]);
    store.appendToStream('s', [newEvent('e2'), newEvent('e3'), newEvent('e1')]);
    expect(store.readAll().map((e) => e.globalPosition)).toEqual([1, 2, 3]);
    expect(store.appendToStream('t', [newEvent('t1')]).lastGlobalPosition).toBe(4);
  });

  it('are not consumed by failed appends', () => {
    store.appendToStream('s', [newEvent('e1')]);
    expect(() => store.appendToStream('s', [newEvent('e2'), newEvent('e3')], { expectedVersion: 0 })).toThrow(ConcurrencyError);
    expect(store.appendToStream('s', [newEvent('e4')]).lastGlobalPosition).toBe(2);
  });
});

describe('two instances on one file in one process', () => {
  it('see each other’s appends and keep versions gapless', () => {
    const other = fixture.open();
    store.appendToStream('s', [newEvent('e1')]);
    other.appendToStream('s', [newEvent('e2')], { expectedVersion: 1 });
    expect(() => store.appendToStream('s', [newEvent('e3')], { expectedVersion: 1 })).toThrow(ConcurrencyError);
    expect(store.readStream('s').map((e) => [e.streamVersion, e.eventId])).toEqual([
      [1, 'e1'],
      [2, 'e2'],
    ]);
    expect(other.lastPosition()).toBe(2);
  });
});

describe('deterministicEventId', () => {
  it('joins its parts with ":"', () => {
    expect(deterministicEventId('run-7', 3)).toBe('run-7:3');
    expect(deterministicEventId('job', 'run', 0)).toBe('job:run:0');
    expect(deterministicEventId('only')).toBe('only');
  });
});
