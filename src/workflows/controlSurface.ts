/**
 * The control surface of a steerable workflow (jobs and batches alike): the `pause`, `resume`,
 * `cancel` and `reprioritize` signals and updates, checked by the domain's rules. A signal that the
 * rules refuse changes nothing and is recorded as ignored (a signal cannot answer); an update that
 * they refuse is rejected by its validator before anything is written.
 *
 * A control is taken once per id: an Update's id, or a signal's `requestId`. The API sends a control
 * as an Update and, when no worker took it within its wait, the same control as a signal with the
 * Update's id (kept in the history, where an Update not taken yet is lost if Temporal restarts): the
 * one that comes second changes nothing, records nothing, and an Update answers as the first did.
 */
import { ApplicationFailure, currentUpdateInfo, setHandler } from '@temporalio/workflow';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import { RememberedIds } from './rememberedIds.js';
import {
  actorOf,
  controlPayloadOf,
  priorityOf,
  requestIdOf,
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

/** How many ids of controls taken a workflow remembers (the second of a pair comes soon after the first). */
const REMEMBERED_CONTROL_IDS = 200;

/** What the workflow keeps of its control surface. */
export interface ControlSurface {
  /** What a new run (continue-as-new) carries: the ids of the controls taken lately, oldest first
   * (nothing when there are none, as runs from before control ids carried nothing). */
  carried(): { controlIds?: string[] };
}

export function installControlSurface<R>(
  definitions: ControlDefinitions<R>,
  target: ControlTarget<R>,
  /** Ids taken by the run before (continue-as-new): their events are that run's. */
  carriedIds: readonly string[] = [],
): ControlSurface {
  // id → the sequence number of the event that took it (0: in the run before).
  const taken = new RememberedIds<number>(REMEMBERED_CONTROL_IDS, carriedIds, 0);
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
      const requestId = requestIdOf(controlPayloadOf(payload as ReprioritizePayload | number | undefined));
      if (taken.has(requestId)) return; // taken already (its Update came first)
      const by = { ...who(payload), ...(requestId !== undefined ? { requestId } : {}) };
      const refusal = target.refuse(action, argument(action, payload));
      if (refusal) target.ignored(action, refusal.message, by);
      else taken.remember(requestId, perform(action, payload, by));
    });
    setHandler(
      definitions.updates[action] as UpdateDefinition<R, [AnyPayload]>,
      // The Update's id goes into the event's metadata: the API answers as soon as the event is in the
      // read model, without waiting for this task to complete and its answer to travel back.
      async (payload: AnyPayload) => {
        const updateId = currentUpdateInfo()?.id;
        const earlier = taken.get(updateId);
        if (earlier !== undefined) return target.answer(earlier); // its signal came first
        const seq = perform(action, payload, { ...who(payload), ...(updateId ? { updateId } : {}) });
        taken.remember(updateId, seq);
        return target.answer(seq);
      },
      {
        validator: (payload: AnyPayload) => {
          if (taken.has(currentUpdateInfo()?.id)) return; // taken as a signal: answered as such
          const refusal = target.refuse(action, argument(action, payload));
          if (refusal) throw ApplicationFailure.create({ type: refusal.type, message: refusal.message, nonRetryable: true });
        },
      },
    );
  }
  return { carried: () => (taken.size > 0 ? { controlIds: taken.ids() } : {}) };
}
