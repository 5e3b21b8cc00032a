/**
 * Behaviour revision 5: a step that completes records the job's JobProgress for its own end, when the
 * workflow asked and one is due, under the id the workflow named (one per run and completed steps), so
 * the workflow task that sees the step end appends nothing. Otherwise it records nothing and says so.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createJobStepActivities, type RunJobStepInput, type StepEndProgress } from '../../src/activities/jobStepActivities.js';
import { defineJobType } from '../../src/jobs/jobType.js';
import { JobTypeRegistry } from '../../src/jobs/registry.js';
import { openEventStore, type EventStore } from '../../src/eventstore/index.js';
import { progressAfterStep, STEP_DURATION_WINDOW, withStepDuration } from '../../src/domain/index.js';

/** A step that waits `ms`, writes a result file named after its step, or fails when told to. */
const fileJob = defineJobType<{ ms: number; fail?: boolean }>({
  name: 'files',
  description: 'one result file per step',
  inputSchema: z.object({ ms: z.number(), fail: z.boolean().optional() }),
  steps: () => 4,
  async runStep(ctx, input) {
    await ctx.sleep(input.ms);
    if (input.fail) throw new Error('step failed');
    return { resultFiles: [await ctx.writeResultFile(`step-${ctx.step}.txt`, 'x')] };
  },
});

let dir: string;
let store: EventStore;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'step-end-progress-'));
  store = openEventStore(path.join(dir, 'events.db'));
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const metadata = { actor: 'system', correlationId: 'job_p', causationId: 'run-1', workflowId: 'job_p', runId: 'run-1' };
const asked = (over: Partial<StepEndProgress> = {}): StepEndProgress => ({
  eventId: 'job_p:run-1:progress:2',
  dueAt: 0,
  stepDurationsMs: [1000],
  resultFiles: ['step-0.txt'],
  metadata,
  ...over,
});

function run(
  input: { ms: number; fail?: boolean },
  endProgress: StepEndProgress | undefined,
  withStore = true,
  info: { scheduledTimestampMs?: number } = {},
) {
  const registry = new JobTypeRegistry().register(fileJob);
  const activities = createJobStepActivities({
    registry,
    resultsDir: path.join(dir, 'results'),
    ...(withStore ? { eventStore: store } : {}),
  });
  const request: RunJobStepInput = {
    jobId: 'job_p',
    type: 'files',
    input,
    step: 1,
    totalSteps: 4,
    attempt: 1,
    checkpoint: undefined,
    ...(endProgress ? { endProgress } : {}),
  };
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 5_000, ...info });
  return { env, result: env.run(activities.runJobStep, request) };
}

describe('the JobProgress a step records for its own end', () => {
  it('is recorded under the given id when due, with what the workflow would have recorded', async () => {
    const { result } = run({ ms: 30 }, asked());
    const output = await result;
    const events = store.readStream('job_p');
    expect(events.map((e) => [e.type, e.eventId])).toEqual([['JobProgress', 'job_p:run-1:progress:2']]);
    const { jobId, at, ...data } = events[0]!.data;
    expect(jobId).toBe('job_p');
    expect(Date.parse(at)).not.toBeNaN();
    expect(data).toMatchObject({
      completedSteps: 2,
      totalSteps: 4,
      progress: 50,
      currentStep: 2,
      resultFiles: ['step-0.txt', 'step-1.txt'],
    });
    // Two steps left at the average of the step before (1 s) and this one (~30 ms).
    expect(data.estimatedRemainingS).toBeGreaterThanOrEqual(1);
    expect(data.estimatedRemainingS).toBeLessThan(1.2);
    expect(events[0]!.metadata).toMatchObject(metadata);
    expect(output).toMatchObject({ outcome: 'completed', progress: data });
  });

  it('is not recorded before it is due, nor without a store in the process, nor for a failed step', async () => {
    const early = await run({ ms: 0 }, asked({ dueAt: Date.now() + 60_000 })).result;
    expect(early).toEqual({ outcome: 'completed', output: { resultFiles: ['step-1.txt'] } });
    const noStore = await run({ ms: 0 }, asked(), false).result;
    expect(noStore).toEqual({ outcome: 'completed', output: { resultFiles: ['step-1.txt'] } });
    await expect(run({ ms: 0, fail: true }, asked()).result).rejects.toThrow('step failed');
    const notAsked = await run({ ms: 0 }, undefined).result;
    expect(notAsked).toEqual({ outcome: 'completed', output: { resultFiles: ['step-1.txt'] } });
    expect(store.readStream('job_p')).toEqual([]);
  });

  it('is not recorded by a step that was stopped (pause, cancel, timeout)', async () => {
    const { env, result } = run({ ms: 5_000 }, asked());
    setTimeout(() => env.cancel(), 50);
    expect(await result).toMatchObject({ outcome: 'interrupted' });
    expect(store.readStream('job_p')).toEqual([]);
  });

  it('is not recorded by a step of a run that a reset replaced after the step was scheduled', async () => {
    const scheduledAt = Date.now() - 10_000;
    const resetAt = new Date(scheduledAt + 5_000).toISOString();
    store.appendToStream('job_p', [
      {
        eventId: 'job_p:run-2:reset',
        type: 'JobReset',
        data: { jobId: 'job_p', at: resetAt, runId: 'run-2', status: 'running' },
        metadata: { ...metadata, actor: 'temporal:reset', runId: 'run-2' },
      },
    ]);
    // The replaced run's step (scheduled before the reset): nothing recorded, the workflow's to record.
    const replaced = await run({ ms: 0 }, asked(), true, { scheduledTimestampMs: scheduledAt }).result;
    expect(replaced).toEqual({ outcome: 'completed', output: { resultFiles: ['step-1.txt'] } });
    expect(store.readStream('job_p').map((e) => e.type)).toEqual(['JobReset']);
    // A step the new run scheduled after its reset records as usual.
    const next = await run({ ms: 0 }, asked(), true, { scheduledTimestampMs: scheduledAt + 6_000 }).result;
    expect(next).toMatchObject({ outcome: 'completed', progress: { completedSteps: 2 } });
    expect(store.readStream('job_p').map((e) => e.type)).toEqual(['JobReset', 'JobProgress']);
  });

  it('is recorded once when the step runs again after its completion was lost (same id)', async () => {
    await run({ ms: 0 }, asked()).result;
    const again = await run({ ms: 0 }, asked()).result;
    expect(again).toMatchObject({ outcome: 'completed', progress: { completedSteps: 2 } });
    expect(store.readStream('job_p').map((e) => e.eventId)).toEqual(['job_p:run-1:progress:2']);
  });
});

describe('progressAfterStep (the one definition both writers use)', () => {
  it('counts whole steps, names the next one, estimates from the window, and keeps the last 20 durations', () => {
    expect(progressAfterStep({ step: 2, totalSteps: 3, durationsMs: [1000, 3000], resultFiles: ['a'] })).toEqual({
      completedSteps: 3,
      totalSteps: 3,
      progress: 100,
      currentStep: null,
      estimatedRemainingS: 0,
      resultFiles: ['a'],
    });
    expect(progressAfterStep({ step: 0, totalSteps: 3, durationsMs: [1000, 3000], resultFiles: [] })).toMatchObject({
      progress: 33,
      currentStep: 1,
      estimatedRemainingS: 4,
    });
    expect(progressAfterStep({ step: 0, totalSteps: 3, durationsMs: [], resultFiles: [] }).estimatedRemainingS).toBeNull();
    let window: number[] = [];
    for (let i = 1; i <= 25; i++) window = withStepDuration(window, i);
    expect(window).toEqual(Array.from({ length: STEP_DURATION_WINDOW }, (_, i) => i + 6));
  });
});
