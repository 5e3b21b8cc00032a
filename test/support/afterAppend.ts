import type { AppendResult, EventStore, NewEvent } from '../../src/eventstore/index.js';

/** Runs after an append committed, before its caller gets the result (which it returns, or a promise of). */
export type AfterAppend = (result: AppendResult, streamId: string, events: NewEvent[]) => AppendResult | Promise<AppendResult>;

/**
 * The store, with `after` run on each `append*` call's result: a test can act in the window between
 * an append's commit and its answer reaching the workflow (kill the worker, hold the answer back).
 */
export function withAfterAppend(real: EventStore, after: AfterAppend): EventStore {
  const wrapped: Record<string, unknown> = { ...real };
  for (const [name, value] of Object.entries(real)) {
    if (!name.startsWith('append') || typeof value !== 'function') continue;
    wrapped[name] = (streamId: string, events: NewEvent[], ...rest: unknown[]) => {
      const result = (value as (...a: unknown[]) => unknown).apply(real, [streamId, events, ...rest]);
      return result instanceof Promise
        ? result.then((r) => after(r as AppendResult, streamId, events))
        : after(result as AppendResult, streamId, events);
    };
  }
  return wrapped as unknown as EventStore;
}
