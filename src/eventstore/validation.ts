import { InvalidEventError } from './errors.js';
import type { SerializedEvent } from './schema/appendToStream.js';
import type { ExpectedVersion, NewEvent } from './typing.js';

const isNonEmptyString = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

const isPlainRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Rejects malformed calls before any lock is taken, and serializes the events while doing so. */
export const validateAndSerializeAppend = (streamId: unknown, events: unknown, expectedVersion: unknown): SerializedEvent[] => {
  if (!isNonEmptyString(streamId)) throw new InvalidEventError('streamId must be a non-empty string');
  if (!Array.isArray(events) || events.length === 0)
    throw new InvalidEventError(`appendToStream('${streamId}') needs a non-empty array of events`);
  assertExpectedVersion(expectedVersion);
  return events.map((event: NewEvent, index) => serializeEvent(streamId, event, index));
};

const assertExpectedVersion: (value: unknown) => asserts value is ExpectedVersion = (value) => {
  if (value === 'any' || value === 'no_stream') return;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return;
  throw new InvalidEventError(`expectedVersion must be a non-negative integer, 'no_stream' or 'any', got ${String(value)}`);
};

const serializeEvent = (streamId: string, event: NewEvent, index: number): SerializedEvent => {
  const where = `event #${index} of stream '${streamId}'`;
  if (!isPlainRecord(event)) throw new InvalidEventError(`${where} is not an object`);
  if (!isNonEmptyString(event.eventId)) throw new InvalidEventError(`${where} has no eventId`);
  if (!isNonEmptyString(event.type)) throw new InvalidEventError(`${where} (${event.eventId}) has no type`);
  if (!isPlainRecord(event.data)) throw new InvalidEventError(`${where} (${event.eventId}) has no data object`);
  if (event.metadata !== undefined && !isPlainRecord(event.metadata))
    throw new InvalidEventError(`${where} (${event.eventId}) has metadata that is not an object`);
  return {
    eventId: event.eventId,
    type: event.type,
    data: toJson(event.data, `${where} (${event.eventId}) data`),
    metadata: toJson(event.metadata ?? {}, `${where} (${event.eventId}) metadata`),
  };
};

const toJson = (value: Record<string, unknown>, what: string): string => {
  try {
    return JSON.stringify(value);
  } catch (error) {
    throw new InvalidEventError(`${what} is not JSON-serializable: ${(error as Error).message}`, { cause: error });
  }
};
