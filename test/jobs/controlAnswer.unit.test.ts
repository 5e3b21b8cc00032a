/**
 * When the API answers a pause, resume or reprioritize: as soon as the event that carries its Update's
 * id is in the read model — it does not wait for the Update's own answer to travel back through
 * Temporal — and a refused Update still answers with its refusal. Fakes stand in for Temporal and the
 * projector: what is tested is the order of the waits (the real path runs in jobControl.int.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { JobCommands, type JobCommandsDeps } from '../../src/commands/jobCommands.js';
import { JobTypeRegistry } from '../../src/jobs/registry.js';
import { DomainError } from '../../src/domain/index.js';
import { ControlNotTakenYet, cancelCallsUnderWay } from '../../src/commands/controlWait.js';
import type { RecordedEvent } from '../../src/eventstore/index.js';
import type { JobRow } from '../../src/projections/jobReadModel.js';

/** The row before and after the control, the Update's calls, and a projector applying by hand. */
function harness(
  update: (updateId: string) => Promise<unknown>,
  options: { withWhenApplied?: boolean; controlWaitMs?: number; signalFails?: boolean } = {},
) {
  const row = { id: 'job_c', status: 'running', priority: 2 } as JobRow;
  let current = row;
  const sentUpdateIds: string[] = [];
  const matchers: ((e: RecordedEvent) => boolean)[] = [];
  const waitedFor: number[] = [];
  const projection: JobCommandsDeps['projection'] = {
    waitFor: async (position) => {
      waitedFor.push(position);
      return true;
    },
    waitUntil: async () => true,
    ...(options.withWhenApplied === false
      ? {}
      : {
          whenApplied: (match: (e: RecordedEvent) => boolean) => {
            let resolve: (e: RecordedEvent | undefined) => void = () => undefined;
            const promise = new Promise<RecordedEvent | undefined>((r) => (resolve = r));
            matchers.push((e) => {
              if (!match(e)) return false;
              resolve(e);
              return true;
            });
            return { promise, cancel: () => resolve(undefined) };
          },
        }),
  };
  let temporalCancels = 0;
  let aborts = 0;
  /** Signals sent (a control not taken in time is sent again as a signal), in order, with Temporal's cancels. */
  const sent: { name: string; payload?: Record<string, unknown> }[] = [];
  const client = {
    workflow: {
      getHandle: () => ({
        executeUpdate: (_definition: unknown, opts: { updateId?: string } = {}) => {
          sentUpdateIds.push(opts.updateId ?? '(none)');
          return update(opts.updateId ?? '(none)');
        },
        cancel: async () => {
          temporalCancels++;
          sent.push({ name: '(Temporal cancel request)' });
        },
        signal: async (definition: { name: string }, payload: Record<string, unknown>) => {
          if (options.signalFails) throw new Error('UNAVAILABLE: no Temporal');
          sent.push({ name: definition.name, payload });
        },
      }),
    },
    // As the SDK's: an abort cancels the calls made inside (their RPCs fail).
    withAbortSignal: <T>(signal: AbortSignal, fn: () => Promise<T>) =>
      new Promise<T>((resolve, reject) => {
        signal.addEventListener('abort', () => {
          aborts++;
          reject(new Error('CANCELLED: the call was cancelled'));
        });
        fn().then(resolve, reject);
      }),
  };
  const commands = new JobCommands({
    client: client as unknown as JobCommandsDeps['client'],
    taskQueue: 'q',
    registry: new JobTypeRegistry(),
    readModel: { getJob: () => current } as unknown as JobCommandsDeps['readModel'],
    projection,
    defaultJobType: 'noop',
    visibilityTimeoutMs: 2_000,
    ...(options.controlWaitMs ? { controlWaitMs: options.controlWaitMs } : {}),
  });
  /** The projector applies an event (the row changes with it). */
  const apply = (metadata: Record<string, unknown>, after: Partial<JobRow>) => {
    current = { ...current, ...after };
    const event = { type: 'JobPaused', metadata, data: {}, globalPosition: 7 } as unknown as RecordedEvent;
    return matchers.some((m) => m(event));
  };
  return {
    row,
    commands,
    client,
    sentUpdateIds,
    apply,
    waitedFor,
    matchers,
    sent,
    temporalCancels: () => temporalCancels,
    aborts: () => aborts,
  };
}

const never = () => new Promise<never>(() => undefined);

describe('JobCommands: a control answers once its event is in the read model', () => {
  it('answers a pause when the event carrying its Update id is applied, though the Update has not answered', async () => {
    const h = harness(never);
    const answer = h.commands.control(h.row, 'pause', 'alice', 'lunch');
    await new Promise((r) => setTimeout(r, 10));
    expect(h.sentUpdateIds).toHaveLength(1);
    expect(h.apply({ updateId: 'another update' }, {})).toBe(false); // not ours: still waiting
    expect(h.apply({ updateId: h.sentUpdateIds[0] }, { status: 'paused' })).toBe(true);
    expect((await answer).status).toBe('paused');
    expect(h.waitedFor).toEqual([]); // no wait for the Update's answer or its position
  });

  it('does the same for reprioritize', async () => {
    const h = harness(never);
    const answer = h.commands.reprioritize(h.row, 4, 'alice');
    await new Promise((r) => setTimeout(r, 10));
    h.apply({ updateId: h.sentUpdateIds[0] }, { priority: 4 });
    expect((await answer).priority).toBe(4);
  });

  it('answers from the Update when its answer comes first, after the read model has caught up with its position', async () => {
    const h = harness(async () => ({ state: {}, position: 42 }));
    expect((await h.commands.control(h.row, 'resume', 'alice')).id).toBe('job_c');
    expect(h.waitedFor).toEqual([42]);
    expect(h.matchers).toHaveLength(1); // the event waiter was set up, and then given up (cancelled)
  });

  it('a refused Update still answers with its refusal (nothing was recorded)', async () => {
    const refused = () =>
      Promise.reject(
        new WorkflowUpdateFailedError(
          'refused',
          ApplicationFailure.create({ type: 'JobNotPaused', message: 'Job is running; only a paused job can be resumed' }),
        ),
      );
    const h = harness(refused);
    await expect(h.commands.control(h.row, 'resume', 'alice')).rejects.toThrow(DomainError);
    await expect(h.commands.control(h.row, 'resume', 'alice')).rejects.toThrow(/only a paused job can be resumed/);
  });

  it('without a projector that reports applied events, waits for the Update as before', async () => {
    const h = harness(async () => ({ state: {}, position: 9 }), { withWhenApplied: false });
    await h.commands.control(h.row, 'pause', 'alice');
    expect(h.waitedFor).toEqual([9]);
  });

  it('an Update not taken within the control wait (no worker ran the job) answers ControlNotTakenYet', async () => {
    const h = harness(never, { controlWaitMs: 30 });
    const pause = h.commands.control(h.row, 'pause', 'alice', 'lunch');
    await expect(pause).rejects.toThrow(ControlNotTakenYet);
    await expect(pause).rejects.toMatchObject({ kept: true });
    await expect(pause).rejects.toThrow(/within 30 ms .*kept in the workflow's history/);
    // Sent again as a signal with the Update's id: a signal is kept in the history, an Update not taken is not.
    expect(h.sent).toEqual([{ name: 'pause', payload: { actor: 'alice', reason: 'lunch', requestId: h.sentUpdateIds[0] } }]);
    await expect(h.commands.reprioritize(h.row, 4, 'alice')).rejects.toThrow(/not taken by job_c's workflow within 30 ms/);
    expect(h.sent[1]).toEqual({
      name: 'reprioritize',
      payload: { priority: 4, actor: 'alice', reason: undefined, requestId: h.sentUpdateIds[1] },
    });
    expect(h.temporalCancels()).toBe(0);
    // A cancel not taken yet: its signal, then Temporal's cancel request (the execution closes as Canceled).
    await expect(h.commands.control(h.row, 'cancel', 'alice')).rejects.toThrow(ControlNotTakenYet);
    expect(h.sent.slice(2)).toEqual([
      { name: 'cancel', payload: { actor: 'alice', reason: undefined, closeAsCanceled: true, requestId: h.sentUpdateIds[2] } },
      { name: '(Temporal cancel request)' },
    ]);
  });

  it('a control not taken whose signal could not be sent either says it may be lost', async () => {
    const h = harness(never, { controlWaitMs: 30, signalFails: true });
    const pause = h.commands.control(h.row, 'pause', 'alice');
    await expect(pause).rejects.toMatchObject({ kept: false });
    await expect(pause).rejects.toThrow(/unless Temporal restarts first/);
    // A cancel is kept by Temporal's cancel request alone.
    await expect(h.commands.control(h.row, 'cancel', 'alice')).rejects.toMatchObject({ kept: true });
    expect(h.temporalCancels()).toBe(1);
  });

  it('an Update call left running after its answer (from the read model) is cancelled when the engine stops', async () => {
    // (Closing the connection under it would drop it, and the SDK's retry of a dropped call throws on
    // the closed channel from a timer, uncaught.)
    let updateSettled = false;
    const h = harness(
      () =>
        never().finally(() => {
          updateSettled = true;
        }),
      { controlWaitMs: 60_000 },
    );
    const answer = h.commands.control(h.row, 'pause', 'alice');
    await new Promise((r) => setTimeout(r, 10));
    h.apply({ updateId: h.sentUpdateIds[0] }, { status: 'paused' });
    expect((await answer).status).toBe('paused'); // answered; its Update call still waits
    expect(h.aborts()).toBe(0);
    const started = Date.now();
    await cancelCallsUnderWay(h.client, 5_000);
    expect(Date.now() - started).toBeLessThan(1_000); // it ended at once, not at the bound
    expect(h.aborts()).toBe(1); // its call was cancelled
    expect(updateSettled).toBe(false); // (the fake's call itself never ends: the abort ended the wait)
    expect(h.sent).toEqual([]); // cancelled by the stop: not a wait run out, so no signal sent again
  });
});
