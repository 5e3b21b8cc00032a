import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventStore, RecordedEvent } from '../../src/eventstore/index.js';
import { spawnWriter } from './spawnWriter.js';
import { createStoreFixture } from './tempEventStore.js';

let fixture: ReturnType<typeof createStoreFixture>;
let store: EventStore;

beforeEach(() => {
  fixture = createStoreFixture();
  // The engine process creates the file; the writers join an existing store.
  store = fixture.open();
});

afterEach(() => fixture.dispose());

const expectGaplessStream = (events: RecordedEvent[]) => {
  expect(events.map((e) => e.streamVersion)).toEqual(events.map((_, i) => i + 1));
};

describe('two OS processes appending to one file at once', () => {
  it('lose nothing, double nothing, keep every stream gapless and positions increasing', { timeout: 60_000 }, async () => {
    const perWriter = 500;
    const writers = ['alpha', 'beta'];
    // Both children sleep until this instant, so their append loops really overlap.
    const startAt = Date.now() + 2000;
    const summaries = await Promise.all(writers.map((writer) => spawnWriter(fixture.dbPath, writer, perWriter, startAt)));

    for (const summary of summaries) {
      expect(summary.written).toBe(perWriter);
      expect(summary.resentEvents).toBeGreaterThan(0);
    }

    const all: RecordedEvent[] = [];
    for (
      let page = store.readAll();
      page.length > 0;
      page = store.readAll({ fromPosition: page[page.length - 1]!.globalPosition })
    )
      all.push(...page);

    // Nothing lost, nothing doubled: exactly the ids the writers generated, each once.
    const expectedIds = summaries.flatMap((s) => [
      ...Array.from({ length: s.sharedEvents }, (_, seq) => `${s.writer}:shared:${seq}`),
      ...Array.from({ length: s.ownEvents }, (_, seq) => `${s.writer}:own-${s.writer}:${seq}`),
    ]);
    expect(all).toHaveLength(perWriter * writers.length);
    expect(new Set(all.map((e) => e.eventId)).size).toBe(all.length);
    expect(all.map((e) => e.eventId).sort()).toEqual(expectedIds.sort());

    // Global positions strictly increasing (readAll order), and in this log without gaps.
    for (let i = 1; i < all.length; i++) expect(all[i]!.globalPosition).toBeGreaterThan(all[i - 1]!.globalPosition);
    expect(all[all.length - 1]!.globalPosition).toBe(all.length);

    // Every stream gapless 1..N, and each writer's events in the order it sent them.
    const streams = ['shared', ...writers.map((w) => `own-${w}`)];
    for (const streamId of streams) {
      const events = store.readStream(streamId);
      expectGaplessStream(events);
      for (const writer of writers) {
        const seqs = events.filter((e) => e.data.writer === writer).map((e) => e.data.seq as number);
        expect(seqs).toEqual(seqs.map((_, i) => i));
      }
    }
    expect(store.readStream('shared')).toHaveLength(summaries.reduce((n, s) => n + s.sharedEvents, 0));

    // The processes really interleaved on the shared stream (otherwise this proved little).
    const sharedWriters = store.readStream('shared').map((e) => e.data.writer as string);
    const switches = sharedWriters.filter((w, i) => i > 0 && w !== sharedWriters[i - 1]).length;
    console.info(`shared stream: ${sharedWriters.length} events, writer changed ${switches} times`);
    expect(switches).toBeGreaterThanOrEqual(10);
  });
});
