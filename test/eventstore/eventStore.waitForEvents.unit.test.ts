import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventStore } from '../../src/eventstore/index.js';
import { spawnWriter } from './spawnWriter.js';
import { createStoreFixture, newEvent } from './tempEventStore.js';

let fixture: ReturnType<typeof createStoreFixture>;
let store: EventStore;

beforeEach(() => {
  fixture = createStoreFixture();
  store = fixture.open();
});

afterEach(() => fixture.dispose());

/** Lets timers and I/O callbacks run, so a wrongly settled promise would have settled by now. */
const settleTime = (ms = 30) => new Promise((resolve) => setTimeout(resolve, ms));

/** Tracks whether a promise has settled, without awaiting it. */
const track = <T>(promise: Promise<T>) => {
  const state: { settled: boolean; value?: T } = { settled: false };
  promise.then((value) => Object.assign(state, { settled: true, value }));
  return state;
};

describe('waitForEvents', () => {
  it('resolves true at once when a later event already exists', async () => {
    store.appendToStream('s', [newEvent('e1'), newEvent('e2')]);
    await expect(store.waitForEvents(1, { timeoutMs: 0 })).resolves.toBe(true);
    await expect(store.waitForEvents(0)).resolves.toBe(true);
  });

  it('resolves false at once when nothing is newer and timeoutMs is 0', async () => {
    store.appendToStream('s', [newEvent('e1')]);
    await expect(store.waitForEvents(1, { timeoutMs: 0 })).resolves.toBe(false);
  });

  it('wakes on an append made through the same instance', async () => {
    const wait = track(store.waitForEvents(0, { timeoutMs: 5000 }));
    await settleTime();
    expect(wait.settled).toBe(false);
    store.appendToStream('s', [newEvent('e1')]);
    await settleTime(0);
    expect(wait).toEqual({ settled: true, value: true });
  });

  it('wakes on an append through another instance in this process without waiting for a poll', async () => {
    // A poll interval far beyond the test's patience: only the in-process notifier can wake it.
    const waiting = fixture.open({ pollIntervalMs: 60_000 });
    const started = Date.now();
    const wait = waiting.waitForEvents(0, { timeoutMs: 10_000 });
    await settleTime();
    store.appendToStream('s', [newEvent('e1')]);
    await expect(wait).resolves.toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('ignores events at or below afterPosition', async () => {
    store.appendToStream('s', [newEvent('e1'), newEvent('e2'), newEvent('e3')]);
    const wait = track(store.waitForEvents(4, { timeoutMs: 5000 }));
    store.appendToStream('s', [newEvent('e4')]);
    await settleTime();
    expect(wait.settled).toBe(false);
    store.appendToStream('s', [newEvent('e5')]);
    await settleTime(0);
    expect(wait).toEqual({ settled: true, value: true });
  });

  it('is not woken by a re-send that writes nothing', async () => {
    store.appendToStream('s', [newEvent('e1')]);
    const wait = track(store.waitForEvents(1, { timeoutMs: 300 }));
    store.appendToStream('s', [newEvent('e1')]);
    await settleTime();
    expect(wait.settled).toBe(false);
  });

  it('resolves false after timeoutMs when nothing is appended', async () => {
    const started = Date.now();
    await expect(store.waitForEvents(0, { timeoutMs: 120 })).resolves.toBe(false);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(100);
    expect(elapsed).toBeLessThan(2000);
  });

  it('resolves false when aborted, and at once when the signal is already aborted', async () => {
    const controller = new AbortController();
    const wait = track(store.waitForEvents(0, { timeoutMs: 10_000, signal: controller.signal }));
    await settleTime();
    expect(wait.settled).toBe(false);
    controller.abort();
    await settleTime(0);
    expect(wait).toEqual({ settled: true, value: false });

    await expect(store.waitForEvents(0, { signal: AbortSignal.abort() })).resolves.toBe(false);
  });

  it('after an abort, a later append no longer matters and a new wait still works', async () => {
    const controller = new AbortController();
    const aborted = store.waitForEvents(0, { signal: controller.signal });
    controller.abort();
    await expect(aborted).resolves.toBe(false);
    const next = store.waitForEvents(0, { timeoutMs: 5000 });
    store.appendToStream('s', [newEvent('e1')]);
    await expect(next).resolves.toBe(true);
  });

  it('settles many concurrent waiters, each by its own position', async () => {
    const waits = [0, 1, 2, 3].map((after) => track(store.waitForEvents(after, { timeoutMs: 5000 })));
    store.appendToStream('s', [newEvent('e1'), newEvent('e2')]);
    await settleTime(0);
    expect(waits.map((w) => w.settled)).toEqual([true, true, false, false]);
    store.appendToStream('s', [newEvent('e3'), newEvent('e4')]);
    await settleTime(0);
    expect(waits.map((w) => w.value)).toEqual([true, true, true, true]);
  });

  it('close() settles pending waits with false', async () => {
    const other = fixture.open();
    const wait = other.waitForEvents(0);
    other.close();
    await expect(wait).resolves.toBe(false);
  });

  it('wakes on an append made by another OS process', { timeout: 30_000 }, async () => {
    const waiting = fixture.open({ pollIntervalMs: 20 });
    expect(waiting.lastPosition()).toBe(0);
    const wait = track(waiting.waitForEvents(0, { timeoutMs: 25_000 }));
    const writer = spawnWriter(fixture.dbPath, 'remote', 1);
    // The child needs a few hundred ms to start: the wait is already pending when it appends.
    await settleTime(50);
    expect(wait.settled).toBe(false);
    await writer;
    await settleTime(200);
    expect(wait).toEqual({ settled: true, value: true });
    expect(waiting.readAll().map((e) => e.eventId)).toEqual(['remote:shared:0']);
  });
});
