import { describe, expect, it } from 'vitest';
import { Reconciler, type ReconcilerOptions } from '../../src/reconciler/reconciler.js';

/**
 * The reconciler's stop waits for the scan under way (its owner closes the Temporal connection next, and
 * a scan's call waiting for a retry would then retry on a closed channel), but not for ever: with
 * Temporal unreachable a scan's calls retry for about 15 s.
 */
function reconcilerWithScan(listEnds: Promise<void>) {
  let listed = 0;
  const client = {
    workflow: {
      // A listing that ends (with no execution) once `listEnds` settles.
      list: () => ({
        [Symbol.asyncIterator]: () => ({
          next: async () => {
            listed++;
            await listEnds;
            return { done: true as const, value: undefined };
          },
        }),
      }),
    },
  };
  const reconciler = new Reconciler({
    client: client as unknown as ReconcilerOptions['client'],
    eventStore: {} as ReconcilerOptions['eventStore'],
    taskQueue: 'q',
  });
  return { reconciler, listed: () => listed };
}

describe('Reconciler.stop', () => {
  it('resolves once the scan under way has ended', async () => {
    let end: () => void = () => undefined;
    const { reconciler, listed } = reconcilerWithScan(new Promise<void>((resolve) => (end = resolve)));
    const scan = reconciler.scanOnce();
    await new Promise((r) => setTimeout(r, 10));
    expect(listed()).toBe(1);
    let stopped = false;
    const stopping = reconciler.stop(5_000).then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(stopped).toBe(false); // the scan is still under way
    end();
    await stopping;
    await scan;
    expect(stopped).toBe(true);
  });

  it('does not wait longer than its bound for a scan that does not end', async () => {
    const { reconciler } = reconcilerWithScan(new Promise<void>(() => undefined));
    void reconciler.scanOnce();
    const started = Date.now();
    await reconciler.stop(100);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(90);
    expect(waited).toBeLessThan(2_000);
  });

  it('with no scan under way, resolves at once', async () => {
    const { reconciler } = reconcilerWithScan(Promise.resolve());
    const started = Date.now();
    await reconciler.stop(5_000);
    expect(Date.now() - started).toBeLessThan(100);
  });
});
