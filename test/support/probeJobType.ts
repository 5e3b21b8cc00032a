import { appendFileSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { defineJobType, PermanentJobError } from '../../src/jobs/jobType.js';

/**
 * A job type that writes a line to a shared log when each step starts and ends (`+`/`-`, time, job,
 * pid), so a test can compute how many steps ran at the same moment across worker processes.
 * Registered in worker processes with JOB_TYPES=test/support/probeJobType.ts.
 */
export const probeJob = defineJobType({
  name: 'probe',
  description: 'test: logs step starts and ends to a shared file',
  inputSchema: z.object({
    log: z.string().min(1),
    steps: z.number().int().min(1).default(2),
    step_ms: z.number().int().min(0).default(200),
    fail: z.boolean().default(false),
  }),
  steps: (input) => input.steps,
  retry: { maxAttempts: 1 },
  heartbeatTimeoutMs: 2000,
  async runStep(ctx, input) {
    appendFileSync(input.log, `+ ${Date.now()} ${ctx.jobId} ${process.pid}\n`);
    try {
      if (input.fail) throw new PermanentJobError('probe told to fail');
      let done = typeof ctx.checkpoint === 'number' ? ctx.checkpoint : 0;
      while (done < input.step_ms) {
        const slice = Math.min(50, input.step_ms - done);
        await ctx.sleep(slice);
        done += slice;
        ctx.progress(done / input.step_ms, done);
      }
    } finally {
      appendFileSync(input.log, `- ${Date.now()} ${ctx.jobId} ${process.pid}\n`);
    }
  },
});

/** The most steps that ran at once according to a probe log (a killed worker's open steps end at its kill). */
export function maxConcurrentSteps(file: string, killedPids: Record<string, number> = {}): number {
  const marks: [number, number][] = [];
  const open = new Map<string, number>();
  for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    const [sign, t, jobId, pid] = line.split(' ');
    const key = `${jobId}/${pid}`;
    if (sign === '+') {
      open.set(key, (open.get(key) ?? 0) + 1);
      marks.push([Number(t), +1]);
    } else {
      open.set(key, (open.get(key) ?? 0) - 1);
      marks.push([Number(t), -1]);
    }
  }
  for (const [key, n] of open) {
    const pid = key.split('/')[1]!;
    for (let i = 0; i < n; i++) marks.push([killedPids[pid] ?? Number.MAX_SAFE_INTEGER, -1]);
  }
  // Ends before starts at the same millisecond: a slot handed over is not two at once.
  marks.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let max = 0;
  for (const [, delta] of marks) {
    now += delta;
    max = Math.max(max, now);
  }
  return max;
}
