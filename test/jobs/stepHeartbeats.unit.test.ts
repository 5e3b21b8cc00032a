/**
 * The step throttles the heartbeats it hands to the SDK (each costs the main thread a native call and
 * an encoding; the SDK sends Temporal at most one per throttle interval anyway) and never drops the
 * latest details: the checkpoint a retry resumes from.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createJobStepActivities } from '../../src/activities/jobStepActivities.js';
import { defineJobType } from '../../src/jobs/jobType.js';
import { JobTypeRegistry } from '../../src/jobs/registry.js';

interface Beat {
  fraction: number;
  checkpoint: unknown;
}

/** A step that reports `reports` times, `everyMs` apart, then waits `tailMs` before it ends. */
const chattyJob = defineJobType<{ reports: number; everyMs: number; tailMs: number }>({
  name: 'chatty',
  description: 'reports progress often',
  inputSchema: z.object({ reports: z.number(), everyMs: z.number(), tailMs: z.number() }),
  steps: () => 1,
  async runStep(ctx, input) {
    for (let i = 1; i <= input.reports; i++) {
      if (input.everyMs > 0) await ctx.sleep(input.everyMs);
      ctx.progress(i / input.reports, i);
    }
    if (input.tailMs > 0) await ctx.sleep(input.tailMs);
  },
});

async function runChatty(input: { reports: number; everyMs: number; tailMs: number }, heartbeatCallIntervalMs?: number) {
  const registry = new JobTypeRegistry().register(chattyJob);
  const { runJobStep } = createJobStepActivities({ registry, resultsDir: '/nonexistent', heartbeatCallIntervalMs });
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 5_000 });
  const beats: Beat[] = [];
  env.on('heartbeat', (details: Beat) => beats.push(details));
  const output = await env.run(runJobStep, {
    jobId: 'job_chatty',
    type: 'chatty',
    input,
    step: 1,
    totalSteps: 1,
    attempt: 1,
    checkpoint: undefined,
  });
  return { output, beats };
}

describe('step heartbeats', () => {
  it('hands the SDK one heartbeat per interval, the first at once and the latest details after a burst', async () => {
    // 50 reports within a few ms, then 300 ms of quiet: the first goes out, the 50th follows once
    // the interval (200 ms) has passed; the 48 in between are folded into it.
    const { output, beats } = await runChatty({ reports: 50, everyMs: 0, tailMs: 300 }, 200);
    expect(output).toEqual({ outcome: 'completed', output: {} });
    expect(beats.map((b) => b.checkpoint)).toEqual([1, 50]);
    expect(beats[1]!.fraction).toBe(1);
  });

  it('with the default interval (0.4 × a 5 s heartbeat timeout, at most 1 s) a step reporting every 20 ms heartbeats a few times, not every time', async () => {
    const { beats } = await runChatty({ reports: 60, everyMs: 20, tailMs: 0 });
    // ~1.2 s of reports: at most the first, one after 1 s, and none left pending once the step ended.
    expect(beats.length).toBeGreaterThanOrEqual(1);
    expect(beats.length).toBeLessThanOrEqual(3);
    expect(beats[0]!.checkpoint).toBe(1);
  });

  it('an interval of 0 hands every report to the SDK (the behaviour before the throttle)', async () => {
    const { beats } = await runChatty({ reports: 20, everyMs: 0, tailMs: 0 }, 0);
    expect(beats.map((b) => b.checkpoint)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });
});
