import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openEventStore } from '../../src/eventstore/index.js';
import { freePort } from '../../src/temporal/devServer.js';
import { repoRoot, startNodeProcess, type NodeProcess } from '../support/nodeProcess.js';
import { eventually } from '../support/testEngine.js';

/**
 * The engine as `npm start` runs it (src/main.ts, one process: API, workers, projector, store owner),
 * against the test's dev server, stopped 10 times with SIGTERM and 10 times with SIGKILL while 30 jobs
 * run, restarted each time with the same DATA_DIR. Every job must finish with a clean record.
 */
const JOBS = 30;
const CYCLES = 10;
let dir: string;
let port: number;
let engine: NodeProcess | undefined;
let logs = '';
const taskQueue = `test-${randomUUID()}`;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'job-engine-restarts-'));
  port = await freePort();
});
afterAll(() => {
  engine?.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const api = async (method: string, url: string, body?: unknown) => {
  const response = await fetch(`http://127.0.0.1:${port}/api/v1${url}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
};

function startEngineProcess(): Promise<NodeProcess> {
  return startNodeProcess({
    entry: path.join(repoRoot, 'src/main.ts'),
    readyText: 'API:',
    onOutput: (text) => (logs += text),
    env: {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      WORKFLOW_BUNDLE: inject('workflowBundlePath'),
      TASK_QUEUE: taskQueue,
      DATA_DIR: dir,
      PORT: String(port),
      HOST: '127.0.0.1',
      JWT_SECRET: '',
      NODE_ENV: 'development',
      RECONCILE_INTERVAL_MS: '500',
      LOG_LEVEL: 'WARN',
    },
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`${JOBS} jobs through ${CYCLES} SIGTERM and ${CYCLES} SIGKILL restarts of the engine`, () => {
  it(
    'every job completes; every stream gapless, each event once; no id conflict; no retry spent on a crash',
    { timeout: 600_000 },
    async () => {
      engine = await startEngineProcess();
      const ids: string[] = [];
      for (let i = 0; i < JOBS; i++) {
        const submit = await api('POST', '/jobs/submit', {
          name: `restart-${i}`,
          type: 'sleep',
          input: { steps: 10, step_ms: 400 },
        });
        expect([201, 202]).toContain(submit.status);
        ids.push(submit.body.job_id);
      }

      const stopTimesMs: number[] = [];
      for (let cycle = 0; cycle < 2 * CYCLES; cycle++) {
        const signal = cycle < CYCLES ? 'SIGTERM' : 'SIGKILL';
        await sleep(1000 + (cycle % 4) * 250);
        const started = Date.now();
        engine.child.kill(signal);
        const exit = await engine.exited;
        stopTimesMs.push(Date.now() - started);
        if (signal === 'SIGTERM') expect(exit, `clean exit on SIGTERM, cycle ${cycle}`).toEqual({ code: 0, signal: null });
        console.log(`[restarts] cycle ${cycle + 1}/${2 * CYCLES} ${signal}: stopped in ${stopTimesMs.at(-1)} ms`);
        engine = await startEngineProcess();
      }

      const finished = await eventually(
        async () => {
          const rows = await Promise.all(ids.map(async (id) => (await api('GET', `/jobs/${id}`)).body));
          const done = rows.filter((j) => j.status === 'completed').length;
          return done === JOBS ? rows : undefined;
        },
        240_000,
        'every job completed after the restarts',
      );
      engine.child.kill('SIGTERM');
      expect((await engine.exited).code).toBe(0);
      engine = undefined;

      // A stop on SIGTERM takes a few seconds at most (workers drain; nothing waits for a dead server).
      expect(Math.max(...stopTimesMs.slice(0, CYCLES))).toBeLessThan(10_000);
      // A lost worker is recorded but does not spend the job's retry budget.
      expect(finished.filter((j) => j.attempts !== 1).map((j) => [j.id, j.attempts])).toEqual([]);
      expect(finished.every((j) => j.progress === 100 && j.completed_steps === 10)).toBe(true);

      const store = openEventStore(path.join(dir, 'events.db'), { readonly: true });
      try {
        for (const id of ids) {
          const events = store.readStream(id);
          expect(
            events.map((e) => e.streamVersion),
            id,
          ).toEqual(events.map((_, i) => i + 1));
          expect(new Set(events.map((e) => e.eventId)).size, id).toBe(events.length);
          const count = (type: string) => events.filter((e) => e.type === type).length;
          expect(
            [
              count('JobSubmitted'),
              Math.min(1, count('JobStarted')),
              count('JobStarted') - count('JobQueued'),
              count('JobCompleted'),
            ],
            id,
          ).toEqual([1, 1, 0, 1]); // every admission to a pool slot recorded once
          expect(
            events.filter((e) => e.metadata.forkOf !== undefined),
            id,
          ).toEqual([]);
          const steps = events.filter((e) => e.type === 'JobProgress').map((e) => e.data.completedSteps);
          expect(new Set(steps).size, id).toBe(steps.length);
        }
      } finally {
        store.close();
      }
      expect(logs).not.toMatch(/EventIdConflict/);
      console.log(`[restarts] SIGTERM stop times ms: ${stopTimesMs.slice(0, CYCLES).join(', ')}`);
    },
  );
});
