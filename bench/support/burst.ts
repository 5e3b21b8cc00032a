/**
 * Runs `count` calls of `one(i)` with `inFlight` at a time; returns each call's latency (ms): the time
 * until `one` called `done` (what follows it, a check, is not counted), else until it returned.
 */
export async function burst(
  count: number,
  inFlight: number,
  one: (i: number, done: () => void) => Promise<void>,
): Promise<number[]> {
  const latencies: number[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let i = next++; i < count; i = next++) {
        const t0 = performance.now();
        let t1: number | undefined;
        await one(i, () => (t1 ??= performance.now()));
        latencies[i] = (t1 ?? performance.now()) - t0;
      }
    }),
  );
  return latencies;
}
