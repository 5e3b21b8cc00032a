import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJobType } from '../../src/jobs/jobType.js';
import { JobTypeRegistry } from '../../src/jobs/registry.js';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { countingJobType } from '../support/counterJobType.js';

/** Reports progress with a message inside its one long step. */
const reporterJob = defineJobType({
  name: 'reporter',
  description: 'test: reports in-step progress with a message',
  inputSchema: z.object({ rows: z.number().int().default(4), row_ms: z.number().int().default(700) }),
  steps: () => 1,
  async runStep(ctx, input) {
    for (let row = 0; row < input.rows; row++) {
      ctx.progress(row / input.rows, { message: `matched ${row} of ${input.rows} rows`, checkpoint: row });
      await ctx.sleep(input.row_ms);
    }
    return { result: { rows: input.rows } };
  },
});

let engine: TestEngine;
beforeAll(async () => {
  const registry = new JobTypeRegistry();
  registry.register(reporterJob);
  registry.register(countingJobType().type);
  engine = await startTestEngine({ registry });
});
afterAll(async () => {
  await engine?.dispose();
});

const job = async (id: string) => (await engine.api('GET', `/api/v1/jobs/${id}`)).body;

describe('what a job author gets', () => {
  it('ctx.progress(fraction, {message}) moves progress and message while the step runs', async () => {
    const r = await engine.api('POST', '/api/v1/jobs/submit', { name: 'r', type: 'reporter' });
    expect(r.status).toBe(201);
    const id = r.body.job_id;
    const seen = await eventually(
      async () => {
        const j = await job(id);
        return j.status === 'running' && j.message === 'matched 2 of 4 rows' ? j : undefined;
      },
      20_000,
      'a message from inside the step',
    );
    expect(seen.progress).toBeGreaterThanOrEqual(50);
    expect(seen.progress).toBeLessThan(100);
    const done = await eventually(async () => {
      const j = await job(id);
      return j.status === 'completed' ? j : undefined;
    });
    expect(done.progress).toBe(100);
    const steps = engine.eventStore.readStream(id).filter((e) => e.type === 'JobStepProgress');
    expect(steps.length).toBeGreaterThanOrEqual(2);
    expect(steps.length).toBeLessThanOrEqual(4); // throttled to one a second at most, plus the last
    expect(new Set(steps.map((e) => e.eventId)).size).toBe(steps.length);
  });

  it('metadata and tags at submit: returned by GET, filterable, in the events; bad ones are 400s', async () => {
    const r = await engine.api('POST', '/api/v1/jobs/submit', {
      name: 'tagged',
      type: 'reporter',
      input: { rows: 1, row_ms: 10 },
      metadata: { customer: 'acme', run: 7 },
      tags: ['nightly', 'acme'],
    });
    expect(r.status).toBe(201);
    const other = await engine.api('POST', '/api/v1/jobs/submit', {
      name: 'untagged',
      type: 'reporter',
      input: { rows: 1, row_ms: 10 },
    });
    const j = await job(r.body.job_id);
    expect(j.metadata).toEqual({ customer: 'acme', run: 7 });
    expect(j.tags).toEqual(['nightly', 'acme']);
    const listed = (await engine.api('GET', '/api/v1/jobs/list?tag=nightly')).body.map((x: { id: string }) => x.id);
    expect(listed).toContain(r.body.job_id);
    expect(listed).not.toContain(other.body.job_id);
    expect(engine.eventStore.readStream(r.body.job_id)[0]!.data).toMatchObject({
      metadata: { customer: 'acme' },
      tags: ['nightly', 'acme'],
    });
    const big = await engine.api('POST', '/api/v1/jobs/submit', { name: 'x', metadata: { blob: 'x'.repeat(9000) } });
    expect(big.status).toBe(400);
    expect(big.body.details).toContain('metadata');
    expect(
      (await engine.api('POST', '/api/v1/jobs/submit', { name: 'x', tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }))
        .status,
    ).toBe(400);
  });

  it('per-submit retry overrides: max_attempts 1 fails a job the type would have retried', async () => {
    const input = { steps: 1, step_ms: 10, fail_step: 0, fail_times: 1 };
    const once = (
      await engine.api('POST', '/api/v1/jobs/submit', { name: 'o', type: 'counting', input, retry: { max_attempts: 1 } })
    ).body.job_id;
    const usual = (await engine.api('POST', '/api/v1/jobs/submit', { name: 'u', type: 'counting', input })).body.job_id;
    await eventually(async () => (await job(once)).status === 'failed' && (await job(usual)).status === 'completed', 20_000);
    expect((await job(once)).max_attempts).toBe(1);
    expect((await job(usual)).attempts).toBe(2);
    expect((await engine.api('POST', '/api/v1/jobs/submit', { name: 'x', retry: { max_attempts: 0 } })).status).toBe(400);
  });
});
