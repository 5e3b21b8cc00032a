import { createSchedulerActivities, type SchedulerDeps } from '../../src/activities/schedulerActivities.js';
import type { TestEngine } from './testEngine.js';

/** The scheduler's activities as the engine serves them (its store, read model and client), called directly. */
export const schedulerOfEngine = (engine: TestEngine, overrides: Partial<SchedulerDeps> = {}) =>
  createSchedulerActivities({
    client: engine.client,
    taskQueue: engine.taskQueue,
    eventStore: engine.eventStore,
    readModelDb: engine.readModelDb,
    waitFor: (position, timeoutMs) => engine.projector.waitFor(position, timeoutMs),
    poolLimits: {},
    defaultPoolLimit: 1,
    storeAccess: 'local',
    ...overrides,
  });

/**
 * A job's JobSubmitted in `pool`, recorded as the API would, with no workflow started for it (it is in
 * the pool's line once applied). Returns its position in the log.
 */
export const recordSubmittedJob = (engine: TestEngine, jobId: string, pool: string, data: Record<string, unknown> = {}) =>
  engine.eventStore.appendToStream(jobId, [
    {
      eventId: `${jobId}:submitted`,
      type: 'JobSubmitted',
      data: {
        jobId,
        name: jobId,
        type: 'noop',
        priority: 5,
        owner: 'local',
        totalSteps: 1,
        maxAttempts: 1,
        pool,
        weight: 1,
        ...data,
      },
    },
  ]).lastGlobalPosition;
