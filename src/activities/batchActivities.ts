import type { BatchItemStore } from '../batches/batchItemStore.js';
import type { PreparedBatchItem } from '../workflows/batchContract.js';

/** Activities of the batch workflow that read the claim-checked inputs (on the store's task queue). */
export function createBatchActivities(items: BatchItemStore) {
  return {
    async loadBatchItems(request: { batchId: string; offset: number; limit: number }): Promise<PreparedBatchItem[]> {
      return items.load(request.batchId, request.offset, request.limit);
    },
    /** Retention: a page of the batches whose inputs are still stored. */
    async batchesWithItems(request: { afterId: string; limit: number }): Promise<string[]> {
      return items.batchIds(request.afterId, request.limit);
    },
    /** Retention: the stored inputs of finished batches go; items removed. */
    async removeBatchItems(request: { batchIds: string[] }): Promise<number> {
      return items.remove(request.batchIds);
    },
  };
}

export type BatchActivities = ReturnType<typeof createBatchActivities>;
