/**
 * deleteJobsWorkflow: removes finished jobs (DELETE /jobs/{id}, POST /jobs/cleanup). The log keeps a
 * JobDeleted tombstone per job (the projection then drops the row); the result files go too.
 * A job's own workflow is closed by then, so this workflow records the tombstone, with an event id
 * derived from the job id: deleting twice records once.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { EventStoreActivities } from '../activities/eventStoreActivities.js';
import type { JobStepActivities } from '../activities/jobStepActivities.js';
import { JobEvents } from './jobContract.js';

export interface DeleteJobsInput {
  jobIds: string[];
  actor: string;
  reason: string;
}

export interface DeleteJobsResult {
  deleted: number;
  freedBytes: number;
  /** Log position after the last tombstone (read-your-writes). */
  position: number;
}

export async function deleteJobsWorkflow(input: DeleteJobsInput): Promise<DeleteJobsResult> {
  const info = workflowInfo();
  const store = proxyActivities<EventStoreActivities>({
    taskQueue: `${info.taskQueue}-store`,
    startToCloseTimeout: '30s',
    retry: { initialInterval: '200ms', maximumInterval: '10s' },
  });
  const files = proxyActivities<JobStepActivities>({ startToCloseTimeout: '5m', retry: { maximumAttempts: 5 } });
  let freedBytes = 0;
  let position = 0;
  let deleted = 0;
  for (let i = 0; i < input.jobIds.length; i += 100) {
    const chunk = input.jobIds.slice(i, i + 100);
    freedBytes += await files.removeResultFiles({ jobIds: chunk });
    for (const jobId of chunk) {
      const result = await store.appendEvents({
        streamId: jobId,
        events: [
          {
            eventId: `${jobId}:deleted`,
            type: JobEvents.deleted,
            data: { jobId, at: new Date().toISOString() },
            metadata: { actor: input.actor, reason: input.reason, workflowId: info.workflowId, runId: info.runId },
          },
        ],
      });
      deleted += result.appended;
      position = Math.max(position, result.lastGlobalPosition);
    }
  }
  return { deleted, freedBytes, position };
}
