/**
 * The version the caller believes the stream is at. A number is the version of the stream's last
 * event (0 = empty stream); 'no_stream' requires an empty stream; 'any' skips the check.
 */
export type ExpectedVersion = number | 'no_stream' | 'any';

export interface EventMetadata {
  actor?: string;
  reason?: string;
  causationId?: string;
  correlationId?: string;
  [key: string]: unknown;
}

export interface NewEvent {
  /** Chosen by the caller and deterministic, so a retried append is recognised and not doubled. */
  eventId: string;
  type: string;
  data: Record<string, unknown>;
  metadata?: EventMetadata;
}

export interface RecordedEvent<D = any> {
  globalPosition: number;
  streamId: string;
  streamVersion: number;
  eventId: string;
  type: string;
  data: D;
  metadata: EventMetadata;
  /** ISO-8601 UTC */
  recordedAt: string;
}

/** What a scan hands out: a recorded event without its id (a replay has no use for it). */
export type ScannedEvent<D = any> = Omit<RecordedEvent<D>, 'eventId'>;

export interface ScanAllOptions {
  /** Exclusive: the last position already processed. Default 0. */
  fromPosition?: number;
  /** Inclusive upper bound. Default: the end of the log. */
  toPosition?: number;
  /**
   * Read an event's metadata only when its `metadata` is used (a point lookup by position), not with
   * every row: a replay whose projections rarely look at it skips a third of each row. Only for
   * file-backed stores (an in-memory store reads it with the row). Cheapest while the scan is open.
   */
  lazyMetadata?: boolean;
  /**
   * With lazyMetadata: event types whose metadata is read with the row all the same (the few a replay
   * does look at), sparing each of them a lookup of its own.
   */
  metadataWithTypes?: readonly string[];
  /**
   * Read an event's `recordedAt` only when it is used (a point lookup by position), as `lazyMetadata`
   * does for the metadata: a replay whose events carry their own time (`data.at`) rarely asks. Only for
   * file-backed stores. The events' `recordedAt` is then a getter, not an own field (a spread skips it).
   */
  lazyRecordedAt?: boolean;
}

/**
 * When a re-sent event id counts as the same event (an idempotent no-op rather than a conflict).
 * - `same-data` (default): same stream, type and data — anything else is EventIdConflictError.
 * - `same-type`: same stream and type; the data of the first write wins. For writers whose event data
 *   can legitimately differ between two derivations of the same fact: a workflow task that appended
 *   through a local activity and was then lost is retried with a later workflow clock, so it rebuilds
 *   the event with the same id and other timestamps. A different type is still a conflict.
 */
export type DuplicatePolicy = 'same-data' | 'same-type';

export interface AppendOptions {
  /** Optimistic concurrency check; default 'any'. */
  expectedVersion?: ExpectedVersion;
  /** How a re-sent event id is recognised; default 'same-data'. */
  duplicates?: DuplicatePolicy;
}

export interface AppendResult {
  nextExpectedVersion: number;
  lastGlobalPosition: number;
  /** Events actually written; 0 when all were idempotent duplicates. */
  appended: number;
  /**
   * When the call mixed events the store had already with new ones: the index (in the call's events)
   * of the last one it had. Absent when none or all were stored already (`appended` tells which).
   * A workflow's batch whose first event was recorded ahead by the command side (JobSubmitted) is
   * thus told apart from one a lost workflow task had written up to its end.
   */
  lastDuplicateIndex?: number;
}

/**
 * `PRAGMA synchronous` of the writing connection. FULL: a returned append is on disk (survives a
 * power cut). NORMAL: the last commits may be lost on a power cut — only for measuring what FULL costs.
 */
export type SynchronousMode = 'FULL' | 'NORMAL';

export interface EventStoreOptions {
  /** busy timeout ms, default 5000 */
  busyTimeoutMs?: number;
  /** Default 'FULL'. */
  synchronous?: SynchronousMode;
  /**
   * Commit `appendToStreamGrouped` calls in a worker thread on a connection of its own, so the calling
   * thread never blocks on the inserts and the WAL's fsync (same groups, same durability). Default
   * false; ignored for an in-memory or read-only store. The engine's EVENTSTORE_APPEND_THREAD=1.
   */
  appendThread?: boolean;
  /** Most appendToStreamGrouped calls committed in one transaction (bounds how long one commit blocks); default 256. */
  maxCallsPerGroup?: number;
  /** poll interval of waitForEvents for commits made by other processes, default 50 */
  pollIntervalMs?: number;
  readonly?: boolean;
}

export interface ReadStreamOptions {
  /** Inclusive, default 1. */
  fromVersion?: number;
  maxCount?: number;
}

export interface ReadAllOptions {
  /** Exclusive: the last position the reader has already seen. Default 0. */
  fromPosition?: number;
  /** Default 1000. */
  limit?: number;
}

export interface WaitForEventsOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface EventStore {
  readonly path: string;
  /** Commits at once, in a transaction of its own (one fsync per call). */
  appendToStream(streamId: string, events: NewEvent[], options?: AppendOptions): AppendResult;
  /**
   * The same append with the same outcome (result or error), committed together with the other calls
   * made in the same turn of the event loop: one transaction and one fsync for the whole group, a
   * savepoint per call, so a call that fails rolls back only itself and only its caller sees the
   * error. Resolves after the commit, so a resolved append is as durable as a returned one.
   */
  appendToStreamGrouped(streamId: string, events: NewEvent[], options?: AppendOptions): Promise<AppendResult>;
  readStream(streamId: string, options?: ReadStreamOptions): RecordedEvent[];
  /**
   * The events of `type` in a stream appended after `afterPosition`, newest first; costs the stream's
   * events since that position, not the whole stream (a pool's grants since a job joined its line).
   */
  readStreamAfter(streamId: string, afterPosition: number, type: string): RecordedEvent[];
  /** The newest event of `type` in a stream, if any (only that one is read into JavaScript). */
  readLastOfType(streamId: string, type: string): RecordedEvent | undefined;
  readAll(options?: ReadAllOptions): RecordedEvent[];
  /**
   * Every event from `fromPosition` on, in position order, one at a time (for replays such as a
   * read-model rebuild). Keeps a read transaction open until the iteration ends or is abandoned.
   */
  scanAll(options?: ScanAllOptions): IterableIterator<ScannedEvent>;
  /** 0 if the stream has no events. */
  streamVersion(streamId: string): number;
  /** The event recorded under `eventId`, if any (a writer finding a fact it may have recorded before). */
  readEvent(eventId: string): RecordedEvent | undefined;
  /** 0 if the store is empty. */
  lastPosition(): number;
  /**
   * Resolves true as soon as an event with position > afterPosition exists (appended by this
   * process or another), false on timeout or abort.
   */
  waitForEvents(afterPosition: number, options?: WaitForEventsOptions): Promise<boolean>;
  /** `PRAGMA synchronous` of the store's connection: 2 = FULL, 1 = NORMAL. */
  synchronousLevel(): number;
  /** Commits grouped appends still waiting for their turn, then closes the connection. */
  close(): void;
}
