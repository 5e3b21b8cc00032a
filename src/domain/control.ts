/**
 * Payloads of the control signals and updates (`pause`, `resume`, `cancel`, `reprioritize`) shared by
 * jobs and batches. People type them into `temporal workflow signal`, so every field is optional and
 * reprioritize also takes a bare number.
 */
import { isPriority, PRIORITY_RANGE_MESSAGE } from './priority.js';
import { INVALID_ARGUMENT, type Refusal } from './errors.js';

/** Payload of pause, resume and cancel. Everything is optional, so `--input '{}'` or no input works. */
export interface ControlPayload {
  /** Why; kept in the event's metadata. */
  reason?: string;
  /** Who; the API sets `user:<id>`. Signals without it are recorded as `external` (CLI, Web UI). */
  actor?: string;
  /**
   * cancel only, set by the API and by batches: a Temporal cancel request of this execution follows,
   * so the workflow waits for it (up to 30 s) and closes as Canceled in the Web UI and
   * `temporal workflow list`. A workflow cannot request its own cancellation, so a plain `cancel`
   * signal closes the execution as Completed; its `JobStatus` search attribute says `cancelled`.
   */
  closeAsCanceled?: boolean;
  /**
   * An id of this request (any string). A control whose id the workflow has taken already changes
   * nothing and records nothing: the API sends a control as an Update with this id and, when no
   * worker took the Update within CONTROL_WAIT_MS, the same control again as this signal. A signal is
   * kept in the workflow's history (an Update not taken yet lives in the server's memory and is lost
   * if Temporal restarts); whichever comes first is the one taken. Also for anyone who resends a
   * signal and wants it taken once.
   */
  requestId?: string;
}

/** Payload of reprioritize: `{"priority": 4}` (a bare number is accepted too). */
export interface ReprioritizePayload extends ControlPayload {
  priority: number;
}

/** Who caused a change and why: the metadata of the event that records it. */
export interface Actor {
  actor: string;
  reason?: string;
  /** The Temporal Update that asked for the change, if one did: in the event's metadata, so whoever
   * sent it can tell when its event is in the read model (before the Update's answer comes back). */
  updateId?: string;
  /** The request id of a control that came as a signal (ControlPayload.requestId). */
  requestId?: string;
}

export type ControlAction = 'pause' | 'resume' | 'cancel' | 'reprioritize';

export const actorOf = (payload: ControlPayload | undefined, fallback = 'external'): Actor => ({
  actor: typeof payload?.actor === 'string' && payload.actor ? payload.actor : fallback,
  ...(typeof payload?.reason === 'string' ? { reason: payload.reason } : {}),
});

/** A control payload's request id, if it has a usable one. */
export const requestIdOf = (payload: ControlPayload | undefined): string | undefined =>
  typeof payload?.requestId === 'string' && payload.requestId.length > 0 ? payload.requestId : undefined;

export const priorityOf = (payload: ReprioritizePayload | number | undefined): unknown =>
  typeof payload === 'number' ? payload : payload?.priority;

/** The control payload part of a reprioritize payload (none for a bare number). */
export const controlPayloadOf = (payload: ReprioritizePayload | number | undefined): ControlPayload | undefined =>
  typeof payload === 'number' ? undefined : payload;

/** The argument check of reprioritize, the same for jobs and batches. */
export const refusePriority = (priority: unknown): Refusal | undefined =>
  isPriority(priority) ? undefined : { type: INVALID_ARGUMENT, message: PRIORITY_RANGE_MESSAGE };
