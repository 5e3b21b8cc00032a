/**
 * deleteJobsWorkflow: removes finished jobs (DELETE /jobs/{id}, POST /jobs/cleanup, the dead-letter
 * purge) — and, as the action of the retention Schedule, every job finished more than an age ago. The
 * log keeps a JobDeleted tombstone per job (the projection then drops the row); the result files go too.
 * A job's own workflow is closed by then, so this workflow records the tombstone, with an event id
 * derived from the job id: deleting twice records once.
 */
import { continueAsNew, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { EventStoreActivities } from '../activities/eventStoreActivities.js';
import type { JobStepActivities } from '../activities/jobStepActivities.js';
import type { BatchActivities } from '../activities/batchActivities.js';
import type { RetentionActivities } from '../activities/retentionActivities.js';
import { JobEvents } from './jobContract.js';

export interface RetentionInput {
  /** Jobs (and batches' stored inputs) that finished more than this long before the run started go. */
  maxAgeMs: number;
  /** Set by the workflow itself when it continues as new: the cutoff of its first run (ISO). */
  cutoff?: string;
  /** Jobs deleted per round (one read-model query, one tombstone chunk); default 100. */
  pageSize?: number;
  /** Jobs deleted before the run continues as new (its history stays small); default 1000. */
  maxJobsPerRun?: number;
}

export interface DeleteJobsInput {
  jobIds: string[];
  actor: string;
  reason: string;
  /** Retention: also delete every job that finished before the cutoff, and remove the stored
   * inputs of batches that did (the retention Schedule's action). */
  retention?: RetentionInput;
}

export interface DeleteJobsResult {
  deleted: number;
  freedBytes: number;
  /** Log position after the last tombstone (read-your-writes). */
  position: number;
  /** Retention: the cutoff used, and the stored batch items removed. */
  cutoff?: string;
  batchItemsRemoved?: number;
}

/** Tombstones are written this many jobs at a time, after their result files are removed. */
const CHUNK = 100;

export async function deleteJobsWorkflow(input: DeleteJobsInput): Promise<DeleteJobsResult> {
  const info = workflowInfo();
  const store = proxyActivities<EventStoreActivities & BatchActivities>({
    taskQueue: `${info.taskQueue}-store`,
    startToCloseTimeout: '30s',
    retry: { initialInterval: '200ms', maximumInterval: '10s' },
  });
  const files = proxyActivities<JobStepActivities>({ startToCloseTimeout: '5m', retry: { maximumAttempts: 5 } });
  const result: DeleteJobsResult = { deleted: 0, freedBytes: 0, position: 0 };

  const deleteChunk = async (jobIds: string[]) => {
    result.freedBytes += await files.removeResultFiles({ jobIds });
    for (const jobId of jobIds) {
      const appended = await store.appendEvents({
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
      result.deleted += appended.appended;
      result.position = Math.max(result.position, appended.lastGlobalPosition);
    }
  };

  for (let i = 0; i < input.jobIds.length; i += CHUNK) await deleteChunk(input.jobIds.slice(i, i + CHUNK));
  if (!input.retention) return result;

  // Retention. "Older than" is decided once, from this workflow's own start time (the first run's,
  // carried through continue-as-new): deterministic on replay, the same for every round.
  const retention = input.retention;
  const cutoff = retention.cutoff ?? new Date(info.runStartTime.getTime() - retention.maxAgeMs).toISOString();
  result.cutoff = cutoff;
  const readModel = proxyActivities<RetentionActivities>({
    taskQueue: `${info.taskQueue}-scheduler`,
    startToCloseTimeout: '1m',
    retry: { initialInterval: '1s', maximumInterval: '30s' },
  });
  const pageSize = retention.pageSize ?? CHUNK;
  for (;;) {
    // Each round reads the read model after the previous round's tombstones are applied to it.
    const page = await readModel.retentionCandidates({ cutoff, limit: pageSize, afterPosition: result.position });
    if (page.jobIds.length === 0) break;
    const before = result.deleted;
    await deleteChunk(page.jobIds);
    result.freedBytes += await readModel.removeUnnamedUploads({ fileIds: page.fileIds, afterPosition: result.position });
    // Every tombstone of the round was there already (a row the projection keeps): never loop on it.
    if (result.deleted === before) break;
    if (result.deleted >= (retention.maxJobsPerRun ?? 1000) || workflowInfo().continueAsNewSuggested)
      await continueAsNew<typeof deleteJobsWorkflow>({ ...input, jobIds: [], retention: { ...retention, cutoff } });
  }
  // The stored inputs of finished batches (claim check): nothing loads them again.
  result.batchItemsRemoved = 0;
  for (let afterId = ''; ;) {
    const batchIds = await store.batchesWithItems({ afterId, limit: 500 });
    if (batchIds.length === 0) break;
    afterId = batchIds[batchIds.length - 1]!;
    const finished = await readModel.batchesFinishedBefore({ cutoff, batchIds });
    if (finished.length > 0) result.batchItemsRemoved += await store.removeBatchItems({ batchIds: finished });
  }
  return result;
}
