import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { repoRoot, startNodeProcess, type NodeProcess } from '../support/nodeProcess.js';
import { workerProcessEnv } from '../support/workerProcess.js';

/**
 * Issue: a worker that died after its local-activity append committed but before its workflow task
 * completed left the job stuck: the retried task rebuilt the same event id with a later clock, and
 * the store refused it as a conflict, forever. Here the worker kills itself in exactly that window,
 * again and again, and every job must still finish with a clean record.
 */
const CRASHES = 8;
let engine: TestEngine;
let current: NodeProcess | undefined;
let logs = '';

beforeAll(async () => {
  // Local appends (the window exists only for local activities) and a short workflow task timeout,
  // so each lost task is retried after ~2 s instead of Temporal's default 10 s.
  engine = await startTestEngine({ runWorkers: false, storeAccess: 'local', workflowTaskTimeoutMs: 2000 });
});
afterAll(async () => {
  current?.child.kill('SIGKILL');
  await engine?.dispose();
});

function startCrashingWorker(): Promise<NodeProcess> {
  return startNodeProcess({
    entry: path.join(repoRoot, 'test/support/crashAfterAppendWorker.ts'),
    readyText: 'worker ready',
    onOutput: (text) => (logs += text),
    env: workerProcessEnv(engine, {
      CRASH_STATE_FILE: path.join(engine.dir, 'crashes'),
      CRASH_MAX: String(CRASHES),
      LOG_LEVEL: 'WARN',
    }),
  });
}

describe('a worker killed between an append and the completion of its workflow task', () => {
  it(`${CRASHES} times over: every job completes, each event once, no id conflict`, { timeout: 300_000 }, async () => {
    const ids: string[] = [];
    let crashes = 0;
    let stop = false;
    // Keeps one worker running: restarts it each time it kills itself. A worker still starting when
    // the test stops (its predecessor crashed on a late append) is stopped as soon as it is up, or the
    // supervisor would wait for it forever.
    const supervisor = (async () => {
      while (!stop) {
        const worker = await startCrashingWorker();
        current = worker;
        if (stop) worker.child.kill('SIGTERM');
        const { signal } = await worker.exited;
        if (signal === 'SIGKILL') crashes++;
      }
    })();

    const submitJob = async () => {
      const submit = await engine.api('POST', '/api/v1/jobs/submit', {
        name: `window-${ids.length}`,
        type: 'sleep',
        input: { steps: 6, step_ms: 400 },
      });
      expect([201, 202]).toContain(submit.status);
      ids.push(submit.body.job_id);
    };
    for (let i = 0; i < 4; i++) await submitJob();
    const progress = setInterval(async () => {
      const statuses = await Promise.all(ids.map(async (id) => (await engine.api('GET', `/api/v1/jobs/${id}`)).body?.status));
      console.log(`[crash-window] ${crashes} crashes, jobs: ${statuses.join(' ')}`);
    }, 10_000);
    const jobs = await eventually(
      async () => {
        const rows = await Promise.all(ids.map(async (id) => (await engine.api('GET', `/api/v1/jobs/${id}`)).body));
        if (!rows.every((j) => j?.status === 'completed')) return undefined;
        if (crashes >= CRASHES) return rows;
        // The jobs finished before the worker had crashed CRASHES times (it crashes at its 1st to 3rd
        // append of each run, and how many appends a job makes meanwhile depends on timing): one more.
        if (ids.length < 4 * CRASHES) await submitJob();
        return undefined;
      },
      240_000,
      `every job completed after ${CRASHES} crashes`,
    ).finally(() => {
      if (process.env.CRASH_TEST_LOG) writeFileSync(process.env.CRASH_TEST_LOG, logs);
    });
    clearInterval(progress);
    stop = true;
    current?.child.kill('SIGTERM');
    await supervisor;

    expect(crashes).toBeGreaterThanOrEqual(CRASHES);
    expect(jobs.map((j) => j.progress)).toEqual(ids.map(() => 100));
    for (const id of ids) {
      const events = engine.eventStore.readStream(id);
      expect(events.map((e) => e.streamVersion)).toEqual(events.map((_, i) => i + 1));
      expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
      const count = (type: string) => events.filter((e) => e.type === type).length;
      expect([
        count('JobSubmitted'),
        Math.min(1, count('JobStarted')),
        count('JobStarted') - count('JobQueued'),
        count('JobCompleted'),
      ]).toEqual([1, 1, 0, 1]); // every admission to a pool slot recorded once
      expect(events.filter((e) => e.metadata.forkOf !== undefined)).toEqual([]);
      const steps = events.filter((e) => e.type === 'JobProgress').map((e) => e.data.completedSteps);
      expect(new Set(steps).size).toBe(steps.length);
    }
    expect(logs).not.toMatch(/EventIdConflict/);
  });
});
