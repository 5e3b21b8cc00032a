import type { BatchItemStore } from '../batches/batchItemStore.js';
import type { PreparedBatchItem } from '../workflows/batchContract.js';

/** Activities of the batch workflow that read the claim-checked inputs (on the store's task queue). */
export function createBatchActivities(items: BatchItemStore) {
  return {
    async loadBatchItems(request: { batchId: string; offset: number; limit: number }): Promise<PreparedBatchItem[]> {
      return items.load(request.batchId, request.offset, request.limit);
    },
  };
}

export type BatchActivities = ReturnType<typeof createBatchActivities>;
