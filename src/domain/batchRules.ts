/** What a batch allows in each state: the guards of its control signals and updates. */
import { type ControlAction, refusePriority } from './control.js';
import { INVALID_TRANSITION, type Refusal } from './errors.js';
import type { BatchStatus } from './batchStatus.js';

export interface BatchControlState {
  status: BatchStatus;
  priority: number;
  /** Cancelled, failed by its policy, or final: it only winds down now. */
  finishing: boolean;
  /** A cancel was requested (the status still says running while jobs wind down). */
  cancelRequested: boolean;
}

/** Why `action` is refused for a batch in `state` (undefined: allowed). */
export function refuseBatchControl(action: ControlAction, state: BatchControlState, priority?: unknown): Refusal | undefined {
  const no = (message: string): Refusal => ({ type: INVALID_TRANSITION, message });
  const shown = state.cancelRequested ? 'cancelled' : state.status;
  switch (action) {
    case 'pause':
      if (state.finishing) return no(`Batch is ${shown}; it cannot be paused`);
      return state.status === 'paused' ? no('Batch is already paused') : undefined;
    case 'resume':
      return state.status !== 'paused' || state.finishing ? no(`Batch is ${state.status}, not paused`) : undefined;
    case 'cancel':
      return state.finishing ? no(`Batch is already ${shown}`) : undefined;
    case 'reprioritize': {
      const invalid = refusePriority(priority);
      if (invalid) return invalid;
      if (state.finishing) return no(`Batch is ${state.status}; its priority cannot change`);
      return priority === state.priority ? no(`Batch already has priority ${priority}`) : undefined;
    }
  }
}
