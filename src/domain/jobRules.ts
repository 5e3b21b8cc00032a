/** What a job allows in each status: the guards of its control signals and updates. */
import { type ControlAction, refusePriority } from './control.js';
import { INVALID_TRANSITION, type Refusal } from './errors.js';
import { isTerminalJobStatus, type JobStatus } from './jobStatus.js';

export interface JobControlState {
  status: JobStatus;
  priority: number;
}

/** Why `action` is refused for a job in `state` (undefined: allowed). `priority` is reprioritize's argument. */
export function refuseJobControl(action: ControlAction, state: JobControlState, priority?: unknown): Refusal | undefined {
  const no = (message: string): Refusal => ({ type: INVALID_TRANSITION, message });
  const { status } = state;
  switch (action) {
    case 'pause':
      if (isTerminalJobStatus(status)) return no(`Job is ${status}; it cannot be paused`);
      return status === 'paused' ? no('Job is already paused') : undefined;
    case 'resume':
      return status === 'paused' ? undefined : no(`Job is ${status}, not paused; only a paused job can be resumed`);
    case 'cancel':
      return isTerminalJobStatus(status) ? no(`Job is already ${status}; it cannot be cancelled`) : undefined;
    case 'reprioritize': {
      const invalid = refusePriority(priority);
      if (invalid) return invalid;
      if (isTerminalJobStatus(status)) return no(`Job is ${status}; its priority cannot change`);
      return priority === state.priority ? no(`Job already has priority ${priority}`) : undefined;
    }
  }
}

/** A job fails once this many of its step runs were lost with their workers (a step that kills its
 * worker every time); such losses do not spend the job's retry budget. */
export const DEFAULT_MAX_WORKER_LOSSES = 20;
