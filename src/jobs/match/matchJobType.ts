/**
 * The `match` job type: fuzzy record linkage of two uploaded CSV files (see "The match job type" in the
 * README). The input is checked at submit: file ids (known, and the submitter's), column names (read
 * from the files' headers), blocking keys.
 */
import { z } from 'zod';
import { defineJobType, InputAccessDeniedError, PermanentJobError, type JobTypeDefinition } from '../jobType.js';
import { BLOCKING_METHODS, DEFAULT_BLOCKING_KEYS } from './blocking.js';
import { readHeaderSync } from './csv.js';
import { matchSteps, runMatchStep, type MatchConfig } from './matcher.js';
import { MATCH_TYPES } from './scorers.js';

/** What the match job needs of the uploaded files (FileStore is one). */
export interface MatchFileSource {
  get(id: string): { id: string; owner: string; lines: number; sha256: string } | undefined;
  pathOf(file: { id: string; owner: string }): string;
}

export const UPLOAD_HINT =
  'upload each CSV file with POST /api/v1/files (multipart/form-data, the file in field "file") and put the file_id it returns in config.file1 and config.file2';

/** Most steps of one match job (rows_per_step is refused below what that allows). */
const MAX_STEPS = 10_000;

const fileId = (side: 'file1' | 'file2') =>
  z
    .string({ error: `${side} is required: ${UPLOAD_HINT}` })
    .min(1, { error: `${side} is required: ${UPLOAD_HINT}` })
    .max(200);

const Mapping = z
  .object({
    file1_col: z.string().min(1).max(500),
    file2_col: z.string().min(1).max(500),
    match_type: z.enum(MATCH_TYPES).default('fuzzy'),
    use_normalization: z.boolean().default(true),
    weight: z.number().positive().max(1000).default(1),
  })
  .strict();

const BlockingKey = z
  .object({
    mapping: z.number().int().min(0).default(0),
    method: z.enum(BLOCKING_METHODS).default('prefix'),
    length: z.number().int().min(1).max(50).default(3),
  })
  .strict();

const MatchInput = z
  .object({
    file1: fileId('file1'),
    file2: fileId('file2'),
    mappings: z.array(Mapping).min(1).max(20),
    output_cols1: z.array(z.string().min(1).max(500)).max(1000).default([]),
    output_cols2: z.array(z.string().min(1).max(500)).max(1000).default([]),
    threshold: z.number().min(0).max(100).default(80),
    generate_unmatched: z.boolean().default(true),
    blocking: z
      .object({
        keys: z.array(BlockingKey).min(1).max(5).default(DEFAULT_BLOCKING_KEYS),
        max_block_size: z.number().int().min(1).max(10_000_000).default(10_000),
      })
      .strict()
      .prefault({}),
    rows_per_step: z.number().int().min(1).max(10_000_000).default(10_000),
    delimiter: z.string().length(1).default(','),
  })
  .strict();

/** The `match` job type over the files of `files` (the engine's FileStore). */
export function createMatchJobType(deps: { files: MatchFileSource }): JobTypeDefinition<MatchConfig> {
  const { files } = deps;
  const inputSchema = MatchInput.superRefine((input, ctx) => {
    const headers: Partial<Record<'file1' | 'file2', string[]>> = {};
    for (const side of ['file1', 'file2'] as const) {
      const file = files.get(input[side]);
      if (!file) {
        ctx.addIssue({ code: 'custom', path: [side], message: `unknown file id "${input[side]}": ${UPLOAD_HINT}` });
        continue;
      }
      if (side === 'file1' && matchSteps(file.lines, input.rows_per_step) > MAX_STEPS)
        ctx.addIssue({
          code: 'custom',
          path: ['rows_per_step'],
          message: `too small for file1 (${file.lines} lines): a job runs at most ${MAX_STEPS} steps`,
        });
      try {
        headers[side] = readHeaderSync(files.pathOf(file), input.delimiter);
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: [side], message: `not a CSV file: ${(error as Error).message}` });
      }
    }
    const check = (side: 'file1' | 'file2', column: string, path: (string | number)[]) => {
      const header = headers[side];
      if (header && !header.includes(column)) {
        const shown = header.slice(0, 30).join(', ') + (header.length > 30 ? ', …' : '');
        ctx.addIssue({ code: 'custom', path, message: `${side} has no column "${column}" (its columns: ${shown})` });
      }
    };
    input.mappings.forEach((m, i) => {
      check('file1', m.file1_col, ['mappings', i, 'file1_col']);
      check('file2', m.file2_col, ['mappings', i, 'file2_col']);
    });
    input.output_cols1.forEach((c, i) => check('file1', c, ['output_cols1', i]));
    input.output_cols2.forEach((c, i) => check('file2', c, ['output_cols2', i]));
    input.blocking.keys.forEach((k, i) => {
      if (k.mapping >= input.mappings.length)
        ctx.addIssue({
          code: 'custom',
          path: ['blocking', 'keys', i, 'mapping'],
          message: `no mapping ${k.mapping} (there are ${input.mappings.length}, numbered from 0)`,
        });
    });
  });

  return defineJobType<MatchConfig>({
    name: 'match',
    description:
      'Fuzzy record linkage of two uploaded CSV files: per column pair exact, fuzzy, token_sort, token_set, phonetic or numeric scores, weighted; blocking; writes matches.csv and the unmatched rows.',
    inputSchema: inputSchema as unknown as z.ZodType<MatchConfig>,
    steps: (input) => matchSteps(files.get(input.file1)?.lines ?? 1, input.rows_per_step),
    claimsUntypedInput: (input) =>
      typeof input === 'object' && input !== null && Array.isArray((input as { mappings?: unknown }).mappings),
    authorizeInput(input, submitter) {
      for (const side of ['file1', 'file2'] as const) {
        const file = files.get(input[side]);
        if (file && file.owner !== submitter.owner)
          throw new InputAccessDeniedError(`config.${side}: file ${input[side]} belongs to another user`);
      }
    },
    runStep: (ctx, input) =>
      runMatchStep(ctx, input, {
        resolve(id) {
          const file = files.get(id);
          if (!file) throw new PermanentJobError(`uploaded file ${id} is gone`);
          return { path: files.pathOf(file), sha256: file.sha256 };
        },
      }),
  });
}
