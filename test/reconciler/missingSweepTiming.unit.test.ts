import { afterEach, describe, expect, it, vi } from 'vitest';
import { Reconciler, type ReconcilerOptions } from '../../src/reconciler/reconciler.js';

/**
 * When the reconciler's sweep for jobs whose workflow Temporal no longer has runs: 10 s after start,
 * then every minute — and 15 s after a sweep that found the read model showing more open jobs than
 * Temporal runs job executions (jobs too young to be looked at then hold their pool's slots until they
 * are recorded).
 */
afterEach(() => {
  vi.useRealTimers();
});

function reconcilerCounting(shown: () => number, running: () => number, readModelSide = true) {
  const sweptAt: number[] = [];
  const started = Date.now();
  const empty = () => ({ [Symbol.asyncIterator]: () => ({ next: async () => ({ done: true as const, value: undefined }) }) });
  const client = {
    workflow: {
      list: empty,
      count: async () => {
        sweptAt.push(Math.round((Date.now() - started) / 1000));
        return { count: running() };
      },
    },
  };
  const reconciler = new Reconciler({
    client: client as unknown as ReconcilerOptions['client'],
    eventStore: {} as ReconcilerOptions['eventStore'],
    taskQueue: 'q',
    ...(readModelSide ? { shownOpen: { countOpen: shown, openNotUpdatedSince: () => [] } } : {}),
  });
  return { reconciler, sweptAt };
}

describe('the sweep for missing workflows', () => {
  it('runs 10 s after start, then every minute while the counts agree', async () => {
    vi.useFakeTimers();
    const { reconciler, sweptAt } = reconcilerCounting(
      () => 3,
      () => 3,
    );
    reconciler.start();
    await vi.advanceTimersByTimeAsync(135_000);
    await reconciler.stop();
    expect(sweptAt).toEqual([10, 70, 130]);
  });

  it('runs again 15 s after one that found more open jobs than running executions', async () => {
    vi.useFakeTimers();
    let running = 0;
    const { reconciler, sweptAt } = reconcilerCounting(
      () => 3,
      () => running,
    );
    reconciler.start();
    await vi.advanceTimersByTimeAsync(41_000);
    expect(sweptAt).toEqual([10, 25, 40]);
    running = 3; // the lost ones recorded: the counts agree again
    await vi.advanceTimersByTimeAsync(75_000);
    await reconciler.stop();
    expect(sweptAt).toEqual([10, 25, 40, 55, 115]);
  });

  it('does not run without the read model side (an engine that does not own the read model)', async () => {
    vi.useFakeTimers();
    const { reconciler, sweptAt } = reconcilerCounting(
      () => 3,
      () => 0,
      false,
    );
    reconciler.start();
    await vi.advanceTimersByTimeAsync(75_000);
    await reconciler.stop();
    expect(sweptAt).toEqual([]);
  });
});
