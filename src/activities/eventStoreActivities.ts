import type { AppendResult, EventStore, ExpectedVersion, NewEvent } from '../eventstore/index.js';

export interface AppendEventsRequest {
  streamId: string;
  events: NewEvent[];
  expectedVersion?: ExpectedVersion;
}

/** Activities of the process that owns the SQLite file. They run on a task queue of their own
 * (`<queue>-store`), so job workers may live on other machines and still reach the one writer. */
export function createEventStoreActivities(store: EventStore) {
  return {
    /** Idempotent by event id: a retried or replayed call writes nothing twice. */
    async appendEvents(request: AppendEventsRequest): Promise<AppendResult> {
      return store.appendToStream(request.streamId, request.events, {
        expectedVersion: request.expectedVersion ?? 'any',
      });
    },
  };
}

export type EventStoreActivities = ReturnType<typeof createEventStoreActivities>;
