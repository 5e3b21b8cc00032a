import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';

const { temporal } = proto; // a CommonJS module: named ESM imports fail under plain Node

/**
 * Workers as Temporal sees them: the pollers of the engine's task queues (workflow and activity),
 * deduplicated by identity. `active` are those that polled in the last 30 s. Cached for 2 s so a busy
 * stats endpoint does not hammer the frontend.
 */
export function taskQueueWorkers(client: Client, namespace: string, taskQueue: string) {
  let cached: { at: number; value: { active: number; total: number } } | undefined;
  return async () => {
    if (cached && Date.now() - cached.at < 2000) return cached.value;
    const identities = new Map<string, number>();
    for (const name of [taskQueue, `${taskQueue}-store`]) {
      for (const type of [
        temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      ]) {
        try {
          const response = await client.workflowService.describeTaskQueue({
            namespace,
            taskQueue: { name },
            taskQueueType: type,
          });
          for (const poller of response.pollers ?? []) {
            const identity = poller.identity ?? '?';
            const seconds = Number(poller.lastAccessTime?.seconds ?? 0);
            identities.set(identity, Math.max(identities.get(identity) ?? 0, seconds * 1000));
          }
        } catch {
          // Temporal unreachable: report what we have (zero), the readiness probe says the rest.
        }
      }
    }
    const now = Date.now();
    const value = { total: identities.size, active: [...identities.values()].filter((t) => now - t < 30_000).length };
    cached = { at: now, value };
    return value;
  };
}
