import type { Client, WorkflowHandle } from '@temporalio/client';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import { settledWithin } from './pollUntil.js';

/** How long a control (or a deletion) waits for its workflow to take it, by default (ms). */
export const DEFAULT_CONTROL_WAIT_MS = 10_000;

/** `10.0 s`, or `300 ms` below a second. */
export const formatWait = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms} ms`);

/**
 * A command was handed to Temporal and what it asked for has not happened within its wait: no worker
 * ran the workflow meanwhile (none running, or all far behind), or the work is long. It happens when a
 * worker runs it. The API answers 202 (`pending: true`, this message), never a request left hanging.
 */
export class NotDoneYet extends Error {
  override readonly name: string = 'NotDoneYet';
}

/**
 * A control was sent but its workflow did not take it within the wait. Temporal keeps the Update with
 * the workflow and hands it over with its next task, so it usually still takes effect; a Temporal
 * server that restarts first drops it — unless the control was sent again as a signal (`kept`, see
 * sendKept), which the workflow's history keeps.
 */
export class ControlNotTakenYet extends NotDoneYet {
  override readonly name = 'ControlNotTakenYet';
  constructor(
    /** The job or batch the control was sent to. */
    readonly targetId: string,
    /** How long it waited (ms). */
    readonly waitedMs: number,
    /** The control is in the workflow's history too (a signal): a Temporal restart does not lose it. */
    readonly kept = false,
  ) {
    super(
      `sent; not taken by ${targetId}'s workflow within ${formatWait(waitedMs)} (is a worker running?): ` +
        (kept
          ? "it is kept in the workflow's history and takes effect when the workflow runs next. GET it to see."
          : 'it takes effect when the workflow runs next, unless Temporal restarts first. GET it to see.'),
    );
  }
}

/**
 * Sends a control (`update`: its Update, bounded by withinControlWait) and, when the workflow did not
 * take it within the wait, sends it again as a signal (`resend`) with the Update's id as its
 * `requestId`. An Update Temporal admitted but no worker took yet lives in the server's memory only; the
 * signal is written to the workflow's history, so the control survives a Temporal restart. The
 * workflow takes whichever of the two comes first and ignores the other (same id; controlSurface).
 * Throws ControlNotTakenYet, `kept` if the signal went out.
 */
export async function sendKept<T>(update: () => Promise<T>, resend: () => Promise<unknown>): Promise<T> {
  try {
    return await update();
  } catch (error) {
    if (!(error instanceof ControlNotTakenYet)) throw error;
    const kept = await resend().then(
      () => true,
      () => false, // (the workflow closed meanwhile, or Temporal is down: the 202 says it may be lost)
    );
    throw new ControlNotTakenYet(error.targetId, error.waitedMs, kept);
  }
}

/**
 * A control of a job or a batch, sent kept (sendKept): its Update with `updateId`, through `bounded` (the
 * caller's withinControlWait and error mapping), and when that was not taken in time, its signal with
 * the same payload and `requestId: updateId`.
 */
export function sendControl<R, A, P extends A & object>(
  handle: Pick<WorkflowHandle, 'executeUpdate' | 'signal'>,
  /** The control's Update and signal (the contract's: same name, same payload; the signal's is optional). */
  definitions: { update: UpdateDefinition<R, [A]>; signal: SignalDefinition<[A]> | SignalDefinition<[A?]> },
  payload: P,
  updateId: string,
  bounded: (call: () => Promise<R>) => Promise<R>,
): Promise<R> {
  return sendKept(
    () => bounded(() => handle.executeUpdate(definitions.update, { args: [payload], updateId })),
    () => handle.signal(definitions.signal as SignalDefinition<[A]>, { ...payload, requestId: updateId }),
  );
}

/**
 * Runs `call` (calls to Temporal) with a bound: after `waitMs` its RPCs are cancelled and `timedOut()`
 * is thrown. Both an Update (the SDK asks again each time Temporal answers "admitted, not accepted
 * yet") and a workflow's result (a long poll, renewed) wait with no end of their own, so with no worker
 * a request would hang for as long as its caller waits.
 */
export async function withinWait<T>(
  client: Pick<Client, 'withAbortSignal'>,
  waitMs: number,
  call: () => Promise<T>,
  timedOut: () => Error,
): Promise<T> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), waitMs);
  const calls = callsUnderWay(client);
  let ended: () => void = () => undefined;
  const entry = { abort, settled: new Promise<void>((resolve) => (ended = resolve)) };
  calls.add(entry);
  try {
    return await client.withAbortSignal(abort.signal, call);
  } catch (error) {
    if (abort.signal.reason === STOPPING)
      throw new Error('the engine is stopping: the call to Temporal was cancelled', { cause: error });
    if (abort.signal.aborted) throw timedOut();
    throw error;
  } finally {
    clearTimeout(timer);
    calls.delete(entry);
    ended();
  }
}

/** The reason a call under way is aborted with when its engine stops (not its wait running out). */
const STOPPING = Symbol('stopping');

/** Calls under withinWait, per client, with their abort and a promise settled once each has ended. */
const underWay = new WeakMap<object, Set<{ abort: AbortController; settled: Promise<void> }>>();
const callsUnderWay = (client: object) => {
  let calls = underWay.get(client);
  if (!calls) underWay.set(client, (calls = new Set()));
  return calls;
};

/**
 * Cancels the calls to Temporal still under a wait (withinWait) and resolves once they have ended (at
 * most `boundMs`). A control answered from the read model leaves its Update's call running for its
 * answer; closing the connection under it drops the call, the SDK retries a dropped call, and its
 * retry on the closed channel throws from a timer, uncaught. So an engine runs this before it closes
 * its connection. A cancelled call is not retried (and a control is not sent again as a signal).
 */
export async function cancelCallsUnderWay(client: object, boundMs = 2_000): Promise<void> {
  const calls = [...(underWay.get(client) ?? [])];
  for (const { abort } of calls) abort.abort(STOPPING);
  await settledWithin(Promise.all(calls.map((c) => c.settled)), boundMs);
}

/** A control's Update call, bounded (withinWait): ControlNotTakenYet after `waitMs` (the Update that
 * Temporal admitted stays with the workflow). */
export function withinControlWait<T>(
  client: Pick<Client, 'withAbortSignal'>,
  targetId: string,
  waitMs: number,
  call: () => Promise<T>,
): Promise<T> {
  return withinWait(client, waitMs, call, () => new ControlNotTakenYet(targetId, waitMs));
}
