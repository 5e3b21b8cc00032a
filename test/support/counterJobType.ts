import { z } from 'zod';
import { defineJobType, PermanentJobError } from '../../src/jobs/jobType.js';

/** A job type that counts how often each step's handler ran (and how often it started fresh), so
 * tests can prove no completed step runs twice and that a paused step resumes from its checkpoint. */
export function countingJobType(name = 'counting') {
  const invocations = new Map<string, number[]>();
  const freshStarts = new Map<string, number[]>();
  const cleanups: string[] = [];
  const bump = (map: Map<string, number[]>, jobId: string, step: number) => {
    const counts = map.get(jobId) ?? [];
    counts[step] = (counts[step] ?? 0) + 1;
    map.set(jobId, counts);
  };
  const type = defineJobType({
    name,
    description: 'test: counts handler invocations per step',
    inputSchema: z.object({
      steps: z.number().int().min(1).default(3),
      step_ms: z.number().int().min(0).default(200),
      fail_step: z.number().int().optional(),
      fail_times: z.number().int().default(0),
      permanent: z.boolean().default(false),
    }),
    steps: (input) => input.steps,
    retry: { initialIntervalMs: 100, maxIntervalMs: 400, maxAttempts: 3 },
    heartbeatTimeoutMs: 3000,
    async runStep(ctx, input) {
      bump(invocations, ctx.jobId, ctx.step);
      if (ctx.checkpoint === undefined) bump(freshStarts, ctx.jobId, ctx.step);
      if (input.fail_step === ctx.step) {
        if (input.permanent) throw new PermanentJobError('permanent failure for the test');
        if (ctx.attempt <= input.fail_times) throw new Error(`transient failure ${ctx.attempt}`);
      }
      let done = typeof ctx.checkpoint === 'number' ? ctx.checkpoint : 0;
      while (done < input.step_ms) {
        const slice = Math.min(50, input.step_ms - done);
        await ctx.sleep(slice);
        done += slice;
        ctx.progress(done / input.step_ms, done);
      }
      return { result: { step: ctx.step } };
    },
    async cleanup(ctx) {
      cleanups.push(ctx.jobId);
    },
  });
  return { type, invocations, freshStarts, cleanups };
}
