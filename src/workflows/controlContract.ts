/**
 * The control signals and updates every steerable workflow (job or batch) answers to. One definition,
 * so the names and payloads people type into `temporal workflow signal|update` cannot drift apart.
 */
import { defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ControlPayload, ReprioritizePayload } from '../domain/index.js';

/** The control contract of a workflow whose updates answer with `R`. */
export function defineControlContract<R>() {
  return {
    signals: {
      pause: defineSignal<[ControlPayload?]>('pause'),
      resume: defineSignal<[ControlPayload?]>('resume'),
      cancel: defineSignal<[ControlPayload?]>('cancel'),
      reprioritize: defineSignal<[ReprioritizePayload | number]>('reprioritize'),
    },
    updates: {
      pause: defineUpdate<R, [ControlPayload]>('pause'),
      resume: defineUpdate<R, [ControlPayload]>('resume'),
      cancel: defineUpdate<R, [ControlPayload]>('cancel'),
      reprioritize: defineUpdate<R, [ReprioritizePayload | number]>('reprioritize'),
    },
  };
}
