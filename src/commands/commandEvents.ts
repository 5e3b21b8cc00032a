import { deterministicEventId, type EventStore } from '../eventstore/index.js';

/**
 * Appends one event a command side writes itself (schedules, webhook subscriptions) to `stream`: id =
 * stream and next version, appended with that expected version (gapless, never doubled; a repeat of
 * the same append is recognised by the store), actor, reason and correlation id in the metadata.
 * Returns its log position.
 */
export function appendCommandEvent(
  eventStore: EventStore,
  stream: string,
  type: string,
  data: object,
  metadata: { actor: string; reason?: string; correlationId: string },
): number {
  const version = eventStore.streamVersion(stream);
  const result = eventStore.appendToStream(
    stream,
    [
      {
        eventId: deterministicEventId(stream, version + 1),
        type,
        data: data as Record<string, unknown>,
        metadata: {
          actor: metadata.actor,
          ...(metadata.reason ? { reason: metadata.reason } : {}),
          correlationId: metadata.correlationId,
        },
      },
    ],
    { expectedVersion: version },
  );
  return result.lastGlobalPosition;
}
