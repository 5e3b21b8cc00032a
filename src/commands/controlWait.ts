import type { Client } from '@temporalio/client';

/** How long a control waits for its job's (or batch's) workflow to take it, by default (ms). */
export const DEFAULT_CONTROL_WAIT_MS = 10_000;

/**
 * A control was sent but its workflow did not take it within the wait: no worker ran the workflow's
 * task meanwhile (none running, or all busy behind a backlog). Temporal keeps the Update with the
 * workflow and hands it over with its next task, so it usually still takes effect; a Temporal server
 * that restarts first drops it. The API answers 202 (sent, not taken yet), never a request left hanging.
 */
export class ControlNotTakenYet extends Error {
  override readonly name = 'ControlNotTakenYet';
  constructor(
    /** The job or batch the control was sent to. */
    readonly targetId: string,
    /** How long it waited (ms). */
    readonly waitedMs: number,
  ) {
    super(
      `sent; not taken by ${targetId}'s workflow within ${waitedMs >= 1000 ? `${(waitedMs / 1000).toFixed(1)} s` : `${waitedMs} ms`} ` +
        '(is a worker running?): ' +
        'it takes effect when the workflow runs next, unless Temporal restarts first. GET it to see.',
    );
  }
}

/**
 * Runs a control's Update call with a bound: the SDK waits for the Update to be accepted with no end
 * of its own (it asks again each time Temporal answers "admitted, not accepted yet"), so with no
 * worker a control's request would hang for as long as the caller waits. After `waitMs` the call is
 * aborted (its RPC cancelled; the Update Temporal admitted stays with the workflow) and this throws
 * ControlNotTakenYet.
 */
export async function withinControlWait<T>(
  client: Pick<Client, 'withAbortSignal'>,
  targetId: string,
  waitMs: number,
  call: () => Promise<T>,
): Promise<T> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), waitMs);
  try {
    return await client.withAbortSignal(abort.signal, call);
  } catch (error) {
    if (abort.signal.aborted) throw new ControlNotTakenYet(targetId, waitMs);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
