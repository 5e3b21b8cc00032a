import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import path from 'node:path';
import { BatchItemStore } from '../../src/batches/batchItemStore.js';
import { openReadModelDb } from '../../src/projections/readModelDb.js';
import { createStoreFixture, newEvent } from './tempEventStore.js';

// PRAGMA synchronous levels (per connection): 1 = NORMAL, 2 = FULL.
const NORMAL = 1;
const FULL = 2;

let fixture: ReturnType<typeof createStoreFixture>;

beforeEach(() => {
  fixture = createStoreFixture();
});

afterEach(() => fixture.dispose());

describe('durability: what a returned append promises after a power cut', () => {
  it('the event store writes with synchronous = FULL by default', () => {
    const store = fixture.open();
    expect(store.synchronousLevel()).toBe(FULL);
  });

  it("NORMAL is only taken when asked for (the benchmark's baseline)", () => {
    const store = fixture.open({ synchronous: 'NORMAL' });
    expect(store.synchronousLevel()).toBe(NORMAL);
    const durable = fixture.open();
    expect(durable.synchronousLevel()).toBe(FULL);
  });

  it('the batch-items store (inputs of a batch acknowledged with 201) writes with synchronous = FULL', () => {
    const items = new BatchItemStore(path.join(fixture.dir, 'batch-items.db'));
    try {
      expect(items.synchronousLevel()).toBe(FULL);
    } finally {
      items.close();
    }
  });

  it('the read model stays NORMAL: it is rebuilt from the log, so it needs no fsync per commit', () => {
    const readModel = openReadModelDb(path.join(fixture.dir, 'read-model.db'));
    try {
      expect(readModel.pragma('synchronous', { simple: true })).toBe(NORMAL);
    } finally {
      readModel.close();
    }
  });

  it('a grouped append that resolved is in the file when it is opened again', async () => {
    const store = fixture.open();
    await Promise.all([store.appendToStreamGrouped('a', [newEvent('a1')]), store.appendToStreamGrouped('b', [newEvent('b1')])]);
    store.close();
    const reopened = fixture.open({ readonly: true });
    expect(
      reopened
        .readAll()
        .map((e) => e.eventId)
        .sort(),
    ).toEqual(['a1', 'b1']);
  });
});
