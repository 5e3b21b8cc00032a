import { existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { temporalCli } from '../support/temporalCli.js';
import { resultDirOf } from '../../src/jobs/resultDir.js';
import { retentionScheduleId } from '../../src/schedules/retentionSchedule.js';
import type { DeleteJobsResult } from '../../src/workflows/deleteJobsWorkflow.js';

/**
 * Automatic retention on the real dev server: a Temporal Schedule runs the delete workflow every
 * second for jobs finished more than MAX_AGE_MS before each run started.
 */
const MAX_AGE_MS = 8000;
let engine: TestEngine;
let scheduleId: string;

beforeAll(async () => {
  engine = await startTestEngine({ retention: { maxAgeMs: MAX_AGE_MS, intervalMs: 1000 } });
  scheduleId = retentionScheduleId(engine.taskQueue);
});
afterAll(async () => {
  await engine?.client.schedule
    .getHandle(scheduleId)
    .delete()
    .catch(() => undefined);
  await engine?.dispose();
});

const submit = async (body: Record<string, unknown>) => {
  const r = await engine.api('POST', '/api/v1/jobs/submit', { name: 'retention', ...body });
  expect(r.status).toBe(201);
  return r.body.job_id as string;
};
const job = async (id: string) => engine.api('GET', `/api/v1/jobs/${id}`);
const tombstoneOf = (id: string) => engine.eventStore.readStream(id).find((e) => e.type === 'JobDeleted');
const batchItems = (batchId: string) => {
  const db = new Database(path.join(engine.dir, 'batch-items.db'), { readonly: true });
  try {
    return db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM batch_items WHERE batch_id = ?').get(batchId)!.n;
  } finally {
    db.close();
  }
};
const upload = async (name: string, content: string) => {
  const form = new FormData();
  form.append('file', new Blob([content], { type: 'text/csv' }), name);
  const response = await engine.app.request('/api/v1/files', { method: 'POST', body: form });
  expect(response.status).toBe(201);
  return ((await response.json()) as { file_id: string }).file_id;
};
/** The retention runs Temporal has closed, with the cutoff each used. */
const closedRuns = async () => {
  const runs = new Map<string, DeleteJobsResult>();
  for await (const execution of engine.client.workflow.list({ query: `TemporalScheduledById = "${scheduleId}"` })) {
    if (execution.status.name !== 'COMPLETED') continue;
    runs.set(execution.runId, await engine.client.workflow.getHandle(execution.workflowId, execution.runId).result());
  }
  return runs;
};

describe('automatic retention', () => {
  it('is a Temporal Schedule, visible with `temporal schedule list`', async () => {
    const listed = await temporalCli(['schedule', 'list', '--output', 'json']);
    expect(listed).toContain(scheduleId);
    const described = await engine.client.schedule.getHandle(scheduleId).describe();
    expect(described.action).toMatchObject({
      type: 'startWorkflow',
      workflowType: 'deleteJobsWorkflow',
      taskQueue: engine.taskQueue,
    });
    // Not one of the API's schedules.
    expect((await engine.api('GET', `/api/v1/schedules/${scheduleId}`)).status).toBe(404);
  });

  it('removes finished jobs older than the age with their files and batch items; young and unfinished ones stay', async () => {
    const old = await submit({ type: 'report', input: { rows: 10, chunks: 1 } });
    const batch = await engine.api('POST', '/api/v1/batches', { name: 'b', type: 'noop', items: [{}, {}] });
    expect(batch.status).toBe(201);
    const batchId = batch.body.batch_id as string;
    const unfinished = await submit({ type: 'sleep', input: { steps: 1, step_ms: 10 }, delay_seconds: 3600 });
    // A cancelled match job: its input names two uploads no other job names.
    const uploads = [await upload('a.csv', 'name\nAda'), await upload('b.csv', 'full_name\nAda')];
    const matching = await submit({
      config: { file1: uploads[0], file2: uploads[1], mappings: [{ file1_col: 'name', file2_col: 'full_name' }] },
      delay_seconds: 3600,
    });
    expect((await engine.api('POST', `/api/v1/jobs/${matching}/cancel`, {})).status).toBe(200);
    await eventually(async () => (await job(old)).body.status === 'completed', 60_000, 'report completed');
    const oldFiles = resultDirOf(path.join(engine.dir, 'results'), old);
    expect(existsSync(oldFiles)).toBe(true);
    await eventually(
      async () => (await engine.api('GET', `/api/v1/batches/${batchId}`)).body.status === 'completed',
      60_000,
      'batch completed',
    );
    expect(batchItems(batchId)).toBe(2);
    const batchJobs = (await engine.api('GET', `/api/v1/batches/${batchId}/jobs`)).body;
    const batchJobIds = (Array.isArray(batchJobs) ? batchJobs : batchJobs.jobs).map((j: any) => j.id as string);
    expect(batchJobIds).toHaveLength(2);

    // Gone once older than the age: row, result files, the batch's stored inputs; a tombstone stays.
    await eventually(() => tombstoneOf(old), 60_000, 'the old job deleted by retention');
    expect(tombstoneOf(old)!.metadata).toMatchObject({
      actor: 'system:retention',
      reason: 'retention: finished more than 8s ago',
    });
    await eventually(async () => (await job(old)).status === 404, 10_000, 'row gone');
    expect(existsSync(oldFiles)).toBe(false);
    for (const id of [...batchJobIds, matching]) await eventually(() => tombstoneOf(id), 30_000, `${id} deleted`);
    // The uploads only the deleted job named went with it.
    for (const id of uploads)
      await eventually(
        async () => (await engine.api('GET', `/api/v1/files/${id}`)).status === 404,
        30_000,
        `upload ${id} removed`,
      );
    await eventually(() => batchItems(batchId) === 0, 30_000, 'batch items removed');

    // A young job: finished after the old one was gone. Wait for a run whose cutoff is before it
    // finished and that ran after it finished: it must still be there.
    const young = await submit({ type: 'noop' });
    await eventually(async () => (await job(young)).body.status === 'completed', 60_000, 'young completed');
    const finishedAt = Date.parse((await job(young)).body.completed_at);
    await eventually(
      async () => [...(await closedRuns()).values()].some((run) => Date.parse(run.cutoff!) + MAX_AGE_MS > finishedAt + 500),
      60_000,
      'a retention run after the young job finished',
    );
    // Every retention tombstone was written by a run whose cutoff was after that job finished.
    const runs = await closedRuns();
    const deletedByRetention = engine.eventStore
      .readAll({ fromPosition: 0, limit: 100_000 })
      .filter((e) => e.type === 'JobDeleted' && e.metadata.actor === 'system:retention');
    expect(deletedByRetention.length).toBeGreaterThanOrEqual(4);
    for (const tombstone of deletedByRetention) {
      const end = engine.eventStore
        .readStream(tombstone.streamId)
        .find((e) => ['JobCompleted', 'JobFailed', 'JobCancelled'].includes(e.type))!;
      const run = runs.get(tombstone.metadata.runId as string);
      if (run) expect(Date.parse(end.data.at as string)).toBeLessThan(Date.parse(run.cutoff!));
    }
    const youngTombstone = tombstoneOf(young);
    if (youngTombstone) {
      // Only possible on a machine so slow that a run started MAX_AGE_MS after it finished.
      expect(Date.parse(runs.get(youngTombstone.metadata.runId as string)!.cutoff!)).toBeGreaterThan(finishedAt);
    } else {
      expect((await job(young)).status).toBe(200);
    }
    // Unfinished: never touched.
    expect((await job(unfinished)).body.status).toBe('scheduled');
    expect(tombstoneOf(unfinished)).toBeUndefined();
    await engine.api('POST', `/api/v1/jobs/${unfinished}/cancel`, {});
  });
});
