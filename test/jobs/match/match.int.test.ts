import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jwtAuthenticator, mintToken } from '../../../src/api/auth.js';
import { eventually, startTestEngine, type TestEngine } from '../../support/testEngine.js';

/**
 * The seed workload end to end, through the API on a real dev server: upload two CSV files, submit the
 * documented body (no type) with file1/file2 added, wait for the job, list and download its results.
 */
const secret = 'match-secret';
const MAX_UPLOAD = 1024 * 1024;
let engine: TestEngine;
let alice: Record<string, string>;
let bob: Record<string, string>;

beforeAll(async () => {
  engine = await startTestEngine({
    appOptions: { authenticate: jwtAuthenticator({ secret }) },
    limits: { maxUploadBytes: MAX_UPLOAD },
  });
  alice = { authorization: `Bearer ${await mintToken(secret, 'alice')}` };
  bob = { authorization: `Bearer ${await mintToken(secret, 'bob')}` };
});
afterAll(async () => {
  await engine?.dispose();
});

const customers = [
  'customer_id,name,email,city',
  '1,John Smith,john@example.com,Berlin',
  '2,María García,maria@example.es,Madrid',
  '3,Peter Parker,peter@example.com,"New York, NY"',
  '4,Nobody Here,nobody@example.com,Nowhere',
  '5,Zoë Ångström,zoe@example.se,Uppsala',
].join('\n');
const crm = [
  'id,full_name,email_address,town',
  'C-1,Jon Smith,j.smith@example.com,Berlin',
  'C-2,MARIA GARCIA,maria@example.es,Madrid',
  'C-3,Petr Parker,peter@example.com,NYC',
  'C-4,Someone Else,else@example.com,Paris',
  'C-5,Zoe Angstrom,zoe@example.se,Uppsala',
].join('\n');

async function upload(headers: Record<string, string>, name: string, content: string | Uint8Array, field = 'file') {
  const form = new FormData();
  form.append(field, new Blob([content], { type: 'text/csv' }), name);
  const response = await engine.app.request('/api/v1/files', { method: 'POST', headers, body: form });
  return { status: response.status, body: (await response.json()) as any };
}

const seedBody = (extra: Record<string, unknown> = {}) => ({
  name: 'Customer Data Matching - Batch 1',
  config: {
    mappings: [{ file1_col: 'name', file2_col: 'full_name', match_type: 'fuzzy', use_normalization: true, weight: 1.0 }],
    output_cols1: ['customer_id', 'name', 'city'],
    output_cols2: ['id', 'full_name'],
    threshold: 80,
    generate_unmatched: true,
    ...extra,
  },
  priority: 2,
});

describe('files', () => {
  it('uploads a file as multipart, streamed, with its sha256; metadata is its owner’s only', async () => {
    const r = await upload(alice, 'customers.csv', customers);
    expect(r.status).toBe(201);
    expect(r.body).toEqual({
      file_id: expect.stringMatching(/^file_/),
      name: 'customers.csv',
      size: Buffer.byteLength(customers),
      sha256: createHash('sha256').update(customers).digest('hex'),
      created_at: expect.any(String),
    });
    const mine = await engine.api('GET', `/api/v1/files/${r.body.file_id}`, undefined, alice);
    expect(mine.status).toBe(200);
    expect(mine.body).toEqual(r.body);
    const theirs = await engine.api('GET', `/api/v1/files/${r.body.file_id}`, undefined, bob);
    expect(theirs.status).toBe(403);
    expect(theirs.body.details).toBe('Access denied to this file');
    expect((await engine.api('GET', '/api/v1/files/file_unknown', undefined, alice)).status).toBe(404);
  });

  it('413 over MAX_UPLOAD_BYTES (nothing kept), 415 for a body that is not multipart, 400 without a file part', async () => {
    const tooBig = await upload(alice, 'big.csv', 'x'.repeat(MAX_UPLOAD + 1));
    expect(tooBig.status).toBe(413);
    expect(tooBig.body).toEqual({
      error: 'Payload Too Large',
      details: `File larger than ${MAX_UPLOAD} bytes (MAX_UPLOAD_BYTES)`,
      timestamp: expect.any(String),
    });
    const stored = readdirSync(path.join(engine.dir, 'files'), { recursive: true }) as string[];
    expect(stored.filter((f) => f.endsWith('.part'))).toEqual([]);
    const json = await engine.api('POST', '/api/v1/files', { file: 'x' }, alice);
    expect(json.status).toBe(415);
    expect(json.body.details).toMatch(/multipart\/form-data/);
    const noFile = await upload(alice, 'x.csv', 'a,b', 'attachment');
    expect(noFile.status).toBe(400);
    expect(noFile.body.details).toMatch(/no file part named "file"/);
  });
});

describe('the match job (seed body)', () => {
  it('without file ids: 400 saying how to upload', async () => {
    const r = await engine.api('POST', '/api/v1/jobs/submit', seedBody(), { ...alice, 'content-type': 'application/json' });
    expect(r.status).toBe(400);
    expect(r.body.details).toMatch(/input\.file1: file1 is required: upload each CSV file with POST \/api\/v1\/files/);
    expect(r.body.details).toMatch(/config\.file1 and config\.file2/);
  });

  it("with another owner's file: 403; with an unknown one or a wrong column: 400", async () => {
    const mine = (await upload(alice, 'customers.csv', customers)).body.file_id;
    const theirs = (await upload(bob, 'crm.csv', crm)).body.file_id;
    const forbidden = await engine.api('POST', '/api/v1/jobs/submit', seedBody({ file1: mine, file2: theirs }), alice);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.details).toMatch(/config\.file2: file .* belongs to another user/);
    const unknown = await engine.api('POST', '/api/v1/jobs/submit', seedBody({ file1: mine, file2: 'file_nope' }), alice);
    expect(unknown.status).toBe(400);
    expect(unknown.body.details).toMatch(/^input\.file2: unknown file id "file_nope"/);
    const column = await engine.api(
      'POST',
      '/api/v1/jobs/submit',
      seedBody({ file1: mine, file2: mine, output_cols2: ['full_name'] }),
      alice,
    );
    expect(column.status).toBe(400);
    expect(column.body.details).toMatch(/file2 has no column "full_name"/);
  });

  it('runs: matched rows, unmatched rows, result files listed and downloaded (owner only)', async () => {
    const file1 = (await upload(alice, 'customers.csv', customers)).body.file_id;
    const file2 = (await upload(alice, 'crm.csv', crm)).body.file_id;
    const submitted = await engine.api('POST', '/api/v1/jobs/submit', seedBody({ file1, file2, rows_per_step: 2 }), alice);
    expect(submitted.status).toBe(201);
    const jobId = submitted.body.job_id;
    const job = await eventually(
      async () => {
        const j = (await engine.api('GET', `/api/v1/jobs/${jobId}`, undefined, alice)).body;
        if (j.status === 'failed') throw new Error(`job failed: ${j.error_message}`);
        return j.status === 'completed' ? j : undefined;
      },
      60_000,
      'match job completed',
    );
    expect(job.type).toBe('match');
    expect(job.total_steps).toBe(4); // 5 rows in chunks of 2, then the joining step
    expect(job.result_files).toEqual(['matches.csv', 'unmatched_file1.csv', 'unmatched_file2.csv']);
    expect(job.result).toMatchObject({ rows_file1: 5, rows_file2: 5, matched: 4, message: 'matched 4 of 5 rows' });

    const list = await engine.api('GET', `/api/v1/jobs/${jobId}/files`, undefined, alice);
    expect(list.status).toBe(200);
    expect(list.body.files.map((f: any) => [f.name, f.content_type, f.download_url])).toEqual(
      ['matches.csv', 'unmatched_file1.csv', 'unmatched_file2.csv'].map((name) => [
        name,
        'text/csv; charset=utf-8',
        `/api/v1/jobs/${jobId}/files/${name}`,
      ]),
    );
    const download = async (name: string, headers = alice) => {
      const response = await engine.app.request(`/api/v1/jobs/${jobId}/files/${name}`, { headers });
      return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
    };
    const matches = await download('matches.csv');
    expect(matches.status).toBe(200);
    expect(matches.type).toBe('text/csv; charset=utf-8');
    expect(Buffer.byteLength(matches.text)).toBe(list.body.files[0].size);
    const rows = parse(matches.text, { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => [r.customer_id, r.id, Number(r.match_score) >= 80])).toEqual([
      ['1', 'C-1', true],
      ['2', 'C-2', true],
      ['3', 'C-3', true],
      ['5', 'C-5', true],
    ]);
    expect(rows[2]).toMatchObject({ name: 'Peter Parker', city: 'New York, NY', full_name: 'Petr Parker' });
    expect(parse((await download('unmatched_file1.csv')).text, { columns: true })).toEqual([
      { file1_row: '4', customer_id: '4', name: 'Nobody Here', city: 'Nowhere' },
    ]);
    expect(parse((await download('unmatched_file2.csv')).text, { columns: true })).toEqual([
      { file2_row: '4', id: 'C-4', full_name: 'Someone Else' },
    ]);

    // Only the owner; only listed names; never a path.
    expect((await engine.api('GET', `/api/v1/jobs/${jobId}/files`, undefined, bob)).status).toBe(403);
    expect((await download('matches.csv', bob)).status).toBe(403);
    expect((await download('.match-summary.json')).status).toBe(404);
    expect((await download('..%2F..%2Fevents.db')).status).toBe(404);
    expect((await download('no-such.csv')).status).toBe(404);
    expect((await engine.api('GET', '/api/v1/jobs/job_unknown/files', undefined, alice)).status).toBe(404);
  });
});

describe('a match job paused in the middle of a step', () => {
  it('uploads are listed, cannot be deleted while a job reads them, and go with the last job that used them', async () => {
    const file1 = (await upload(alice, 'a.csv', customers)).body.file_id;
    const file2 = (await upload(alice, 'b.csv', crm)).body.file_id;
    const listed = (await engine.api('GET', '/api/v1/files', undefined, alice)).body.map((f: { file_id: string }) => f.file_id);
    expect(listed).toEqual(expect.arrayContaining([file1, file2]));
    // A job waiting for its time reads the files: they cannot be deleted.
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const submitted = await engine.api(
      'POST',
      '/api/v1/jobs/submit',
      { ...seedBody({ file1, file2 }), scheduled_at: later },
      alice,
    );
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(201);
    const jobId = submitted.body.job_id;
    const busy = await engine.api('DELETE', `/api/v1/files/${file2}`, undefined, alice);
    expect(busy.status).toBe(409);
    expect(busy.body.details).toContain(jobId);
    expect((await engine.api('POST', `/api/v1/jobs/${jobId}/cancel`, undefined, alice)).status).toBe(200);
    expect((await engine.api('DELETE', `/api/v1/jobs/${jobId}`, undefined, alice)).status).toBe(200);
    // The job was the last to name them: its input files went with it.
    expect((await engine.api('GET', `/api/v1/files/${file1}`, undefined, alice)).status).toBe(404);
    expect((await engine.api('GET', `/api/v1/files/${file2}`, undefined, alice)).status).toBe(404);
    // A file no job reads can be deleted by its owner.
    const spare = (await upload(alice, 'c.csv', crm)).body.file_id;
    expect((await engine.api('DELETE', `/api/v1/files/${spare}`, undefined, alice)).body).toMatchObject({ success: true });
    expect((await engine.api('GET', `/api/v1/files/${spare}`, undefined, alice)).status).toBe(404);
  });

  it('resumes the step from its checkpoint, with the results of a run without pause', async () => {
    // Every row of file1 is compared with every row of file2 (one block: the same country), so the one
    // chunk step runs for seconds: long enough to be paused in the middle.
    const syllables = ['ka', 'ro', 'mi', 'le', 'to', 'na', 'su', 'vi', 'da', 'po', 'ri', 'ze'];
    let seed = 7;
    const next = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const word = (n: number) => Array.from({ length: n }, () => syllables[Math.floor(next() * syllables.length)]).join('');
    const people = Array.from({ length: 5000 }, () => `${word(2)} ${word(3)}`);
    const file1Text = ['name,country', ...people.map((p, i) => `${i % 4 ? p : p.replace(/a/, 'e')},DE`)].join('\n');
    const file2Text = ['full_name,country', ...people.map((p) => `${p},DE`)].join('\n');
    const file1 = (await upload(alice, 'a.csv', file1Text)).body.file_id;
    const file2 = (await upload(alice, 'b.csv', file2Text)).body.file_id;
    const body = {
      name: 'paused match',
      config: {
        file1,
        file2,
        mappings: [
          { file1_col: 'country', file2_col: 'country', match_type: 'exact', weight: 1 },
          { file1_col: 'name', file2_col: 'full_name', match_type: 'fuzzy', weight: 3 },
        ],
        threshold: 90,
        rows_per_step: 10_000,
        blocking: { keys: [{ mapping: 0, method: 'exact' }] },
      },
    };
    const api = (method: string, url: string, payload?: unknown) => engine.api(method, url, payload, alice);
    const waitFor = (jobId: string, status: string) =>
      eventually(
        async () => {
          const j = (await api('GET', `/api/v1/jobs/${jobId}`)).body;
          if (j.status === 'failed') throw new Error(`job failed: ${j.error_message}`);
          return j.status === status ? j : undefined;
        },
        90_000,
        `${jobId} ${status}`,
      );
    const stepRuns = async (jobId: string) => {
      const history = await engine.client.workflow.getHandle(jobId).fetchHistory();
      return (history.events ?? [])
        .map((e) => e.activityTaskScheduledEventAttributes)
        .filter((a) => a?.activityType?.name === 'runJobStep')
        .map((a) => defaultPayloadConverter.fromPayload(a!.input!.payloads![0]!) as { step: number; checkpoint: any });
    };

    const paused = (await api('POST', '/api/v1/jobs/submit', body)).body.job_id;
    await waitFor(paused, 'running');
    await new Promise((r) => setTimeout(r, 300));
    const pause = await api('POST', `/api/v1/jobs/${paused}/pause`, { reason: 'test' });
    expect(pause.status).toBe(200);
    expect(pause.body.job).toMatchObject({ status: 'paused', completed_steps: 0 });
    // The step hears the pause at its next heartbeat and hands back its checkpoint.
    await eventually(
      async () => {
        const history = await engine.client.workflow.getHandle(paused).fetchHistory();
        return history.events?.some((e) => e.activityTaskCanceledEventAttributes || e.activityTaskCompletedEventAttributes);
      },
      30_000,
      'step stopped',
    );
    expect((await api('POST', `/api/v1/jobs/${paused}/resume`)).status).toBe(200);
    const done = await waitFor(paused, 'completed');

    const runs = await stepRuns(paused);
    const step0 = runs.filter((r) => r.step === 0);
    expect(step0.length).toBe(2); // started, paused, resumed: twice scheduled…
    expect(step0[0]!.checkpoint).toBeUndefined();
    expect(step0[1]!.checkpoint.row).toBeGreaterThan(0); // …the second time from where it stopped
    expect(step0[1]!.checkpoint.row).toBeLessThan(5000);

    const plain = (await api('POST', '/api/v1/jobs/submit', { ...body, name: 'plain match' })).body.job_id;
    const reference = await waitFor(plain, 'completed');
    expect(done.result).toMatchObject({ rows_file1: 5000, comparisons: 5000 * 5000 });
    expect(done.result.matched).toBe(reference.result.matched);
    const text = async (jobId: string, name: string) =>
      (await engine.app.request(`/api/v1/jobs/${jobId}/files/${name}`, { headers: alice })).text();
    for (const name of ['matches.csv', 'unmatched_file1.csv', 'unmatched_file2.csv'])
      expect(await text(paused, name), name).toBe(await text(plain, name));
  });
});
