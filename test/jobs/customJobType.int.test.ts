import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadJobTypeRegistry } from '../../src/jobs/loadJobTypes.js';
import { loadConfig } from '../../src/config.js';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';

/** The README's "Add your own job type", done as a user would: a module outside src/ named in JOB_TYPES. */
let engine: TestEngine;

beforeAll(async () => {
  const config = loadConfig({ JOB_TYPES: 'examples/job-types/wordCount.ts' });
  engine = await startTestEngine({ registry: await loadJobTypeRegistry(config.jobTypeModules) });
});
afterAll(async () => {
  await engine?.dispose();
});

describe('a job type registered from outside src/ (JOB_TYPES)', () => {
  it('validates its input, runs in steps and writes its result file', async () => {
    const text = ['the cat sat', 'on the mat', 'the end'].join('\n');
    const bad = await engine.api('POST', '/api/v1/jobs/submit', { name: 'wc', type: 'word_count', input: { text: '' } });
    expect(bad.status).toBe(400);
    const r = await engine.api('POST', '/api/v1/jobs/submit', {
      name: 'wc',
      type: 'word_count',
      input: { text, lines_per_step: 1, top: 2 },
    });
    expect(r.status).toBe(201);
    const job = await eventually(
      async () => {
        const j = (await engine.api('GET', `/api/v1/jobs/${r.body.job_id}`)).body;
        return j.status === 'completed' ? j : undefined;
      },
      30_000,
      'word_count completed',
    );
    expect(job.total_steps).toBe(3);
    expect(job.result).toEqual({
      words: 8,
      distinct: 6,
      top: [
        ['the', 3],
        ['cat', 1],
      ],
    });
    expect(job.result_files).toEqual(['counts.csv']);
    const csv = readFileSync(path.join(engine.dir, 'results', r.body.job_id, 'counts.csv'), 'utf8');
    expect(csv.split('\n').slice(0, 2)).toEqual(['word,count', 'the,3']);
  });

  it('a module that exports no job type is refused at start, by name', async () => {
    await expect(loadJobTypeRegistry(['src/domain/priority.ts'])).rejects.toThrow(/priority\.ts exports no job type/);
  });
});
