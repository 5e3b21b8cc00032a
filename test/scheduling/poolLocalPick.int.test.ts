import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { startInProcessWorkers, type InProcessWorkers } from '../support/inProcessWorkers.js';
import { startPoolWorkflow } from '../../src/activities/schedulerActivities.js';

/**
 * A pool started to pick by local activity (its workflows ran next to the read model) whose workflow
 * now runs on a worker without the scheduler's activities (the workers moved to a process of their
 * own): the local pick is not registered there, and the pool must go on through the scheduler's queue
 * instead of retrying it forever with every job left queued.
 */
let engine: TestEngine;
let workers: InProcessWorkers;

beforeAll(async () => {
  engine = await startTestEngine({ runWorkers: false, storeAccess: 'local' });
  workers = await startInProcessWorkers(engine);
});
afterAll(async () => {
  await workers?.stop();
  await engine?.dispose();
});

describe('a pool that picks by local activity on a worker without the scheduler', () => {
  it('falls back to the scheduler’s queue: its jobs get their slots and complete', async () => {
    await startPoolWorkflow(
      { client: engine.client, taskQueue: engine.taskQueue, storeAccess: 'local', pickLocally: true },
      'moved',
      1,
      'test',
    );
    await eventually(async () => engine.readModel.getPool('moved') !== undefined, 20_000, 'pool recorded');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const submit = await engine.api('POST', '/api/v1/jobs/submit', {
        name: `moved ${i}`,
        type: 'noop',
        pool: 'moved',
      });
      expect(submit.status).toBe(201);
      ids.push(submit.body.job_id);
    }
    await eventually(
      async () => ids.every((id) => engine.readModel.getJob(id)?.status === 'completed'),
      60_000,
      'every job completed',
    );
    // The pool's first pick was refused locally; the pool continued as new, picking through the
    // scheduler's queue.
    const history = await engine.client.workflow.getHandle(`${engine.taskQueue}/pool:moved`).fetchHistory();
    const activities = history.events!.filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'pickPoolWaiters',
    );
    expect(activities.length).toBeGreaterThan(0);
  });
});
