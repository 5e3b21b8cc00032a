import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  EventIdConflictError,
  type AppendResult,
  type EventStore,
  type ExpectedVersion,
  type NewEvent,
} from '../eventstore/index.js';
import { recordAppendFailure } from '../eventstore/appendHealth.js';
import { EVENT_ID_CONFLICT } from '../eventstore/failureTypes.js';

export interface AppendEventsRequest {
  streamId: string;
  events: NewEvent[];
  expectedVersion?: ExpectedVersion;
  /**
   * Events appended ahead of `events`, idempotent by id, and not counted in the result: a reset run's
   * JobReset, sent with each of its appends because the first ones of its history are its base run's,
   * replayed from their records and never executed again (see jobWorkflow's resetEvent).
   */
  before?: NewEvent[];
}

export { EVENT_ID_CONFLICT };

/** From this attempt on, a failing append is logged at ERROR (earlier ones are ordinary retries). */
const LOUD_FAILURE_ATTEMPT = 3;

/** Activities of the process that owns the SQLite file. They run on a task queue of their own
 * (`<queue>-store`), so job workers may live on other machines and still reach the one writer. */
export function createEventStoreActivities(store: EventStore) {
  /** Grouped: concurrent appends share one transaction and one fsync; resolved once on disk. Same id
   * and type is the same fact (see appendEvents). */
  const appendGrouped = (request: AppendEventsRequest) =>
    store.appendToStreamGrouped(request.streamId, request.events, {
      expectedVersion: request.expectedVersion ?? 'any',
      duplicates: 'same-type',
    });
  return {
    /**
     * Idempotent by event id: a retried or replayed call writes nothing twice. A workflow task that
     * appended through a local activity and was then lost (worker crash, shutdown) is retried with a
     * later workflow clock and rebuilds the same events with other timestamps: same id and type is the
     * same fact, and the first write wins (`duplicates: 'same-type'`).
     */
    async appendEvents(request: AppendEventsRequest): Promise<AppendResult> {
      try {
        if (request.before?.length) await appendGrouped({ streamId: request.streamId, events: request.before });
        return await appendGrouped({
          streamId: request.streamId,
          events: request.events,
          expectedVersion: request.expectedVersion,
        });
      } catch (error) {
        const attempt = Context.current().info.attempt;
        recordAppendFailure(error);
        if (error instanceof EventIdConflictError) {
          Context.current().log.error('appendEvents: event id conflict', { streamId: request.streamId, error: error.message });
          throw ApplicationFailure.create({
            type: EVENT_ID_CONFLICT,
            message: error.message,
            nonRetryable: true,
            details: [{ eventId: error.eventId }],
          });
        }
        if (attempt >= LOUD_FAILURE_ATTEMPT)
          Context.current().log.error('appendEvents failing; the job waits until the store accepts its events', {
            streamId: request.streamId,
            attempt,
            error: (error as Error).message,
          });
        throw error;
      }
    },

    /**
     * Appends to several streams at once, each call on its own (concurrent: one group commit): for a
     * batch recording the JobSubmitted of the jobs it has just started, ahead of their workflows. Each
     * stream's outcome is its own: an append refused (an id conflict) is reported as null, not thrown —
     * the job's workflow records its event anyway.
     */
    async appendEventsToStreams(requests: AppendEventsRequest[]): Promise<(AppendResult | null)[]> {
      const settled = await Promise.allSettled(requests.map(appendGrouped));
      const refused = settled.find((s) => s.status === 'rejected' && !(s.reason instanceof EventIdConflictError));
      if (refused) throw (refused as PromiseRejectedResult).reason; // the store failed: retry them all
      return settled.map((s) => (s.status === 'fulfilled' ? s.value : null));
    },
  };
}

export type EventStoreActivities = ReturnType<typeof createEventStoreActivities>;
