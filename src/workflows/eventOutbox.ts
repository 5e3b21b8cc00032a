/**
 * The workflow side of "events are the record": events are recorded in workflow order with ids derived
 * from (stream, run id, sequence), and one flusher appends them through the store's activity, in order,
 * a batch at a time. The flusher runs in a non-cancellable scope: the record of a cancel must still be
 * written when the workflow itself is being cancelled.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  proxyActivities,
  proxyLocalActivities,
  workflowInfo,
} from '@temporalio/workflow';
import { EVENT_ID_CONFLICT } from '../eventstore/failureTypes.js';
import type { EventStoreActivities } from '../activities/eventStoreActivities.js';
import type { SchedulerActivities } from '../activities/schedulerActivities.js';
import type { EventMetadata, NewEvent } from '../eventstore/index.js';
import type { AppendEventsRequest } from '../activities/eventStoreActivities.js';
import type { AppendResult } from '../eventstore/index.js';
import type { Actor } from '../domain/index.js';

export interface EventOutbox {
  /**
   * Queues an event; returns its sequence number (see flushed). Its id is derived from the run and that
   * number, unless `eventId` names it: for a fact another writer may record under the same id.
   */
  record(type: string, data: Record<string, unknown>, who: Actor, eventId?: string): number;
  /** Resolves once every event up to `seq` (default: all recorded) is in the store. */
  flushed(seq?: number): Promise<void>;
  /** Whether an event recorded is not in the store yet. */
  pending(): boolean;
  /** Global position of the last appended event (read-your-writes for callers). */
  lastPosition(): number;
  /**
   * Whether the event `seq` (flushed) may have been in the store before this task appended it: the
   * store had it, or a later event, already (a lost task — a worker killed after its append — had
   * written them, and whoever reacts to them has reacted already). A JobSubmitted recorded ahead by
   * the command side does not make the events after it count as stored.
   */
  foundStored(seq: number): boolean;
}

/**
 * How a workflow reaches the event store: `remote` through the store owner's task queue
 * (`<queue>-store`; workers may run anywhere), `local` as local activities (the worker running the
 * workflow owns the SQLite file: one process, far fewer round trips per event).
 */
export type StoreAccess = 'local' | 'remote';

const STORE_RETRY = { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s' } as const;

/** The store's activities for this workflow. Retried without end: appends are idempotent, and the
 * record must not lose an event. */
export function storeActivities<A = EventStoreActivities>(access: StoreAccess | undefined): A {
  return access === 'local'
    ? (proxyLocalActivities<any>({ startToCloseTimeout: '30s', retry: STORE_RETRY }) as A)
    : (proxyActivities<any>({
        taskQueue: `${workflowInfo().taskQueue}-store`,
        startToCloseTimeout: '30s',
        retry: STORE_RETRY,
        // The record comes first, whatever the job's priority: a low-priority job's events (a batch's
        // pause, a control's answer) must not wait behind a backlog of urgent jobs' appends.
        priority: { priorityKey: 1 },
      }) as A);
}

/** The scheduler's activities (pools' lines, dependencies' outcomes), served by the process that
 * owns the read model: on `<queue>-scheduler`, or — `local` — as local activities of a worker in that
 * very process (one process runs everything: a pick costs no extra trip through Temporal). Retried
 * without end (they only read). */
export function schedulerActivities(
  access: StoreAccess | undefined = 'remote',
  options: {
    /** One try, a few seconds at most: for calls that only help (a failure is the caller's to ignore). */
    once?: boolean;
  } = {},
): SchedulerActivities {
  if (options.once) {
    const once = { startToCloseTimeout: '5s', retry: { maximumAttempts: 1 } } as const;
    return access === 'local'
      ? proxyLocalActivities<SchedulerActivities>(once)
      : proxyActivities<SchedulerActivities>({
          ...once,
          taskQueue: `${workflowInfo().taskQueue}-scheduler`,
          scheduleToCloseTimeout: '10s',
        });
  }
  const retry = { initialInterval: '200ms', maximumInterval: '5s' };
  return access === 'local'
    ? proxyLocalActivities<SchedulerActivities>({
        startToCloseTimeout: '30s',
        // Not registered here: the caller falls back to the scheduler's queue instead of retrying.
        retry: { ...retry, nonRetryableErrorTypes: ['NotFoundError'] },
      })
    : proxyActivities<SchedulerActivities>({
        taskQueue: `${workflowInfo().taskQueue}-scheduler`,
        startToCloseTimeout: '30s',
        retry,
      });
}

export function createEventOutbox(options: {
  streamId: string;
  correlationId: string;
  /** Fields put into every event's data (e.g. the job id). */
  baseData?: Record<string, unknown>;
  appendEvents: (request: AppendEventsRequest) => Promise<AppendResult>;
  /**
   * `flushed()` waits on a plain promise the flusher settles after each append, instead of a
   * `condition` in a non-cancellable scope of its own. Every promise workflow code creates costs the
   * SDK a captured, source-mapped stack (its stack-trace query; about 40 % of a busy workflow thread,
   * see sdk-typescript#1587): a scope and a condition are several each, and a wait that is already
   * over is one resolved promise. Awaiting code then resumes in a different order relative to other
   * coroutines of the same activation, so only runs started with this behaviour take it (jobWorkflow:
   * revision 6); replayed older runs keep the conditions.
   */
  plainWaits?: boolean;
}): EventOutbox {
  const info = workflowInfo();
  const outbox: { seq: number; event: NewEvent }[] = [];
  let recordedSeq = 0;
  let appendedSeq = 0;
  let position = 0;
  /** Last sequence number of the latest batch of which the store already had some events. */
  let storedUpTo = 0;

  /**
   * Appends one batch. An id taken by a *different* event (another type) means an earlier, lost
   * workflow task recorded something else under that id before a crash (its local-activity append
   * committed, its task did not). Both facts are kept: ours goes in under a derived id marked
   * `forkOf`, and the activity has logged the conflict at ERROR. Same id and type is the same fact
   * and is a no-op in the store, so this is rare; it must never wedge the job.
   */
  const appendBatch = async (events: NewEvent[]): Promise<AppendResult> => {
    for (;;) {
      try {
        return await options.appendEvents({ streamId: options.streamId, events });
      } catch (error) {
        const taken = conflictingEventId(error);
        if (taken === undefined || !events.some((e) => e.eventId === taken)) throw error;
        events = events.map((e) =>
          e.eventId === taken ? { ...e, eventId: `${e.eventId}:fork`, metadata: { ...e.metadata, forkOf: e.eventId } } : e,
        );
      }
    }
  };

  /** flushed() callers with plainWaits, in no particular order (each settles once its seq is in). */
  let waiters: { seq: number; resolve: () => void }[] = [];
  const releaseWaiters = () => {
    if (waiters.length === 0) return;
    const due = waiters.filter((w) => w.seq <= appendedSeq);
    if (due.length === 0) return;
    waiters = waiters.filter((w) => w.seq > appendedSeq);
    for (const w of due) w.resolve();
  };

  void CancellationScope.nonCancellable(async () => {
    for (;;) {
      await condition(() => outbox.length > 0);
      const batch = outbox.splice(0, 200);
      const result = await appendBatch(batch.map((b) => b.event));
      appendedSeq = batch[batch.length - 1]!.seq;
      // Which of the batch were stored already: up to the last one the store had (told apart when
      // the batch mixed both; an older store's result, in a replayed history, tells only "some").
      if (result.appended < batch.length) storedUpTo = batch[result.lastDuplicateIndex ?? batch.length - 1]!.seq;
      position = Math.max(position, result.lastGlobalPosition);
      releaseWaiters();
    }
  });

  return {
    record(type, data, who, eventId) {
      const seq = ++recordedSeq;
      outbox.push({
        seq,
        event: {
          eventId: eventId ?? `${options.streamId}:${info.runId}:${seq}`,
          type,
          data: { ...options.baseData, at: new Date().toISOString(), ...data },
          metadata: outboxMetadata(who, { correlationId: options.correlationId, workflowId: info.workflowId, runId: info.runId }),
        },
      });
      return seq;
    },
    flushed(seq = recordedSeq) {
      if (!options.plainWaits) return CancellationScope.nonCancellable(() => condition(() => appendedSeq >= seq));
      // Not cancellable either: nothing but the flusher settles it.
      if (appendedSeq >= seq) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push({ seq, resolve }));
    },
    pending: () => recordedSeq > appendedSeq,
    lastPosition: () => position,
    foundStored: (seq) => storedUpTo >= seq,
  };
}

/**
 * The metadata of an event a workflow records (its cause is the run). Also for whoever records one
 * ahead of the workflow with the same id (jobSubmittedEvent): the same event, the same metadata.
 */
export function outboxMetadata(who: Actor, ids: { correlationId: string; workflowId: string; runId: string }): EventMetadata {
  return {
    actor: who.actor,
    ...(who.reason !== undefined ? { reason: who.reason } : {}),
    ...(who.updateId !== undefined ? { updateId: who.updateId } : {}),
    ...(who.requestId !== undefined ? { requestId: who.requestId } : {}),
    correlationId: ids.correlationId,
    causationId: ids.runId,
    workflowId: ids.workflowId,
    runId: ids.runId,
  };
}

/** The event id named by an EventIdConflict failure of the append activity, if that is what `error` is. */
function conflictingEventId(error: unknown): string | undefined {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (!(cause instanceof ApplicationFailure) || cause.type !== EVENT_ID_CONFLICT) return undefined;
  const details = cause.details?.[0] as { eventId?: unknown } | undefined;
  return typeof details?.eventId === 'string' ? details.eventId : undefined;
}
