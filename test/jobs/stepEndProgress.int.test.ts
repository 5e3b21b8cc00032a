/**
 * Behaviour revision 5 on the dev server: a multi-step job's JobProgress at each step's end is
 * recorded by the step activity (the engine's worker owns the store), so the workflow task that sees a
 * step end runs no local activity; the record is the same as before: one JobProgress per completed
 * step (but the last), in order, and the read model shows it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import path from 'node:path';
import { rebuildReadModel } from '../../src/projections/rebuildReadModel.js';
import { openReadModelDb } from '../../src/projections/readModelDb.js';

let engine: TestEngine;
beforeAll(async () => {
  engine = await startTestEngine();
});
afterAll(async () => {
  await engine?.dispose();
});

describe('a step records the progress of its own end', () => {
  it('no local activity between one step and the next; one JobProgress per step, under the run-and-steps id', async () => {
    // Steps longer than the progress interval (1 s): every step's end is due.
    const submit = await engine.api('POST', '/api/v1/jobs/submit', {
      name: 'steps',
      type: 'sleep',
      input: { steps: 3, step_ms: 1100 },
    });
    expect(submit.status).toBe(201);
    const id: string = submit.body.job_id;
    // While it runs, GET shows the steps done (from the step's own event).
    const mid = await eventually(async () => {
      const job = (await engine.api('GET', `/api/v1/jobs/${id}`)).body;
      return job.completed_steps === 1 && job.status === 'running' ? job : undefined;
    }, 20_000);
    expect(mid.current_step).toBe(1);
    await eventually(async () => (await engine.api('GET', `/api/v1/jobs/${id}`)).body.status === 'completed', 30_000);

    const events = engine.eventStore.readStream(id);
    const progress = events.filter((e) => e.type === 'JobProgress');
    const handle = engine.client.workflow.getHandle(id);
    const runId = (await handle.describe()).runId;
    expect(progress.map((e) => [e.eventId, e.data.completedSteps, e.data.currentStep])).toEqual([
      [`${id}:${runId}:progress:1`, 1, 1],
      [`${id}:${runId}:progress:2`, 2, 2],
    ]);
    expect(progress.every((e) => e.data.estimatedRemainingS > 0)).toBe(true);
    expect(events.at(-1)!.type).toBe('JobCompleted');

    // The history: after each of the first two steps' completion, the next step is scheduled with no
    // local-activity marker in between (before revision 5 each had one: the append of JobProgress).
    const history = (await handle.fetchHistory()).events ?? [];
    const kinds = history.map((e) =>
      e.activityTaskCompletedEventAttributes
        ? 'step-done'
        : e.activityTaskScheduledEventAttributes
          ? 'step'
          : e.markerRecordedEventAttributes
            ? 'marker'
            : e.workflowExecutionCompletedEventAttributes
              ? 'end'
              : null,
    );
    const between = kinds
      .filter((k) => k !== null)
      .join(' ')
      .split('step-done')
      .slice(1, 3)
      .map((s) => s.trim());
    expect(between).toEqual(['step', 'step']);

    // The step's events are the record like any other: the rebuild equals the live read model.
    expect((await engine.api('GET', `/api/v1/jobs/${id}`)).body).toMatchObject({
      status: 'completed',
      completed_steps: 3,
      progress: 100,
    });
    await eventually(() => engine.projector.checkpoint() === engine.eventStore.lastPosition(), 10_000, 'projector caught up');
    const target = path.join(engine.dir, 'rebuilt.db');
    await rebuildReadModel(engine.eventStore, target, { threads: 0 });
    const rebuilt = openReadModelDb(target);
    const row = (db: typeof rebuilt) => db.prepare('SELECT * FROM jobs WHERE id = ?').get(id);
    expect(row(rebuilt)).toEqual(row(engine.readModelDb));
    rebuilt.close();
  }, 60_000);
});
