/**
 * Activities of automatic retention (deleteJobsWorkflow with `retention`), served by the process that
 * owns the read model (`<queue>-scheduler`): which finished jobs and batches are older than the cutoff,
 * read after the projector has applied the tombstones of the previous round; and the uploads the
 * deleted jobs named that no job names any more.
 */
import { JobReadModel, fileIdsNamedBy } from '../projections/jobReadModel.js';
import { ReadModelHolder, type ReadModelSource } from '../projections/readModelHolder.js';

export interface RetentionDeps {
  readModelDb: ReadModelSource;
  /** Resolves once the read model has applied the log up to `position`. */
  waitFor(position: number, timeoutMs?: number): Promise<boolean>;
  /** Uploaded files (the inputs of `match` jobs); omitted: none are removed. */
  files?: { remove(id: string): number };
}

export function createRetentionActivities(deps: RetentionDeps) {
  const jobs = new JobReadModel(deps.readModelDb);
  const readModel = ReadModelHolder.of(deps.readModelDb);
  const finishedBatches = () =>
    readModel.prepare<{ cutoff: string; ids: string }, { id: string }>(
      `SELECT id FROM batches WHERE status IN ('completed', 'failed', 'cancelled') AND completed_at < @cutoff
          AND id IN (SELECT value FROM json_each(@ids))`,
    );
  const caughtUp = async (position: number) => {
    if (!(await deps.waitFor(position, 30_000))) throw new Error(`read model not caught up with position ${position}`);
  };
  return {
    /** Up to `limit` jobs that finished before `cutoff` (ISO), and the uploads their inputs name. */
    async retentionCandidates(request: { cutoff: string; limit: number; afterPosition: number }) {
      await caughtUp(request.afterPosition);
      const rows = jobs.finishedBefore(request.cutoff, undefined, request.limit);
      return { jobIds: rows.map((row) => row.id), fileIds: [...fileIdsNamedBy(rows)] };
    },

    /** Of `batchIds`, the batches that finished before `cutoff`: their stored inputs may go. */
    async batchesFinishedBefore(request: { cutoff: string; batchIds: string[] }): Promise<string[]> {
      return finishedBatches()
        .all({ cutoff: request.cutoff, ids: JSON.stringify(request.batchIds) })
        .map((r) => r.id);
    },

    /** Removes the uploads of `fileIds` that no job names once the tombstones up to `afterPosition` are applied; bytes freed. */
    async removeUnnamedUploads(request: { fileIds: string[]; afterPosition: number }): Promise<number> {
      if (!deps.files || request.fileIds.length === 0) return 0;
      await caughtUp(request.afterPosition);
      const stillNamed = jobs.fileIdsStillNamed(request.fileIds);
      let freed = 0;
      for (const id of request.fileIds) if (!stillNamed.has(id)) freed += deps.files.remove(id);
      return freed;
    },
  };
}

export type RetentionActivities = ReturnType<typeof createRetentionActivities>;
