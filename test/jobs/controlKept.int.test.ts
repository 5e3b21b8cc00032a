import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startDevServer, type DevServer } from '../../src/temporal/devServer.js';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import type { NodeProcess } from '../support/nodeProcess.js';
import { startWorkerProcess } from '../support/workerProcess.js';
import { closedExecutionStatus, runningTargets } from '../support/controlTargets.js';
import { poolStreamId } from '../../src/domain/index.js';

/**
 * A control its workflow did not take within CONTROL_WAIT_MS (no worker running it) is answered 202
 * and sent again as a signal with the Update's id: an Update Temporal admitted but no worker took
 * lives in the server's memory only, a signal is in the workflow's history. So the control takes
 * effect, once, even when the Temporal server restarts before any worker runs the workflow. This file
 * starts a dev server of its own with its database in a file, and restarts it.
 */
const dir = mkdtempSync(path.join(os.tmpdir(), 'job-engine-kept-'));
let server: DevServer;
let port: number;
let engine: TestEngine;
const workers: NodeProcess[] = [];

const startServer = () => startDevServer({ port, dbFilename: path.join(dir, 'temporal.db'), headless: true });

async function startWorker(): Promise<NodeProcess> {
  const worker = await startWorkerProcess(engine);
  workers.push(worker);
  return worker;
}

beforeAll(async () => {
  port = await freePort();
  server = await startServer();
  engine = await startTestEngine({
    temporalAddress: server.address,
    runWorkers: false,
    storeAccess: 'remote',
    controlWaitMs: 1_500,
  });
}, 120_000);
afterAll(async () => {
  for (const w of workers) w.child.kill('SIGKILL');
  await engine?.dispose();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

const job = async (id: string) => (await engine.api('GET', `/api/v1/jobs/${id}`)).body;
const batch = async (id: string) => (await engine.api('GET', `/api/v1/batches/${id}`)).body;
const events = (streamId: string) => engine.eventStore.readStream(streamId);
const count = (streamId: string, type: string) => events(streamId).filter((e) => e.type === type).length;

describe('a control not taken before Temporal restarts', () => {
  it('is kept (sent again as a signal) and taken once when a worker runs the workflow', async () => {
    const first = await startWorker();
    const { jobIds, batchId } = await runningTargets(engine, ['to-pause', 'to-reprioritize', 'to-cancel']);
    const [toPause, toReprioritize, toCancel] = jobIds as [string, string, string];

    first.child.kill('SIGKILL');
    await first.exited;

    const pause = await engine.api('POST', `/api/v1/jobs/${toPause}/pause`, { reason: 'kept pause' });
    expect(pause.status, JSON.stringify(pause.body)).toBe(202);
    expect(pause.body.message).toMatch(/^Pause sent; not taken by .* within 1\.5 s .*kept in the workflow's history/);
    const priority = await engine.api('PUT', `/api/v1/jobs/${toReprioritize}/priority`, { priority: 4, reason: 'kept priority' });
    expect(priority.status, JSON.stringify(priority.body)).toBe(202);
    expect(priority.body.message).toMatch(/kept in the workflow's history/);
    const cancel = await engine.api('POST', `/api/v1/jobs/${toCancel}/cancel`, { reason: 'kept cancel' });
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(202);
    expect(cancel.body.message).toMatch(/kept in the workflow's history/);
    const batchPause = await engine.api('POST', `/api/v1/batches/${batchId}/pause`, { reason: 'kept batch pause' });
    expect(batchPause.status, JSON.stringify(batchPause.body)).toBe(202);
    expect(batchPause.body.message).toMatch(/kept in the workflow's history/);
    const limit = await engine.api('PUT', '/api/v1/pools/default', { limit: 9, reason: 'kept limit' });
    expect(limit.status, JSON.stringify(limit.body)).toBe(202);
    expect(limit.body.message).toMatch(/kept in the workflow's history/);
    expect(events(toPause).map((e) => e.type)).not.toContain('JobPaused');

    // The server restarts before any worker took them: the admitted Updates are gone with it.
    await server.stop();
    server = await startServer();
    await startWorker();

    await eventually(async () => (await job(toPause)).status === 'paused', 90_000, 'the pause taken');
    await eventually(async () => (await job(toReprioritize)).priority === 4, 90_000, 'the priority taken');
    await eventually(async () => (await job(toCancel)).status === 'cancelled', 90_000, 'the cancel taken');
    await eventually(async () => (await batch(batchId)).status === 'paused', 90_000, 'the batch pause taken');
    await eventually(async () => (await engine.api('GET', '/api/v1/pools/default')).body.limit === 9, 90_000, 'the limit taken');

    // Taken once each, recorded as the user's (actor and reason), with the request's id.
    const paused = events(toPause).filter((e) => e.type === 'JobPaused');
    expect(paused).toHaveLength(1);
    expect(paused[0]!.metadata).toMatchObject({ actor: expect.stringMatching(/^user:/), reason: 'kept pause' });
    expect(paused[0]!.metadata.requestId).toEqual(expect.any(String));
    const reprioritized = events(toReprioritize).filter((e) => e.type === 'JobReprioritized');
    expect(reprioritized).toHaveLength(1);
    expect(reprioritized[0]!.metadata).toMatchObject({ reason: 'kept priority' });
    const cancelled = events(toCancel).filter((e) => e.type === 'JobCancelled');
    expect(cancelled).toHaveLength(1);
    expect(cancelled[0]!.metadata).toMatchObject({ actor: expect.stringMatching(/^user:/), reason: 'kept cancel' });
    expect(count(batchId, 'BatchPaused')).toBe(1);
    const limitChanges = events(poolStreamId('default')).filter((e) => e.type === 'PoolLimitChanged');
    expect(limitChanges).toHaveLength(1);
    expect(limitChanges[0]!.data.limit).toBe(9);
    expect(limitChanges[0]!.metadata).toMatchObject({ actor: expect.stringMatching(/^user:/), reason: 'kept limit' });
    for (const id of [toPause, toReprioritize, toCancel]) expect(count(id, 'JobSignalIgnored'), id).toBe(0);
    expect(count(batchId, 'BatchSignalIgnored')).toBe(0);
    // The cancel's Temporal cancel request went too: the execution closes as Canceled.
    expect(await closedExecutionStatus(engine, toCancel)).toBe('CANCELLED');
    // The rest runs on: a resume is answered as done again.
    const resume = await engine.api('POST', `/api/v1/jobs/${toPause}/resume`);
    expect(resume.status, JSON.stringify(resume.body)).toBe(200);
  }, 300_000);
});
