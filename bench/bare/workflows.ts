// The baseline of bench/batch.bench.ts: a bare Temporal workflow running one empty activity.
import { proxyActivities } from '@temporalio/workflow';
import type * as activities from './activities.js';

const { emptyActivity } = proxyActivities<typeof activities>({ startToCloseTimeout: '1m' });

export async function bareWorkflow(): Promise<void> {
  await emptyActivity();
}
