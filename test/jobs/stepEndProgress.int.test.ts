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
import { z } from 'zod';
import { defineJobType } from '../../src/jobs/jobType.js';
import { JobTypeRegistry } from '../../src/jobs/registry.js';

/** Writes one result file per step: its list grows past what a step's input carries. */
const filePerStep = defineJobType<{ steps: number }>({
  name: 'file_per_step',
  description: 'one result file per step',
  inputSchema: z.object({ steps: z.number() }),
  steps: (input) => input.steps,
  async runStep(ctx) {
    return { resultFiles: [await ctx.writeResultFile(`part-${ctx.step}.txt`, 'x')] };
  },
});

let engine: TestEngine;
beforeAll(async () => {
  engine = await startTestEngine({ registry: new JobTypeRegistry().register(filePerStep) });
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

  it('a job with more than 50 result files: its later steps are not handed the list (the workflow records their progress)', async () => {
    const submit = await engine.api('POST', '/api/v1/jobs/submit', {
      name: 'files',
      type: 'file_per_step',
      input: { steps: 54 },
    });
    expect(submit.status).toBe(201);
    const id: string = submit.body.job_id;
    await eventually(async () => (await engine.api('GET', `/api/v1/jobs/${id}`)).body.status === 'completed', 60_000);
    const history = (await engine.client.workflow.getHandle(id).fetchHistory()).events ?? [];
    const stepInputs = history
      .map((e) => e.activityTaskScheduledEventAttributes)
      .filter((a) => a?.activityType?.name === 'runJobStep')
      .map((a) => JSON.parse(Buffer.from(a!.input!.payloads![0]!.data!).toString()));
    expect(stepInputs).toHaveLength(54);
    // Steps 0–50 are asked (files 0–50 before them), 51–53 not (51+ files); the last never is.
    const asked = stepInputs.map((input) => input.endProgress !== undefined);
    expect(asked.slice(0, 51).every(Boolean)).toBe(true);
    expect(asked.slice(51)).toEqual([false, false, false]);
    expect(stepInputs[50].endProgress.resultFiles).toHaveLength(50);
    const last = engine.eventStore.readStream(id).at(-1)!;
    expect([last.type, last.data.resultFiles.length]).toEqual(['JobCompleted', 54]);
  }, 90_000);
});
