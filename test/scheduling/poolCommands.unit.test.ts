import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventStore } from '../../src/eventstore/index.js';
import type { ReadModelDb } from '../../src/projections/readModelDb.js';
import { JobReadModel } from '../../src/projections/jobReadModel.js';
import type { Projector } from '../../src/projections/projector.js';
import { PoolCommands } from '../../src/commands/poolCommands.js';
import { DomainError, PoolEvents, poolStreamId } from '../../src/domain/index.js';
import { openProjectedStore, type ProjectedStore } from '../support/projectedStore.js';

/**
 * PUT /pools/{name} when the pool's Update does not answer: the error it maps to. The pool's workflow
 * is stood in for by what Temporal answers (the failure the server writes for an Update accepted by a
 * run that closed first), and by the events that run recorded; the read model is the real one.
 */
let projected: ProjectedStore;
let store: EventStore;
let db: ReadModelDb;
let projector: Projector;

beforeEach(async () => {
  projected = openProjectedStore('pool-commands');
  ({ store, db, projector } = projected);
  const at = new Date().toISOString();
  const created = store.appendToStream(poolStreamId('gpu'), [
    { eventId: 'pool:gpu:created', type: PoolEvents.created, data: { pool: 'gpu', limit: 2, at } },
  ]).lastGlobalPosition;
  await projector.waitFor(created, 5_000);
});
afterEach(() => projected.dispose());

/** PoolCommands whose pool answers every Update with `failure`, after `recordFirst` (what its run did). */
function poolCommandsAnswering(failure: ApplicationFailure, recordFirst: () => void = () => undefined): PoolCommands {
  const client = {
    workflow: {
      getHandle: () => ({
        executeUpdate: async () => {
          recordFirst();
          throw new WorkflowUpdateFailedError('Workflow Update failed', failure);
        },
      }),
    },
    withAbortSignal: (_signal: AbortSignal, fn: () => Promise<unknown>) => fn(),
  } as unknown as Client;
  return poolCommandsOver(client);
}

/** PoolCommands over the real read model, with `client` standing in for Temporal. */
function poolCommandsOver(client: Client, controlWaitMs?: number): PoolCommands {
  return new PoolCommands({
    client,
    taskQueue: 'q',
    readModel: new JobReadModel(db),
    projection: projector,
    storeAccess: 'local',
    visibilityTimeoutMs: 2_000,
    ...(controlWaitMs ? { controlWaitMs } : {}),
  });
}

describe('PoolCommands.setLimit', () => {
  it('answers with the new limit when the pool recorded it and then continued as new before answering', async () => {
    const outlived = ApplicationFailure.create({
      type: 'AcceptedUpdateCompletedWorkflow',
      message: 'Workflow Update failed because the Workflow completed before the Update completed.',
      nonRetryable: true,
    });
    const commands = poolCommandsAnswering(outlived, () =>
      store.appendToStream(poolStreamId('gpu'), [
        {
          eventId: 'pool:gpu:limit-5',
          type: PoolEvents.limitChanged,
          data: { pool: 'gpu', limit: 5, from: 2, at: new Date().toISOString() },
        },
      ]),
    );
    const { pool, pending } = await commands.setLimit('gpu', 5, 'user:test');
    expect(pool.limit).toBe(5);
    expect(pending).toBeUndefined();
  });

  it('answers 503 (try again), not 400, when the run that accepted the change closed without recording it', async () => {
    const outlived = ApplicationFailure.create({ type: 'AcceptedUpdateCompletedWorkflow', nonRetryable: true });
    const error = await poolCommandsAnswering(outlived)
      .setLimit('gpu', 5, 'user:test')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).kind).toBe('unavailable');
  });

  it('still answers a limit the pool refused as invalid input (400)', async () => {
    const refused = ApplicationFailure.create({
      type: 'InvalidArgument',
      message: 'limit must be an integer from 0 to 10000',
      nonRetryable: true,
    });
    const error = await poolCommandsAnswering(refused)
      .setLimit('gpu', 5, 'user:test')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).kind).toBe('invalid');
    expect((error as DomainError).message).toContain('limit must be');
  });

  describe('when no worker takes the Update within the control wait', () => {
    /** A pool whose Update is never taken (it waits until the wait aborts it); its signal as `signal` says. */
    function poolCommandsNotTaking(signal: (name: string, payload: Record<string, unknown>) => Promise<void>) {
      const sentUpdateIds: string[] = [];
      const client = {
        workflow: {
          getHandle: () => ({
            executeUpdate: (_definition: unknown, opts: { updateId?: string }) => {
              sentUpdateIds.push(opts.updateId ?? '(none)');
              return new Promise(() => undefined);
            },
            signal: (definition: { name: string }, payload: Record<string, unknown>) => signal(definition.name, payload),
          }),
        },
        withAbortSignal: <T>(abort: AbortSignal, fn: () => Promise<T>) =>
          new Promise<T>((resolve, reject) => {
            abort.addEventListener('abort', () => reject(new Error('CANCELLED: the call was cancelled')));
            fn().then(resolve, reject);
          }),
      } as unknown as Client;
      return { commands: poolCommandsOver(client, 50), sentUpdateIds };
    }

    it("sends the change again as the pool's setLimit signal with the Update's id and answers it pending (202)", async () => {
      const signals: { name: string; payload: Record<string, unknown> }[] = [];
      const { commands, sentUpdateIds } = poolCommandsNotTaking(async (name, payload) => {
        signals.push({ name, payload });
      });
      const { pool, pending } = await commands.setLimit('gpu', 5, 'user:ops', 'more gpus');
      expect(pool.limit).toBe(2); // as it is: nothing recorded yet
      expect(pending).toMatch(
        /^Limit change sent; not taken by pool gpu's workflow within 50 ms .*kept in the workflow's history/,
      );
      expect(signals).toEqual([
        { name: 'setLimit', payload: { limit: 5, actor: 'user:ops', reason: 'more gpus', requestId: sentUpdateIds[0] } },
      ]);
    });

    it('answers 503 (try again) when the signal could not be sent either', async () => {
      const { commands } = poolCommandsNotTaking(async () => {
        throw new Error('UNAVAILABLE: no Temporal');
      });
      const error = await commands.setLimit('gpu', 5, 'user:ops').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).kind).toBe('unavailable');
      expect((error as DomainError).message).toMatch(/^Limit change sent; not taken by pool gpu/);
    });
  });
});
