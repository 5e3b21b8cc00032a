import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobTypeRegistry } from '../../src/jobs/registry.js';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { startNodeProcess, type NodeProcess } from '../support/nodeProcess.js';
import { workerProcessEnv } from '../support/workerProcess.js';
import { maxConcurrentSteps, probeJob } from '../support/probeJobType.js';

/**
 * A pool's limit holds across worker processes: the API process (read model, scheduler) runs no
 * workers; two worker processes run the workflows and steps (the first also owns the store). Slots
 * come back after pause, cancel, failure and a worker killed with SIGKILL.
 */
let engine: TestEngine;
let log: string;
const workers: NodeProcess[] = [];
const killedAt: Record<string, number> = {};

async function startWorker(storeOwner: boolean): Promise<NodeProcess> {
  const worker = await startNodeProcess({
    entry: 'src/worker/main.ts',
    readyText: 'worker ready',
    env: workerProcessEnv(engine, {
      JOB_TYPES: 'test/support/probeJobType.ts',
      STORE_OWNER: storeOwner ? 'true' : 'false',
      MAX_CONCURRENT_STEPS: '10',
    }),
  });
  workers.push(worker);
  return worker;
}

beforeAll(async () => {
  const registry = new JobTypeRegistry();
  registry.register(probeJob);
  engine = await startTestEngine({ registry, runWorkers: false, storeAccess: 'remote', pools: { gpu: 2 } });
  log = path.join(engine.dir, 'probe.log');
  await startWorker(true);
  await startWorker(false);
}, 120_000);
afterAll(async () => {
  for (const w of workers) w.child.kill('SIGKILL');
  await engine?.dispose();
});

const job = async (id: string) => (await engine.api('GET', `/api/v1/jobs/${id}`)).body;
async function submit(input: Record<string, unknown>): Promise<string> {
  const r = await engine.api('POST', '/api/v1/jobs/submit', { name: 'g', type: 'probe', pool: 'gpu', input: { log, ...input } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.job_id;
}
const running = async (ids: string[]) =>
  (await Promise.all(ids.map(job))).filter((j) => j.status === 'running').map((j) => j.id as string);

describe('a pool of 2 across two worker processes', () => {
  it('never runs more than 2; pause, cancel, failure and kill -9 give slots back; every job ends', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await submit({ steps: 6, step_ms: 400 }));
    const failing = await submit({ steps: 1, fail: true });
    ids.push(failing);

    // Pause one running job: a queued one takes its slot.
    const [first] = await eventually(async () => {
      const r = await running(ids);
      return r.length === 2 ? r : undefined;
    });
    expect((await engine.api('POST', `/api/v1/jobs/${first}/pause`)).status).toBe(200);
    await eventually(
      async () => (await running(ids)).filter((id) => id !== first).length === 2,
      15_000,
      'slot handed on after pause',
    );

    // Cancel a running one.
    const [second] = await running(ids);
    expect((await engine.api('POST', `/api/v1/jobs/${second}/cancel`)).status).toBe(200);

    // kill -9 the worker that does not own the store while steps run; start a new one.
    const victim = workers[1]!;
    killedAt[String(victim.child.pid)] = Date.now();
    victim.child.kill('SIGKILL');
    await victim.exited;
    await startWorker(false);

    expect((await engine.api('POST', `/api/v1/jobs/${first}/resume`)).status).toBe(200);
    const finals = await eventually(
      async () => {
        const all = await Promise.all(ids.map(job));
        return all.every((j) => ['completed', 'failed', 'cancelled'].includes(j.status)) ? all : undefined;
      },
      90_000,
      'every job ended',
    );
    const byStatus = (s: string) => finals.filter((j) => j.status === s).map((j) => j.id);
    expect(byStatus('cancelled')).toEqual([second]);
    expect(byStatus('failed')).toEqual([failing]);
    expect(byStatus('completed')).toHaveLength(9);
    const max = maxConcurrentSteps(log, killedAt);
    console.log(`[pool across workers] most steps at once: ${max} (limit 2)`);
    expect(max).toBeLessThanOrEqual(2);
    expect(max).toBe(2);
    // Nothing is left holding a slot.
    const pool = await eventually(async () => {
      const p = (await engine.api('GET', '/api/v1/pools/gpu')).body;
      return p.used === 0 ? p : undefined;
    });
    expect(pool).toMatchObject({ used: 0, running: 0, queued: 0 });
    // The pool's own count follows: the read model's owner wakes it when a holder's end is applied, and
    // its pick then frees the slot (a moment after the read model shows the end; a slot that stayed
    // held would never come back here: with a free slot and an empty line the pool does not sweep).
    const pools = engine.client.workflow.getHandle(`${engine.taskQueue}/pool:gpu`);
    const freedAt = Date.now();
    const state = await eventually(
      async () => {
        const s = await pools.query<{ used: number }>('state');
        return s.used === 0 ? s : undefined;
      },
      20_000,
      'the pool to free every slot',
    );
    console.log(`[pool across workers] the pool's own count reached 0 ${Date.now() - freedAt} ms after the read model's`);
    expect(state).toMatchObject({ used: 0 });
    // The pick here is remote (the API process runs no workers): it told the jobs itself, the pool's
    // workflow sent no grant of its own.
    const history = (await pools.fetchHistory()).events!;
    expect(history.filter((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes)).toEqual([]);
    expect(history.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'pickPoolWaiters')).toBe(true);
  });

  it('a batch run by the worker processes reaches its jobs through the API process: pause and resume, no command per job', async () => {
    const created = await engine.api('POST', '/api/v1/batches', {
      name: 'across',
      concurrency: 2,
      jobs: Array.from({ length: 4 }, () => ({ name: 'p', type: 'probe', pool: 'gpu', input: { log, steps: 5, step_ms: 300 } })),
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.batch_id as string;
    const jobsOf = async () => (await engine.api('GET', `/api/v1/batches/${id}/jobs?limit=10`)).body as any[];
    await eventually(async () => (await jobsOf()).filter((j) => j.status === 'running').length === 2, 30_000, 'two running');
    expect((await engine.api('POST', `/api/v1/batches/${id}/pause`, { reason: 'across' })).status).toBe(200);
    await eventually(async () => (await jobsOf()).filter((j) => j.status === 'paused').length === 2, 20_000, 'both paused');
    expect((await engine.api('POST', `/api/v1/batches/${id}/resume`)).status).toBe(200);
    await eventually(
      async () => (await engine.api('GET', `/api/v1/batches/${id}`)).body.status === 'completed',
      90_000,
      'the batch completed',
    );
    const jobs = await jobsOf();
    expect(jobs.map((j) => j.status)).toEqual(['completed', 'completed', 'completed', 'completed']);
    for (const j of jobs.filter((x) => engine.eventStore.readStream(x.id).some((e) => e.type === 'JobPaused'))) {
      const types = engine.eventStore.readStream(j.id).map((e) => e.type);
      expect(types.filter((t) => t === 'JobPaused')).toHaveLength(1);
      expect(types.filter((t) => t === 'JobResumed')).toHaveLength(1);
      expect(types.indexOf('JobPaused')).toBeLessThan(types.indexOf('JobResumed'));
    }
    // The workflows run in other processes: the fan-outs are activities on the scheduler's queue,
    // served by this process (it has the client), not SignalExternal commands of the batch.
    const history = (await engine.client.workflow.getHandle(id).fetchHistory()).events!;
    expect(history.filter((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes)).toEqual([]);
    const fanOuts = history.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'signalJobs');
    expect(fanOuts.length).toBeGreaterThanOrEqual(2);
    expect(
      fanOuts.every((e) => e.activityTaskScheduledEventAttributes!.taskQueue!.name === `${engine.taskQueue}-scheduler`),
    ).toBe(true);
  });
});
