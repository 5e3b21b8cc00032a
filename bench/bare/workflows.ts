// The baseline of bench/batch.bench.ts: a bare Temporal workflow running one empty activity.
import { condition, defineQuery, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type * as activities from './activities.js';

const { emptyActivity } = proxyActivities<typeof activities>({ startToCloseTimeout: '1m' });

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
