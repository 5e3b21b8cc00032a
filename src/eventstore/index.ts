export type {
  AppendOptions,
  DuplicatePolicy,
  AppendResult,
  EventMetadata,
  EventStore,
  EventStoreOptions,
  ExpectedVersion,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  ScanAllOptions,
  ScannedEvent,
  SynchronousMode,
  WaitForEventsOptions,
} from './typing.js';
export { ConcurrencyError, EventIdConflictError, InvalidEventError } from './errors.js';
export { openEventStore, defaultBusyTimeoutMs, defaultPollIntervalMs } from './SQLiteEventStore.js';
export { deterministicEventId } from './deterministicEventId.js';
