import { z } from 'zod';
import { defineJobType, PermanentJobError } from './jobType.js';
import { guardedRequest } from './egressGuard.js';

/** Runs `steps` steps of `step_ms` each; resumes a step from its elapsed time after a pause. */
export const sleepJob = defineJobType({
  name: 'sleep',
  description: 'Runs N steps of a given duration (demos, tests, benchmarks).',
  inputSchema: z
    .object({
      steps: z.number().int().min(1).max(100_000).default(3),
      step_ms: z.number().int().min(0).max(3_600_000).default(1000),
    })
    .strict(),
  steps: (input) => input.steps,
  async runStep(ctx, input) {
    await sleepWithCheckpoints(ctx, input.step_ms);
    return { result: { steps: input.steps } };
  },
});

/** Zero-cost job: one step that does nothing. The benchmarks' unit of work. */
export const noopJob = defineJobType({
  name: 'noop',
  description: 'One step that does nothing.',
  inputSchema: z.object({}).passthrough(),
  steps: () => 1,
  async runStep() {
    return {};
  },
});

/** Fails on a given step: transiently `fail_times` times (then succeeds), or permanently. */
export const flakyJob = defineJobType({
  name: 'flaky',
  description: 'Fails on a given step with a transient or a permanent error.',
  inputSchema: z
    .object({
      steps: z.number().int().min(1).max(1000).default(3),
      step_ms: z.number().int().min(0).max(600_000).default(100),
      fail_on_step: z.number().int().min(0).default(1),
      /** Transient failures before the step succeeds; ignored when permanent. */
      fail_times: z.number().int().min(0).max(100).default(1),
      permanent: z.boolean().default(false),
      message: z.string().max(500).default('simulated failure'),
    })
    .strict(),
  steps: (input) => input.steps,
  retry: { initialIntervalMs: 200, maxIntervalMs: 5000 },
  async runStep(ctx, input) {
    await sleepWithCheckpoints(ctx, input.step_ms);
    if (ctx.step === input.fail_on_step) {
      if (input.permanent) throw new PermanentJobError(input.message);
      if (ctx.attempt <= input.fail_times) throw new Error(`${input.message} (attempt ${ctx.attempt})`);
    }
    return {};
  },
});

/** Calls a URL once; 5xx and network errors are transient, 4xx permanent. */
export const httpJob = defineJobType({
  name: 'http',
  description:
    'Calls an HTTP URL (public addresses only, unless HTTP_JOB_ALLOWED_HOSTS allows more); 5xx and network errors are retried, 4xx are not.',
  inputSchema: z
    .object({
      url: z.string().url(),
      method: z.enum(['GET', 'POST', 'PUT', 'DELETE', 'HEAD']).default('GET'),
      body: z.string().max(1_000_000).optional(),
      headers: z.record(z.string(), z.string()).default({}),
      timeout_ms: z.number().int().min(1).max(300_000).default(30_000),
    })
    .strict(),
  steps: () => 1,
  retry: { maxAttempts: 5 },
  async runStep(ctx, input) {
    const timeout = AbortSignal.timeout(input.timeout_ms);
    // Loopback, private and link-local addresses are refused unless HTTP_JOB_ALLOWED_HOSTS allows them.
    const response = await guardedRequest(input.url, {
      method: input.method,
      body: input.body,
      headers: input.headers,
      signal: AbortSignal.any([ctx.signal, timeout]),
    });
    if (response.status >= 500) throw new Error(`HTTP ${response.status} from ${response.url}`);
    if (response.status >= 400) throw new PermanentJobError(`HTTP ${response.status} from ${response.url}`);
    const file = await ctx.writeResultFile('response.txt', response.body);
    return { result: { status: response.status, bytes: response.body.length }, resultFiles: [file] };
  },
});

/** Builds a CSV report, one chunk of rows per step, and writes it as a result file. */
export const reportJob = defineJobType({
  name: 'report',
  description: 'Writes a CSV report in steps; lists it in result_files.',
  inputSchema: z
    .object({
      rows: z.number().int().min(1).max(1_000_000).default(100),
      chunks: z.number().int().min(1).max(100).default(2),
      step_ms: z.number().int().min(0).max(60_000).default(0),
    })
    .strict(),
  steps: (input) => input.chunks,
  async runStep(ctx, input) {
    await sleepWithCheckpoints(ctx, input.step_ms);
    const per = Math.ceil(input.rows / input.chunks);
    const from = ctx.step * per;
    const to = Math.min(input.rows, from + per);
    const lines: string[] = ctx.step === 0 ? ['row,value'] : [];
    for (let i = from; i < to; i++) lines.push(`${i},${(i * 7919) % 1000}`);
    const file = await ctx.writeResultFile(`part-${String(ctx.step).padStart(3, '0')}.csv`, lines.join('\n') + '\n');
    return { resultFiles: [file], result: { rows: input.rows } };
  },
});

/** Sleeps `ms`, saving elapsed time as the checkpoint so a paused step resumes where it stopped. */
async function sleepWithCheckpoints(
  ctx: { checkpoint: unknown; progress(f: number, c?: unknown): void; sleep(ms: number): Promise<void> },
  ms: number,
): Promise<void> {
  const start = typeof ctx.checkpoint === 'number' ? ctx.checkpoint : 0;
  const slice = 100;
  for (let done = start; done < ms;) {
    const chunk = Math.min(slice, ms - done);
    await ctx.sleep(chunk);
    done += chunk;
    ctx.progress(done / ms, done);
  }
}

export const builtinJobTypes = [sleepJob, noopJob, flakyJob, httpJob, reportJob];
