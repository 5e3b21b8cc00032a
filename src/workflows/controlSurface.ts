/**
 * The control surface of a steerable workflow (jobs and batches alike): the `pause`, `resume`,
 * `cancel` and `reprioritize` signals and updates, checked by the domain's rules. A signal that the
 * rules refuse changes nothing and is recorded as ignored (a signal cannot answer); an update that
 * they refuse is rejected by its validator before anything is written.
 */
import { ApplicationFailure, currentUpdateInfo, setHandler } from '@temporalio/workflow';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import {
  actorOf,
  controlPayloadOf,
  priorityOf,
  type Actor,
  type ControlAction,
  type ControlPayload,
  type Refusal,
  type ReprioritizePayload,
} from '../domain/index.js';

export interface ControlDefinitions<R> {
  signals: {
    pause: SignalDefinition<[ControlPayload?]>;
    resume: SignalDefinition<[ControlPayload?]>;
    cancel: SignalDefinition<[ControlPayload?]>;
    reprioritize: SignalDefinition<[ReprioritizePayload | number]>;
  };
  updates: {
    pause: UpdateDefinition<R, [ControlPayload]>;
    resume: UpdateDefinition<R, [ControlPayload]>;
    cancel: UpdateDefinition<R, [ControlPayload]>;
    reprioritize: UpdateDefinition<R, [ReprioritizePayload | number]>;
  };
}

/** What the workflow does for each control; every action returns the sequence number of its event. */
export interface ControlTarget<R> {
  refuse(action: ControlAction, priority?: unknown): Refusal | undefined;
  pause(who: Actor): number;
  resume(who: Actor): number;
  cancel(who: Actor, payload: ControlPayload | undefined): number;
  reprioritize(priority: number, who: Actor): number;
  /** Records a refused signal. */
  ignored(signal: ControlAction, why: string, who: Actor): void;
  /** An update's answer once the event with sequence `seq` is stored (read-your-writes). */
  answer(seq: number): Promise<R>;
}

type AnyPayload = ReprioritizePayload | number | ControlPayload | undefined;

export function installControlSurface<R>(definitions: ControlDefinitions<R>, target: ControlTarget<R>): void {
  const perform = (action: ControlAction, payload: AnyPayload, who: Actor): number => {
    switch (action) {
      case 'pause':
        return target.pause(who);
      case 'resume':
        return target.resume(who);
      case 'cancel':
        return target.cancel(who, payload as ControlPayload | undefined);
      case 'reprioritize':
        return target.reprioritize(priorityOf(payload as ReprioritizePayload | number) as number, who);
    }
  };
  const who = (payload: AnyPayload) => actorOf(controlPayloadOf(payload as ReprioritizePayload | number | undefined));
  const argument = (action: ControlAction, payload: AnyPayload) =>
    action === 'reprioritize' ? priorityOf(payload as ReprioritizePayload | number) : undefined;

  for (const action of ['pause', 'resume', 'cancel', 'reprioritize'] as const) {
    setHandler(definitions.signals[action] as SignalDefinition<[AnyPayload]>, (payload: AnyPayload) => {
      const refusal = target.refuse(action, argument(action, payload));
      if (refusal) target.ignored(action, refusal.message, who(payload));
      else perform(action, payload, who(payload));
    });
    setHandler(
      definitions.updates[action] as UpdateDefinition<R, [AnyPayload]>,
      // The Update's id goes into the event's metadata: the API answers as soon as the event is in the
      // read model, without waiting for this task to complete and its answer to travel back.
      async (payload: AnyPayload) => {
        const updateId = currentUpdateInfo()?.id;
        return target.answer(perform(action, payload, { ...who(payload), ...(updateId ? { updateId } : {}) }));
      },
      {
        validator: (payload: AnyPayload) => {
          const refusal = target.refuse(action, argument(action, payload));
          if (refusal) throw ApplicationFailure.create({ type: refusal.type, message: refusal.message, nonRetryable: true });
        },
      },
    );
  }
}
