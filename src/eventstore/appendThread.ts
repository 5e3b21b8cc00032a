import { MessageChannel, receiveMessageOnPort, type MessagePort, type Worker } from 'node:worker_threads';
import { startTsWorker } from '../tsWorker.js';
import {
  nextGroup,
  settleCommittedGroup,
  type GroupCommitter,
  type GroupedAppend,
  type Outcome,
  type QueuedAppend,
} from './groupCommit.js';
import type { AppendResult, SynchronousMode } from './typing.js';
import { fromWireError, type WireError } from './wireErrors.js';

/** What the append thread needs to open its connection. */
export interface AppendThreadSetup {
  path: string;
  busyTimeoutMs: number;
  synchronous: SynchronousMode;
}

export type AppendThreadOrder = { kind: 'commit'; id: number; calls: GroupedAppend[] } | { kind: 'close' };

export type WireOutcome = { ok: true; result: AppendResult } | { ok: false; error: WireError };

export type AppendThreadReply =
  | { kind: 'committed'; id: number; outcomes: WireOutcome[] }
  | { kind: 'failed'; id: number; error: WireError }
  /** The thread could not open its connection; it takes no group. */
  | { kind: 'broken'; error: WireError }
  | { kind: 'closed' };

interface AppendThread {
  worker: Worker;
  port: MessagePort;
  /** Ticked by the thread after each reply, so close() can block on it with Atomics.wait. */
  replies: Int32Array;
  closed: boolean;
}

export interface AppendThreadCommitterOptions {
  setup: AppendThreadSetup;
  /** Most calls committed in one group. */
  maxCallsPerGroup: number;
  /** Called on this thread after a group that wrote something was committed (wakes the readers). */
  onCommitted: (lastGlobalPosition: number) => void;
  /** The committer on the store's own connection: close() commits what is still queued through it. */
  inThisThread: GroupCommitter;
}

/**
 * Group commit in a thread of its own. The group committer (groupCommit.ts) runs on the thread that
 * calls it — the API's, in the single-process setup — and each of its commits blocks that thread for
 * the inserts and the WAL's fsync: during a 1,000-submit burst 9.6 % of the main thread's time went
 * to COMMIT, and every HTTP answer waited behind it. Here the same groups, formed the same way (the
 * callers of one turn of the event loop, at most `maxCallsPerGroup`), are committed by a worker
 * thread on a connection of its own, with the same code and the same durability (synchronous FULL: a
 * call resolves after its group's fsync). One group is in flight at a time; callers that arrive
 * meanwhile form the next, as they did while a commit blocked the thread. Outcomes come back per
 * call, errors rebuilt as their classes (wireErrors.ts), and the readers of this process are woken on
 * this thread after the commit, as before.
 *
 * The thread starts with the first group (its module load takes ~0.2 s) and does not keep the
 * process alive; a thread that dies fails only the group it held (its callers retry: appends are
 * idempotent by event id) and the next group starts a new one. `flush()` (the store's close()) waits
 * for the group in flight, closes the thread's connection, then commits what is still queued on the
 * store's own connection — synchronously, as close() promises.
 *
 * Opt-in (EventStoreOptions.appendThread, the engine's EVENTSTORE_APPEND_THREAD=1): on 2 cores the
 * calling thread was busy 20 % of the time instead of 100 % under 64 writers, but the whole engine
 * completed fewer jobs/s with it (0.52× bare against 0.63×): the thread's work, and each connection's
 * page cache dropped whenever the other commits, cost more than the freed thread gained there.
 */
export const createAppendThreadCommitter = (options: AppendThreadCommitterOptions): GroupCommitter => {
  const { setup, maxCallsPerGroup, onCommitted, inThisThread } = options;
  let queue: QueuedAppend[] = [];
  let scheduled: NodeJS.Immediate | undefined;
  let thread: AppendThread | undefined;
  let inFlight: { id: number; group: QueuedAppend[]; thread: AppendThread } | undefined;
  let lastId = 0;
  let closing = false;

  const startThread = (): AppendThread => {
    const { port1, port2 } = new MessageChannel();
    const replies = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
    const worker = startTsWorker(new URL('./appendThreadWorker.ts', import.meta.url), { ...setup, port: port2, replies }, [
      port2,
    ]);
    const started: AppendThread = { worker, port: port1, replies, closed: false };
    port1.on('message', (reply: AppendThreadReply) => onReply(started, reply));
    // Referenced only while a group is in flight: an idle store must not keep the process alive.
    port1.unref();
    worker.unref();
    // The bootstrap reports a failure to load the module on the worker's own channel.
    worker.on('message', (message: { ok?: boolean; error?: string }) => {
      if (message.ok === false) threadGone(started, new Error(`the append thread did not start: ${message.error}`));
    });
    worker.on('error', (error) => threadGone(started, error));
    worker.on('exit', (code) => threadGone(started, new Error(`the append thread exited (code ${code})`)));
    return started;
  };

  /** Ends the group in flight on `from`; the next group goes out in the next turn. */
  const endInFlight = (from: AppendThread): QueuedAppend[] | undefined => {
    if (inFlight?.thread !== from) return undefined;
    const { group } = inFlight;
    inFlight = undefined;
    if (!closing) {
      from.port.unref();
      if (queue.length > 0) schedule();
    }
    return group;
  };

  function onReply(from: AppendThread, reply: AppendThreadReply): void {
    if (reply.kind === 'closed') {
      from.closed = true;
      return;
    }
    if (reply.kind === 'broken') {
      threadGone(from, fromWireError(reply.error));
      void from.worker.terminate();
      return;
    }
    if (inFlight?.thread !== from || inFlight.id !== reply.id) return;
    const group = endInFlight(from)!;
    if (reply.kind === 'failed') {
      // Nothing of the group was committed: every caller sees the failure, as a lone append would.
      const error = fromWireError(reply.error);
      for (const call of group) call.reject(error);
      return;
    }
    settleCommittedGroup(
      group,
      reply.outcomes.map((outcome): Outcome => (outcome.ok ? outcome : { ok: false, error: fromWireError(outcome.error) })),
      onCommitted,
    );
  }

  function threadGone(gone: AppendThread, error: Error): void {
    if (thread === gone) thread = undefined;
    gone.closed = true;
    // Whether the group was committed is unknown: its callers retry, and a retry of a committed
    // append is recognised by its event ids.
    const group = endInFlight(gone);
    if (group) for (const call of group) call.reject(error);
  }

  function schedule(): void {
    scheduled ??= setImmediate(sendNextGroup);
  }

  function sendNextGroup(): void {
    scheduled = undefined;
    if (inFlight !== undefined || closing || queue.length === 0) return;
    let group: QueuedAppend[];
    [group, queue] = nextGroup(queue, maxCallsPerGroup);
    thread ??= startThread();
    inFlight = { id: ++lastId, group, thread };
    thread.port.ref();
    const calls = group.map(({ streamId, events, expectedVersion, duplicates }) => ({
      streamId,
      events,
      expectedVersion,
      duplicates,
    }));
    thread.port.postMessage({ kind: 'commit', id: inFlight.id, calls } satisfies AppendThreadOrder);
  }

  /** Handles the thread's replies synchronously until `done()` or the deadline (used by close() only). */
  const waitFor = (on: AppendThread, done: () => boolean, deadline: number): boolean => {
    for (;;) {
      if (done()) return true;
      const seen = Atomics.load(on.replies, 0);
      const message = receiveMessageOnPort(on.port);
      if (message !== undefined) {
        onReply(on, message.message as AppendThreadReply);
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) return false;
      Atomics.wait(on.replies, 0, seen, left);
    }
  };

  return {
    append(streamId, events, expectedVersion, duplicates) {
      // After close(): the store's connection answers (with its own error once it is closed).
      if (closing) return inThisThread.append(streamId, events, expectedVersion, duplicates);
      return new Promise<AppendResult>((resolve, reject) => {
        queue.push({ streamId, events, expectedVersion, duplicates, resolve, reject });
        schedule();
      });
    },
    flush() {
      closing = true;
      if (scheduled !== undefined) clearImmediate(scheduled);
      scheduled = undefined;
      const open = thread;
      thread = undefined;
      if (open !== undefined) {
        // A group may wait for the write lock as long as the busy timeout, then commit.
        const deadline = Date.now() + setup.busyTimeoutMs + 10_000;
        if (!waitFor(open, () => inFlight === undefined, deadline))
          threadGone(open, new Error('the append thread did not answer before the store closed'));
        open.port.postMessage({ kind: 'close' } satisfies AppendThreadOrder);
        waitFor(open, () => open.closed, deadline);
        open.port.close();
        void open.worker.terminate();
      }
      // Calls still queued are committed, not dropped: their callers are still waiting.
      for (const call of queue.splice(0))
        inThisThread.append(call.streamId, call.events, call.expectedVersion, call.duplicates).then(call.resolve, call.reject);
      inThisThread.flush();
    },
  };
};
