import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import type { NodeProcess } from '../support/nodeProcess.js';
import { startWorkerProcess } from '../support/workerProcess.js';
import { closedExecutionStatus, runningTargets } from '../support/controlTargets.js';
import { poolStreamId } from '../../src/domain/index.js';

/**
 * A control whose workflow no worker runs (the only worker process was killed) is answered within
 * CONTROL_WAIT_MS as sent and not taken yet (202, `pending: true`) instead of hanging — and it takes
 * effect, once, when a worker runs the workflow again.
 */
let engine: TestEngine;
const workers: NodeProcess[] = [];

async function startWorker(): Promise<NodeProcess> {
  const worker = await startWorkerProcess(engine);
  workers.push(worker);
  return worker;
}

beforeAll(async () => {
  engine = await startTestEngine({ runWorkers: false, storeAccess: 'remote', controlWaitMs: 1_500 });
}, 120_000);
afterAll(async () => {
  for (const w of workers) w.child.kill('SIGKILL');
  await engine?.dispose();
});

const job = async (id: string) => (await engine.api('GET', `/api/v1/jobs/${id}`)).body;
const batch = async (id: string) => (await engine.api('GET', `/api/v1/batches/${id}`)).body;
const eventTypes = (streamId: string) => engine.eventStore.readStream(streamId).map((e) => e.type);
const count = (types: string[], type: string) => types.filter((t) => t === type).length;

describe('controls while no worker runs the workflow', () => {
  it('answer 202 (sent, not taken yet) and take effect once a worker is back', async () => {
    const first = await startWorker();
    const { jobIds, batchId } = await runningTargets(engine, ['to-pause', 'to-cancel']);
    const [toPause, toCancel] = jobIds as [string, string];
    const toDelete = (await engine.api('POST', '/api/v1/jobs/submit', { name: 'to-delete', type: 'noop' })).body.job_id;
    const failing = { name: 'to-retry', type: 'flaky', input: { steps: 1, step_ms: 0, fail_on_step: 0, permanent: true } };
    const toRetry = (await engine.api('POST', '/api/v1/jobs/submit', failing)).body.job_id;
    const deadIds = await Promise.all(
      Array.from({ length: 5 }, async (_, i) => {
        return (await engine.api('POST', '/api/v1/jobs/submit', { ...failing, name: `dead-${i}` })).body.job_id as string;
      }),
    );
    const failedBatch = (await engine.api('POST', '/api/v1/batches', { name: 'failing', jobs: [failing] })).body.batch_id;
    await eventually(async () => (await job(toDelete)).status === 'completed' && (await job(toRetry)).status === 'failed');
    await eventually(async () => (await Promise.all(deadIds.map(job))).every((j) => j.status === 'failed'), 30_000, 'dead');
    const ended = (types: string[]) => types.filter((t) => t === 'BatchCompleted' || t === 'BatchFailed').length;
    await eventually(async () => ended(eventTypes(failedBatch)) === 1, 30_000, 'the failing batch over');

    const bulkIds = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const input = { steps: 200, step_ms: 500 };
        return (await engine.api('POST', '/api/v1/jobs/submit', { name: `bulk-${i}`, type: 'sleep', input })).body
          .job_id as string;
      }),
    );
    await eventually(async () => (await Promise.all(bulkIds.map(job))).every((j) => j.status === 'running'), 30_000, 'bulk jobs');

    first.child.kill('SIGKILL');
    await first.exited;

    const pause = await engine.api('POST', `/api/v1/jobs/${toPause}/pause`, { reason: 'no worker' });
    expect(pause.status, JSON.stringify(pause.body)).toBe(202);
    expect(pause.body.pending).toBe(true);
    expect(pause.body.message).toMatch(/^Pause sent; not taken by .* within 1\.5 s/);
    expect(pause.body.job.status).toBe('running'); // as it is: nothing was recorded yet
    const priority = await engine.api('PUT', `/api/v1/jobs/${toPause}/priority`, { priority: 4 });
    expect(priority.status, JSON.stringify(priority.body)).toBe(202);
    const cancel = await engine.api('POST', `/api/v1/jobs/${toCancel}/cancel`, { reason: 'no worker' });
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(202);
    expect(cancel.body.pending).toBe(true);
    const batchPause = await engine.api('POST', `/api/v1/batches/${batchId}/pause`);
    expect(batchPause.status, JSON.stringify(batchPause.body)).toBe(202);
    expect(batchPause.body.pending).toBe(true);
    expect(batchPause.body.batch.status).toBe('running');
    // A pool's limit: 202 as well, the pool as it is (the change sent again as its setLimit signal).
    const limit = await engine.api('PUT', '/api/v1/pools/default', { limit: 7 });
    expect(limit.status, JSON.stringify(limit.body)).toBe(202);
    expect(limit.body).toMatchObject({ success: true, pending: true, pool: { name: 'default' } });
    expect(limit.body.pool.limit).not.toBe(7);
    expect(limit.body.message).toMatch(/^Limit change sent; not taken by pool default's workflow within 1\.5 s .*kept/);
    // Work that a workflow does: started, answered 202 (pending), done when a worker is back.
    const [deletion, retry, lateBatch, batchRetry, deadRetry] = await Promise.all([
      engine.api('DELETE', `/api/v1/jobs/${toDelete}`),
      engine.api('POST', `/api/v1/jobs/${toRetry}/retry`),
      engine.api('POST', '/api/v1/batches', { name: 'late', jobs: [{ name: 'l1', type: 'noop' }] }),
      engine.api('POST', `/api/v1/batches/${failedBatch}/retry-failed`),
      engine.api('POST', '/api/v1/jobs/dead/retry', { job_ids: deadIds }),
    ]);
    // Started, not recorded: retried all the same (after the first not recorded, the rest do not wait).
    expect(deadRetry.status, JSON.stringify(deadRetry.body)).toBe(200);
    expect(deadRetry.body).toMatchObject({ retried: 5, skipped: [] });
    expect(batchRetry.status, JSON.stringify(batchRetry.body)).toBe(202);
    expect(batchRetry.body.message).toMatch(/^Retry of 1 failed job\(s\) of batch_.* started; not recorded/);
    expect(deletion.status, JSON.stringify(deletion.body)).toBe(202);
    expect(deletion.body).toMatchObject({ success: true, pending: true });
    expect(deletion.body.message).toMatch(/^Deletion of .* started \(delete_.*\); not finished within 1\.5 s/);
    expect(retry.status, JSON.stringify(retry.body)).toBe(202);
    expect(retry.body.message).toMatch(/^Retry of .* started; not recorded within/);
    expect(lateBatch.status, JSON.stringify(lateBatch.body)).toBe(202);
    expect(lateBatch.body.message).toMatch(/not recorded yet/);
    // A bulk pause of 10: the first 8 (its concurrency) are sent and not taken within the wait; then the
    // request's one wait is over, and the last 2 are not sent.
    const bulk = await engine.api('POST', '/api/v1/jobs/bulk', { action: 'pause', ids: bulkIds });
    expect(bulk.status, JSON.stringify(bulk.body)).toBe(200);
    const sent = bulk.body.results.filter((r: any) => r.pending === true);
    const notSent = bulk.body.results.filter((r: any) => r.success === false);
    expect(sent.length, JSON.stringify(bulk.body)).toBe(8);
    expect(notSent.map((r: any) => r.error)).toEqual([expect.stringMatching(/^not sent/), expect.stringMatching(/^not sent/)]);
    expect(bulk.body).toMatchObject({ matched: 10, succeeded: 8, failed: 2 });
    // Nothing recorded meanwhile: the job's workflow writes its own transitions.
    expect(eventTypes(toPause)).not.toContain('JobPaused');

    await startWorker();
    const paused = await eventually(
      async () => {
        const j = await job(toPause);
        return j.status === 'paused' && j.priority === 4 ? j : undefined;
      },
      60_000,
      'the pause and the priority taken',
    );
    expect(paused.status).toBe('paused');
    await eventually(async () => (await job(toCancel)).status === 'cancelled', 60_000, 'the cancel taken');
    await eventually(async () => (await batch(batchId)).status === 'paused', 60_000, 'the batch pause taken');
    await eventually(async () => (await engine.api('GET', '/api/v1/pools/default')).body.limit === 7, 60_000, 'the limit taken');
    await eventually(async () => (await engine.api('GET', `/api/v1/jobs/${toDelete}`)).status === 404, 60_000, 'deleted');
    await eventually(async () => (await job(toRetry)).attempts === 2, 60_000, 'the retry run');
    for (const id of deadIds) await eventually(async () => (await job(id)).attempts === 2, 60_000, 'the dead-letter retries');
    await eventually(async () => ended(eventTypes(failedBatch)) === 2, 60_000, 'the failed job retried in its batch');
    expect(count(eventTypes(failedBatch), 'BatchRetryStarted')).toBe(1);
    await eventually(async () => (await batch(lateBatch.body.batch_id)).status === 'completed', 60_000, 'the late batch');
    for (const r of sent) await eventually(async () => (await job(r.job_id)).status === 'paused', 60_000, 'bulk pause taken');
    for (const r of notSent) expect(eventTypes(r.job_id)).not.toContain('JobPaused'); // (a retry of the lost step, maybe)
    // Temporal's own cancel request went with the cancel: the execution closes as Canceled.
    expect(await closedExecutionStatus(engine, toCancel)).toBe('CANCELLED');

    const pausedEvents = eventTypes(toPause);
    expect(count(pausedEvents, 'JobPaused')).toBe(1);
    expect(count(pausedEvents, 'JobReprioritized')).toBe(1);
    expect(count(eventTypes(toCancel), 'JobCancelled')).toBe(1);
    expect(count(eventTypes(batchId), 'BatchPaused')).toBe(1);
    // Each was sent twice (the Update, and a signal with its id when it was not taken): taken once,
    // the second neither applied nor recorded as ignored.
    for (const id of [toPause, toCancel]) expect(count(eventTypes(id), 'JobSignalIgnored'), id).toBe(0);
    expect(count(eventTypes(batchId), 'BatchSignalIgnored')).toBe(0);
    const limitChanges = engine.eventStore.readStream(poolStreamId('default')).filter((e) => e.type === 'PoolLimitChanged');
    expect(limitChanges.map((e) => e.data.limit)).toEqual([7]);

    // With a worker running, a control is answered as done again.
    const resume = await engine.api('POST', `/api/v1/jobs/${toPause}/resume`);
    expect(resume.status, JSON.stringify(resume.body)).toBe(200);
    expect(resume.body.pending).toBeUndefined();
    expect(['queued', 'running']).toContain(resume.body.job.status);
  }, 180_000);
});
