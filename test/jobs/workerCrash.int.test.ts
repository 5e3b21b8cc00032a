import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { workerProcessEnv } from '../support/workerProcess.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let engine: TestEngine;
const children: ChildProcess[] = [];

/** A worker in its own OS process (the SQLite owner too), so it can be killed for real. */
function startWorkerProcess(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/worker/main.ts')], {
    cwd: root,
    env: {
      ...process.env,
      ...workerProcessEnv(engine, {
        // Its appends committed in the append thread: a group may be in flight when the process dies.
        EVENTSTORE_APPEND_THREAD: '1',
      }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      output += chunk;
      if (output.includes('worker ready')) resolve(child);
    });
    child.stderr!.on('data', (chunk) => (output += chunk));
    child.on('exit', (code) => reject(new Error(`worker exited early (${code}): ${output.slice(-2000)}`)));
  });
}

beforeAll(async () => {
  engine = await startTestEngine({ runWorkers: false });
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await engine?.dispose();
});

describe('a worker killed in the middle of a job', () => {
  it('comes back, the job completes, and its stream holds each event exactly once', async () => {
    const first = await startWorkerProcess();
    const submit = await engine.api('POST', '/api/v1/jobs/submit', {
      name: 'crash',
      type: 'sleep',
      input: { steps: 6, step_ms: 400 },
    });
    expect(submit.status).toBe(201);
    const id = submit.body.job_id;
    await eventually(async () => (await engine.api('GET', `/api/v1/jobs/${id}`)).body.completed_steps >= 2, 30_000, 'two steps');
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    await startWorkerProcess();

    const done = await eventually(
      async () => {
        const j = (await engine.api('GET', `/api/v1/jobs/${id}`)).body;
        return j.status === 'completed' ? j : undefined;
      },
      90_000,
      'completed after the crash',
    );
    expect(done.progress).toBe(100);
    // The lost worker does not spend the job's retry budget.
    expect(done.attempts).toBe(1);

    const events = engine.eventStore.readStream(id);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
    expect(events.map((e) => e.streamVersion)).toEqual(events.map((_, i) => i + 1));
    const count = (type: string) => events.filter((e) => e.type === type).length;
    expect(count('JobSubmitted')).toBe(1);
    // A step lost with its worker gives its slot back: the job queues and starts again, once each.
    expect(count('JobStarted')).toBe(count('JobQueued'));
    expect(count('JobStarted')).toBe(1 + count('JobAttemptFailed'));
    expect(count('JobCompleted')).toBe(1);
    // A step lost with its worker is recorded as such, and the dead time (the heartbeat timeout, 5 s)
    // is not running time: 6 steps of 400 ms ran, so activeMs stays far below 2.4 s + 5 s.
    const lost = events.filter((e) => e.type === 'JobAttemptFailed');
    for (const e of lost) expect(e.data).toMatchObject({ errorType: 'WorkerLost', countsAsAttempt: false, attempt: 1 });
    const completed = events.find((e) => e.type === 'JobCompleted')!;
    console.log(`[worker crash] steps lost with the worker: ${lost.length}, activeMs ${completed.data.activeMs}`);
    if (lost.length > 0) expect(completed.data.activeMs).toBeLessThan(2400 + 3000);
    // Progress never goes back and no step is recorded twice.
    const steps = events.filter((e) => e.type === 'JobProgress').map((e) => e.data.completedSteps);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);
    expect(new Set(steps).size).toBe(steps.length);
  });
});
