// bench/cluster.bench.ts's load on the store owner alone: a workflow on a remote worker (the bench
// process) appending `appends` times, one event each, through the owner's `<queue>-store` task queue —
// the path every job's events take in the production topology (EVENTSTORE_ACCESS=remote).
import { proxyActivities } from '@temporalio/workflow';
import type { EventStoreActivities } from '../../src/activities/eventStoreActivities.js';

export async function appendLoopWorkflow(storeQueue: string, streamId: string, appends: number): Promise<void> {
  const { appendEvents } = proxyActivities<EventStoreActivities>({ taskQueue: storeQueue, startToCloseTimeout: '30s' });
  for (let i = 0; i < appends; i++) {
    // A type no projection reads: the read model stays as it is.
    await appendEvents({
      streamId,
      events: [{ eventId: `${streamId}-${i}`, type: 'BenchAppended', data: { i }, metadata: { actor: 'bench' } }],
    });
  }
}
