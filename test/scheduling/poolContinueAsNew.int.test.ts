import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { workflowRuns } from '../support/workflowRuns.js';
import { poolWorkflowId } from '../../src/domain/index.js';
import { poolStateQuery, poolWorkflow } from '../../src/workflows/poolWorkflow.js';

/**
 * A busy pool continues as new without a refused workflow task. Temporal refuses to close a run while a
 * signal arrives during its last task (UnhandledCommand); the SDK then evicts the run and replays its
 * whole history — seconds without grants, at every continue-as-new of a pool under a burst, since the
 * read model's owner wakes the pool many times a second. The pool now has those wake-ups held and lets
 * the ones on their way land before its last task. Here a pool that continues as new every ~150 events
 * serves a steady stream of submits (each wakes it).
 */
let engine: TestEngine;
const POOL = 'busy';

beforeAll(async () => {
  engine = await startTestEngine({ maxConcurrentSteps: 50 });
});
afterAll(async () => {
  await engine?.dispose();
});

describe('a busy pool continuing as new', () => {
  it('closes each run at its first try while submits keep waking it, and every job completes', async () => {
    await (engine.client as Client).workflow.start(poolWorkflow, {
      workflowId: poolWorkflowId(engine.taskQueue, POOL),
      taskQueue: engine.taskQueue,
      args: [{ name: POOL, limit: 20, storeAccess: 'local', pickLocally: true, continueAsNewAfterEvents: 150 }],
    });
    await eventually(async () => engine.readModel.getPool(POOL) !== undefined, 20_000, 'pool recorded');
    const ids: string[] = [];
    const submitOne = async (i: number) => {
      const submit = await engine.api('POST', '/api/v1/jobs/submit', { name: `busy ${i}`, type: 'noop', pool: POOL });
      expect(submit.status).toBe(201);
      ids.push(submit.body.job_id);
    };
    // 16 submits in flight at all times: a wake-up is on its way to the pool nearly all the time. And
    // its limit changed every 100 ms meanwhile (an Update; one may come while a run closes).
    let next = 0;
    let total = 320;
    const limitChanges: { limit: number; status: number }[] = [];
    let changing = true; // until every job completed
    const changer = (async () => {
      for (let i = 0; changing; i++) {
        const limit = 20 + (i % 2);
        limitChanges.push({ limit, status: (await engine.api('PUT', `/api/v1/pools/${POOL}`, { limit })).status });
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const submitAll = () =>
      Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < total) await submitOne(next++);
        }),
      );
    const poolRuns = () => workflowRuns(engine.client as Client, poolWorkflowId(engine.taskQueue, POOL));
    const allCompleted = () =>
      eventually(
        async () => ids.every((id) => engine.readModel.getJob(id)?.status === 'completed'),
        90_000,
        'every job completed',
      );
    await submitAll();
    await allCompleted();
    // How many events a run gathers per job depends on how the host batches the pool's tasks: on a
    // busy one, 320 jobs gave two continue-as-new. More jobs until there were three (or 960 jobs).
    while ((await poolRuns()).filter((r) => r.continuedAsNew).length < 3 && total < 960) {
      total += 160;
      await submitAll();
      await allCompleted();
    }
    changing = false;
    await changer;
    const runs = await poolRuns();
    // The pool did continue as new several times while the submits came…
    expect(runs.filter((r) => r.continuedAsNew).length).toBeGreaterThanOrEqual(3);
    // …and no run's closing task was refused (nor any other task).
    expect(runs.flatMap((r) => r.failedTasks)).toEqual([]);
    // Every limit change answered — 200, or 202 when the pool's workflow did not take it within the
    // API's wait on a busy host (sent again as a signal: kept) — none lost (a 400 before 7efb817), and
    // the pool has the last one.
    expect(limitChanges.filter((c) => c.status !== 200 && c.status !== 202)).toEqual([]);
    expect(limitChanges.length).toBeGreaterThan(5);
    const lastLimit = limitChanges[limitChanges.length - 1]!.limit;
    const poolLimit = async () =>
      (await (engine.client as Client).workflow.getHandle(poolWorkflowId(engine.taskQueue, POOL)).query(poolStateQuery)).limit;
    // (a change answered 202 is taken as its signal lands: at once, or very soon)
    await eventually(async () => (await poolLimit()) === lastLimit, 10_000, `the pool's limit ${lastLimit}`);
    // The last run let the wake-ups go again: a job submitted now still gets its slot at once.
    const late = await engine.api('POST', '/api/v1/jobs/submit', { name: 'late', type: 'noop', pool: POOL });
    expect(late.status).toBe(201);
    await eventually(async () => engine.readModel.getJob(late.body.job_id)?.status === 'completed', 20_000, 'late job completed');
  }, 180_000);
});
