// The baseline of bench/batch.bench.ts: a bare Temporal workflow running one empty activity.
import { condition, defineQuery, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type * as activities from './activities.js';

const { emptyActivity, stampActivity } = proxyActivities<typeof activities>({ startToCloseTimeout: '1m' });

export async function bareWorkflow(): Promise<void> {
  await emptyActivity();
}

/** The baseline of bench/scheduling.bench.ts: on each `go` signal, one empty activity; `done` counts them. */
export async function bareSignalWorkflow(): Promise<void> {
  let requested = 0;
  let done = 0;
  setHandler(defineSignal('go'), () => void requested++);
  setHandler(defineQuery<number>('done'), () => done);
  for (;;) {
    await condition(() => requested > done);
    await emptyActivity();
    done++;
  }
}

/**
 * The burst baseline of bench/scheduling.bench.ts: waits for one `go` signal, then runs one activity
 * and returns when it ran. Many of them signalled at once are what a burst of dependency releases is
 * to bare Temporal.
 */
export async function bareBurstWorkflow(): Promise<number> {
  let go = false;
  setHandler(defineSignal('go'), () => void (go = true));
  await condition(() => go);
  return await stampActivity();
}
