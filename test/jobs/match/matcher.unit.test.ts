import { stepReportOf } from '../../../src/jobs/jobType.js';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../../src/files/fileStore.js';
import { InputAccessDeniedError, type StepContext } from '../../../src/jobs/jobType.js';
import { createMatchJobType } from '../../../src/jobs/match/matchJobType.js';
import { matchTuning, type MatchConfig } from '../../../src/jobs/match/matcher.js';
import { InvalidJobInputError, JobTypeRegistry } from '../../../src/jobs/registry.js';

/** The match job's steps run directly (no Temporal): a step context on a temp folder. */
let dir: string;
let files: FileStore;
let registry: JobTypeRegistry;
const matchType = () => registry.get('match');

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'match-unit-'));
  files = new FileStore(path.join(dir, 'files'));
  registry = new JobTypeRegistry().register(createMatchJobType({ files }));
});
afterAll(() => {
  files.close();
  rmSync(dir, { recursive: true, force: true });
});

const upload = (owner: string, name: string, text: string) => files.put(owner, name, Readable.from([Buffer.from(text)]));

interface TestStepContext extends StepContext {
  controller: AbortController;
  checkpoints: unknown[];
  onProgress: (context: TestStepContext) => void;
}

function stepContext(resultsDir: string, step: number, totalSteps: number, checkpoint?: unknown): TestStepContext {
  const controller = new AbortController();
  const context: TestStepContext = {
    step,
    totalSteps,
    checkpoint,
    signal: controller.signal,
    controller,
    checkpoints: [] as unknown[],
    onProgress: () => {},
    progress(_fraction: number, second?: unknown) {
      const report = stepReportOf(second);
      const newCheckpoint = report ? report.checkpoint : second;
      if (newCheckpoint !== undefined) context.checkpoints.push(newCheckpoint);
      context.onProgress(context);
    },
    async resultFilePath(name: string) {
      return path.join(resultsDir, path.basename(name));
    },
    jobId: 'job_test',
    attempt: 1,
    sleep: async () => {},
    writeResultFile: async () => '',
  };
  return context;
}

/** Validates and plans like a submit, then runs every step; returns the result folder and output. */
async function runJob(input: Record<string, unknown>, owner = 'alice') {
  const { input: config, plan } = registry.prepare('match', input, { owner });
  const resultsDir = mkdtempSync(path.join(dir, 'results-'));
  let output;
  for (let step = 0; step < plan.totalSteps; step++)
    output = await matchType().runStep(stepContext(resultsDir, step, plan.totalSteps), config as MatchConfig);
  return { resultsDir, output: output!, plan, config: config as MatchConfig };
}

const csvOf = (file: string) => parse(readFileSync(file), { columns: true }) as Record<string, string>[];

const customers = [
  'id,name,email,city',
  '1,John Smith,john@x.com,Berlin',
  '2,"María García",maria@y.es,Madrid',
  '3,Peter Parker,peter@z.com,"New York, NY"',
  '4,Nobody Here,no@no.no,Nowhere',
  '5,Jon Smith,jon@x.com,Berlin',
].join('\r\n');
const crm = [
  '\ufeffcust_id,full_name,email_address,town', // with a byte-order mark
  'A1,Jonh Smith,john@x.com,Berlin',
  'A2,MARIA GARCIA,maria@y.es,Madrid',
  'A3,Petr Parker,peter@z.com,NYC',
  'A4,Someone Else,else@e.com,Paris',
].join('\n');

describe('match steps on two small files', () => {
  it('finds the best match per row above the threshold, writes matches and unmatched rows', async () => {
    const f1 = await upload('alice', 'customers.csv', customers);
    const f2 = await upload('alice', 'crm.csv', crm);
    const { resultsDir, output, plan } = await runJob({
      file1: f1.id,
      file2: f2.id,
      mappings: [{ file1_col: 'name', file2_col: 'full_name', match_type: 'fuzzy', use_normalization: true, weight: 1.0 }],
      output_cols1: ['id', 'name', 'city'],
      output_cols2: ['cust_id', 'full_name'],
      threshold: 80,
      generate_unmatched: true,
      rows_per_step: 2,
    });
    expect(plan.totalSteps).toBe(4); // 5 rows in chunks of 2, and the joining step
    expect(output.resultFiles).toEqual(['matches.csv', 'unmatched_file1.csv', 'unmatched_file2.csv']);
    const matches = csvOf(path.join(resultsDir, 'matches.csv'));
    expect(matches.map((m) => [m.id, m.cust_id])).toEqual([
      ['1', 'A1'], // "john smith" / "jonh smith": 2 edits of 10 → 80
      ['2', 'A2'], // accents and case normalized: 100
      ['3', 'A3'], // "peter parker" / "petr parker": 1 edit of 12
      ['5', 'A1'], // "jon smith" / "jonh smith": 1 edit of 10 (the same row of file2 may match twice)
    ]);
    expect(Object.keys(matches[0]!)).toEqual([
      'file1_row',
      'file2_row',
      'match_score',
      'score_name',
      'id',
      'name',
      'city',
      'cust_id',
      'full_name',
    ]);
    expect(matches[0]).toMatchObject({ file1_row: '1', file2_row: '1', match_score: '80', score_name: '80' });
    expect(matches[2]!.city).toBe('New York, NY'); // quoting kept
    expect(csvOf(path.join(resultsDir, 'unmatched_file1.csv'))).toEqual([
      { file1_row: '4', id: '4', name: 'Nobody Here', city: 'Nowhere' },
    ]);
    expect(csvOf(path.join(resultsDir, 'unmatched_file2.csv'))).toEqual([
      { file2_row: '4', cust_id: 'A4', full_name: 'Someone Else' },
    ]);
    expect(output.result).toMatchObject({
      rows_file1: 5,
      rows_file2: 4,
      matched: 4,
      unmatched_file1: 1,
      unmatched_file2: 1,
      message: 'matched 4 of 5 rows',
    });
    // The working files are gone; only the results (and the summary kept for a rerun) are left.
    expect(readdirSync(resultsDir).sort()).toEqual([
      '.match-summary.json',
      'matches.csv',
      'unmatched_file1.csv',
      'unmatched_file2.csv',
    ]);
  });

  it('weights combine the column scores; a heavier exact column decides', async () => {
    const f1 = await upload('alice', 'customers.csv', customers);
    const f2 = await upload('alice', 'crm.csv', crm);
    const { resultsDir, output } = await runJob({
      file1: f1.id,
      file2: f2.id,
      mappings: [
        { file1_col: 'name', file2_col: 'full_name', match_type: 'fuzzy', weight: 1 },
        { file1_col: 'email', file2_col: 'email_address', match_type: 'exact', weight: 3 },
      ],
      output_cols1: ['id'],
      output_cols2: ['cust_id'],
      threshold: 90,
      generate_unmatched: false,
    });
    const matches = csvOf(path.join(resultsDir, 'matches.csv'));
    // Row 5 (jon@x.com) no longer matches A1: (90 + 3 × 0) / 4 = 22.5.
    expect(matches.map((m) => [m.id, m.cust_id, m.match_score])).toEqual([
      ['1', 'A1', '95'],
      ['2', 'A2', '100'],
      ['3', 'A3', String(Math.round(((100 * (1 - 1 / 12) + 300) / 4) * 100) / 100)],
    ]);
    expect(Object.keys(matches[0]!)).toEqual([
      'file1_row',
      'file2_row',
      'match_score',
      'score_name',
      'score_email',
      'id',
      'cust_id',
    ]);
    expect(output.resultFiles).toEqual(['matches.csv']);
  });

  it('token_prefix blocking finds reordered names that prefix blocking cannot', async () => {
    const f1 = await upload('alice', 'a.csv', 'name\nSmith John\n');
    const f2 = await upload('alice', 'b.csv', 'name\nJohn Smith\n');
    const base = {
      file1: f1.id,
      file2: f2.id,
      mappings: [{ file1_col: 'name', file2_col: 'name', match_type: 'token_sort' }],
      threshold: 90,
    };
    const byPrefix = await runJob(base);
    expect(byPrefix.output.result).toMatchObject({ matched: 0, comparisons: 0 });
    const byWord = await runJob({ ...base, blocking: { keys: [{ method: 'token_prefix', length: 3 }] } });
    expect(byWord.output.result).toMatchObject({ matched: 1, comparisons: 1 });
  });
});

describe('a chunk step interrupted and resumed from its checkpoint', () => {
  it('writes the same results as a run without interruption (nothing twice, nothing lost)', async () => {
    const names = ['anna', 'bernd', 'carla', 'dieter', 'emil', 'frieda', 'gustav', 'hanna', 'ingo', 'jana'];
    const rows1 = ['id,name'];
    const rows2 = ['key,name'];
    for (let i = 0; i < 2000; i++) {
      const name = `${names[i % 10]} ${names[(i * 7) % 10]}son${i % 97}`;
      rows1.push(`${i},${name}`);
      if (i % 3 !== 0) rows2.push(`k${i},${i % 2 ? name.toUpperCase() : name.replace('a', 'e')}`);
    }
    const f1 = await upload('alice', 'big1.csv', rows1.join('\n') + '\n');
    const f2 = await upload('alice', 'big2.csv', rows2.join('\n') + '\n');
    const input = {
      file1: f1.id,
      file2: f2.id,
      mappings: [{ file1_col: 'name', file2_col: 'name' }],
      rows_per_step: 1000,
      threshold: 85,
    };
    const whole = await runJob(input);

    const { input: config, plan } = registry.prepare('match', input, { owner: 'alice' });
    const resultsDir = mkdtempSync(path.join(dir, 'results-'));
    const previous = matchTuning.sliceMs;
    matchTuning.sliceMs = 0; // checkpoint every 256 rows
    try {
      let interruptions = 0;
      for (let step = 0; step < plan.totalSteps; step++) {
        let checkpoint: unknown;
        for (;;) {
          const ctx = stepContext(resultsDir, step, plan.totalSteps, checkpoint);
          // Stop the step at its third checkpoint, as a pause or a lost worker would.
          ctx.onProgress = (c) => {
            if (checkpoint === undefined && step < plan.totalSteps - 1 && c.checkpoints.length === 3) c.controller.abort();
          };
          try {
            await matchType().runStep(ctx, config);
            break;
          } catch (error) {
            expect(ctx.signal.aborted, String(error)).toBe(true);
            interruptions++;
            // Resume from the first: the last heartbeats may never have reached Temporal, so the rows
            // written after the checkpoint it knows must be cut and done again.
            checkpoint = ctx.checkpoints[0];
            expect(checkpoint).toMatchObject({ row: expect.any(Number), bytes: expect.any(Array) });
          }
        }
      }
      expect(interruptions).toBe(2); // each of the 2 chunk steps was cut once
    } finally {
      matchTuning.sliceMs = previous;
    }
    for (const name of ['matches.csv', 'unmatched_file1.csv', 'unmatched_file2.csv'])
      expect(readFileSync(path.join(resultsDir, name), 'utf8'), name).toBe(
        readFileSync(path.join(whole.resultsDir, name), 'utf8'),
      );
    const matched = csvOf(path.join(resultsDir, 'matches.csv')).length;
    expect(matched).toBeGreaterThan(1000);
    expect(matched + csvOf(path.join(resultsDir, 'unmatched_file1.csv')).length).toBe(2000);
  });
});

describe('input checks at submit', () => {
  const seed = {
    mappings: [{ file1_col: 'name', file2_col: 'full_name', match_type: 'fuzzy', use_normalization: true, weight: 1.0 }],
    output_cols1: ['id', 'name'],
    output_cols2: ['cust_id'],
    threshold: 80,
    generate_unmatched: true,
  };
  const issues = (input: unknown, owner = 'alice') => {
    try {
      registry.prepare('match', input, { owner });
    } catch (error) {
      if (error instanceof InvalidJobInputError) return error.issues;
      throw error;
    }
    return [];
  };

  it('without file ids: how to upload', () => {
    const found = issues(seed);
    expect(found.map((i) => i.path)).toEqual(['file1', 'file2']);
    expect(found[0]!.message).toMatch(/POST \/api\/v1\/files.*config\.file1 and config\.file2/);
  });

  it('unknown file ids, unknown columns, a blocking key without its mapping', async () => {
    const f1 = await upload('alice', 'customers.csv', customers);
    const f2 = await upload('alice', 'crm.csv', crm);
    expect(issues({ ...seed, file1: 'file_nope', file2: f2.id })).toEqual([
      {
        path: 'file1',
        message: expect.stringMatching(/^unknown file id "file_nope": upload each CSV file with POST \/api\/v1\/files/),
      },
    ]);
    expect(
      issues({
        ...seed,
        file1: f1.id,
        file2: f2.id,
        mappings: [{ file1_col: 'nme', file2_col: 'full_name' }],
        output_cols2: ['cust_id', 'phone'],
        blocking: { keys: [{ mapping: 1 }] },
      }),
    ).toEqual([
      { path: 'mappings.0.file1_col', message: 'file1 has no column "nme" (its columns: id, name, email, city)' },
      { path: 'output_cols2.1', message: 'file2 has no column "phone" (its columns: cust_id, full_name, email_address, town)' },
      { path: 'blocking.keys.0.mapping', message: 'no mapping 1 (there are 1, numbered from 0)' },
    ]);
    expect(issues({ ...seed, file1: f1.id, file2: f2.id, extra: 1 })[0]!.message).toMatch(/extra/);
    const many = await upload('alice', 'many.csv', 'name\n' + 'x\n'.repeat(20_001));
    expect(issues({ ...seed, file1: many.id, file2: f2.id, output_cols1: [], rows_per_step: 2 })).toEqual([
      { path: 'rows_per_step', message: 'too small for file1 (20002 lines): a job runs at most 10000 steps' },
    ]);
  });

  it("another owner's file is refused (403 at the API)", async () => {
    const mine = await upload('alice', 'customers.csv', customers);
    const theirs = await upload('bob', 'crm.csv', crm);
    expect(() => registry.prepare('match', { ...seed, file1: mine.id, file2: theirs.id }, { owner: 'alice' })).toThrow(
      InputAccessDeniedError,
    );
    expect(() => registry.prepare('match', { ...seed, file1: mine.id, file2: theirs.id }, { owner: 'alice' })).toThrow(
      /config\.file2: file .* belongs to another user/,
    );
  });

  it('claims a submit without a type whose input has mappings (the seed body)', () => {
    expect(registry.typeForUntyped(seed)).toBe('match');
    expect(registry.typeForUntyped({ steps: 3 })).toBeUndefined();
  });
});
