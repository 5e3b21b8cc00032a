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
import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  currentUpdateInfo,
  setHandler,
} from '@temporalio/workflow';
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
  /** Controls that came in this workflow task and are not taken yet (`takeAfterTaskNews`). */
  waiting(): boolean;
  /** Resolves once the controls waiting now are taken (at once when none waits). */
  taken(): Promise<void>;
  /** Runs `take` where a control would be taken: after the task's other news (`takeAfterTaskNews`), else now. */
  later(take: () => void): void;
}

export interface ControlSurfaceOptions {
  /** Ids taken by the run before (continue-as-new): their events are that run's. */
  carriedIds?: readonly string[];
  /**
   * Take each control after everything else the same workflow task brought (an activity's result, a
   * child's end, a timer), once the workflow has reacted to it, instead of before it as the SDK
   * delivers signals and updates. Why: Temporal refuses a task that closes the run when a control
   * arrives while it runs (UNHANDLED_COMMAND), and runs it again with the control in it. The refused
   * task's events were appended already (by local activity); taken first, the control would record
   * its own event under the id the refused task gave the end (a forked id), and a pause would keep a
   * job whose steps are all done paused. Taken after, the task records what the refused one did —
   * the same events, the same ids — and the control meets a finished run (recorded as ignored, or an
   * Update refused). Runs started before this take controls first (replay).
   */
  takeAfterTaskNews?: boolean;
  /**
   * With takeAfterTaskNews: whether the workflow has reacted to its task's news, for news that reach
   * it through a condition of its own rather than a promise (a batch's child ended: its window wakes
   * on a condition, in the same pass as the controls). Controls wait until it holds. Default: always.
   */
  readyToTake?: () => boolean;
}

export function installControlSurface<R>(
  definitions: ControlDefinitions<R>,
  target: ControlTarget<R>,
  { carriedIds = [], takeAfterTaskNews = false, readyToTake = () => true }: ControlSurfaceOptions = {},
): ControlSurface {
  // id → the sequence number of the event that took it (0: in the run before).
  const taken = new RememberedIds<number>(REMEMBERED_CONTROL_IDS, carriedIds, 0);
  // Controls of this task not taken yet, in the order they came (takeAfterTaskNews).
  const queue: (() => void)[] = [];
  let drained: Promise<void> = Promise.resolve();
  const later = (take: () => void): void => {
    if (!takeAfterTaskNews) return take();
    queue.push(take);
    if (queue.length > 1) return; // a drain waits already
    // A condition armed by a microtask. The SDK delivers a task's jobs one after the other, checking
    // the conditions after each (no microtask runs meanwhile), then runs the microtasks — the workflow
    // code reacting to the jobs, as far as it can go — and only then checks the conditions again. Armed
    // in a microtask, this one is seen true only then: once the workflow has reacted to all the rest.
    // Not cancellable: a control must be taken while Temporal cancels the run.
    drained = CancellationScope.nonCancellable(async () => {
      let armed = false;
      const due = condition(() => armed && readyToTake());
      void Promise.resolve().then(() => (armed = true));
      await due;
      while (queue.length > 0) queue.shift()!();
    });
  };
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
    setHandler(definitions.signals[action] as SignalDefinition<[AnyPayload]>, (payload: AnyPayload) =>
      later(() => {
        const requestId = requestIdOf(controlPayloadOf(payload as ReprioritizePayload | number | undefined));
        if (taken.has(requestId)) return; // taken already (its Update came first)
        const by = { ...who(payload), ...(requestId !== undefined ? { requestId } : {}) };
        const refusal = target.refuse(action, argument(action, payload));
        if (refusal) target.ignored(action, refusal.message, by);
        else taken.remember(requestId, perform(action, payload, by));
      }),
    );
    setHandler(
      definitions.updates[action] as UpdateDefinition<R, [AnyPayload]>,
      // The Update's id goes into the event's metadata: the API answers as soon as the event is in the
      // read model, without waiting for this task to complete and its answer to travel back.
      async (payload: AnyPayload) => {
        const updateId = currentUpdateInfo()?.id;
        const take = (): number => {
          const earlier = taken.get(updateId);
          if (earlier !== undefined) return earlier; // its signal came first
          // Taken after the task's news, the run may have moved on since the validator passed it.
          const refusal = takeAfterTaskNews ? target.refuse(action, argument(action, payload)) : undefined;
          if (refusal) throw ApplicationFailure.create({ type: refusal.type, message: refusal.message, nonRetryable: true });
          const seq = perform(action, payload, { ...who(payload), ...(updateId ? { updateId } : {}) });
          taken.remember(updateId, seq);
          return seq;
        };
        if (!takeAfterTaskNews) return target.answer(take());
        const seq = await new Promise<number>((resolve, reject) =>
          later(() => {
            try {
              resolve(take());
            } catch (error) {
              reject(error);
            }
          }),
        );
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
  return {
    carried: () => (taken.size > 0 ? { controlIds: taken.ids() } : {}),
    waiting: () => queue.length > 0,
    taken: () => (queue.length > 0 ? drained : Promise.resolve()),
    later,
  };
}

/**
 * Waits until the run may close (or continue as new) without losing anything (takeAfterTaskNews): every
 * control that came is taken, every event recorded is in the store, every handler has finished, and
 * `idle` holds (e.g. a batch's controls to its jobs are sent). A control may come during any of these
 * waits; it is taken and recorded too. Not cancellable: Temporal's cancel must not cut the record short.
 */
export function settleBeforeClose(
  controls: ControlSurface,
  record: { pending(): boolean; flushed(): Promise<void> },
  idle: () => boolean = () => true,
): Promise<void> {
  return CancellationScope.nonCancellable(async () => {
    for (;;) {
      if (controls.waiting()) await controls.taken();
      else if (record.pending()) await record.flushed();
      else if (!allHandlersFinished() || !idle())
        await condition(() => (allHandlersFinished() && idle()) || controls.waiting() || record.pending());
      else return;
    }
  });
}
