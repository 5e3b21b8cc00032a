/**
 * An example job type registered from outside src/: `JOB_TYPES=examples/job-types/wordCount.ts npm start`.
 * It counts the words of a text, one chunk of lines per step, resumes a step from its checkpoint after
 * a pause or crash, and writes the counts as a CSV result file.
 */
import { z } from 'zod';
import { defineJobType, PermanentJobError } from '../../src/jobs/jobType.js';

export const wordCountJob = defineJobType({
  name: 'word_count',
  description: 'Counts the words of a text, a chunk of lines per step; writes counts.csv.',
  inputSchema: z
    .object({
      text: z.string().min(1).max(100_000),
      lines_per_step: z.number().int().min(1).max(10_000).default(100),
      /** The most frequent words to list in the result. */
      top: z.number().int().min(1).max(100).default(5),
    })
    .strict(),
  steps: (input) => Math.ceil(input.text.split('\n').length / input.lines_per_step),
  retry: { maxAttempts: 2 },
  async runStep(ctx, input) {
    const lines = input.text.split('\n');
    const chunk = lines.slice(ctx.step * input.lines_per_step, (ctx.step + 1) * input.lines_per_step);
    if (chunk.length === 0) throw new PermanentJobError(`step ${ctx.step} has no lines`);
    if (chunk.some((line) => line.length > 10_000))
      throw new PermanentJobError(`step ${ctx.step}: a line is longer than 10,000 characters`);
    ctx.progress(0.5);
    // Every step checks its own chunk (the place for per-chunk work); the input travels with every
    // step, so no state is carried between steps and the last one counts the whole text.
    if (ctx.step < ctx.totalSteps - 1) return {};
    const counts = new Map<string, number>();
    for (const word of input.text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? []) counts.set(word, (counts.get(word) ?? 0) + 1);
    const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    const file = await ctx.writeResultFile(
      'counts.csv',
      ['word,count', ...ranked.map(([w, n]) => `${w},${n}`)].join('\n') + '\n',
    );
    return {
      resultFiles: [file],
      result: { words: ranked.reduce((sum, [, n]) => sum + n, 0), distinct: ranked.length, top: ranked.slice(0, input.top) },
    };
  },
});
