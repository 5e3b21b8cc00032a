import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/temporal/devServer.js';
import { repoRoot } from '../support/nodeProcess.js';
import { eventually } from '../support/testEngine.js';

/**
 * `npm start` as a user runs it (its own dev server persisted under DATA_DIR), stopped the three ways
 * a user stops it: SIGTERM to npm's pid, SIGTERM to its process group, Ctrl-C (SIGINT to the group).
 * Each time everything it started must be gone within seconds, and a job running at the stop must
 * resume and finish after the next start.
 */
let dir: string;
let ports: { api: number; temporal: number; ui: number };
const started: ChildProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'job-engine-npm-start-'));
  ports = { api: await freePort(), temporal: await freePort(), ui: await freePort() };
});
afterAll(() => {
  for (const child of started) if (child.exitCode === null && child.pid) tryKill(-child.pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function tryKill(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

async function npmStart(): Promise<{ child: ChildProcess; output: () => string; exited: Promise<number | null> }> {
  // Its own process group, like a shell job, so a test can signal the group as a terminal does.
  const child = spawn('npm', ['start'], {
    cwd: repoRoot,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      DATA_DIR: dir,
      PORT: String(ports.api),
      TEMPORAL_PORT: String(ports.temporal),
      TEMPORAL_UI_PORT: String(ports.ui),
      TEMPORAL_ADDRESS: '',
      WORKFLOW_BUNDLE: inject('workflowBundlePath'),
      TASK_QUEUE: 'npm-start-test',
      JWT_SECRET: '',
      NODE_ENV: 'development',
    },
  });
  started.push(child);
  let output = '';
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await eventually(() => output.includes('API:') || child.exitCode !== null, 90_000, '`npm start` ready');
  expect(output, output).toContain('API:');
  await eventually(() => output.includes('Workflows:'), 10_000, 'the banner');
  expect(output, output).toContain('Workflows:    stack traces off'); // the default (WORKFLOW_STACK_TRACES)
  return { child, output: () => output, exited };
}

const api = async (method: string, url: string, body?: unknown) => {
  const response = await fetch(`http://127.0.0.1:${ports.api}/api/v1${url}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
};

/** Sends the stop, then measures until npm exited, neither the API nor Temporal answers, and the
 * engine has said its orderly stop is done (on SIGINT npm may exit a moment before its child). */
async function stopAndMeasure(run: Awaited<ReturnType<typeof npmStart>>, stop: () => void): Promise<number> {
  const t0 = Date.now();
  stop();
  await run.exited;
  await eventually(
    async () => !(await listening(ports.api)) && !(await listening(ports.temporal)) && run.output().includes('stopped in'),
    15_000,
    'API and Temporal closed, and the orderly stop finished',
  ).catch((error: Error) => {
    throw new Error(`${error.message}; api ${ports.api}, temporal ${ports.temporal}; output:\n${run.output().slice(-3000)}`);
  });
  return Date.now() - t0;
}

describe('stopping `npm start`', () => {
  it(
    'stops everything it started within seconds, three ways, and running jobs resume after the next start',
    { timeout: 300_000 },
    async () => {
      let run = await npmStart();
      const submit = await api('POST', '/jobs/submit', {
        name: 'survives-stops',
        type: 'sleep',
        input: { steps: 12, step_ms: 500 },
      });
      expect(submit.status).toBe(201);
      const id = submit.body.job_id as string;
      await eventually(async () => (await api('GET', `/jobs/${id}`)).body.completed_steps >= 1, 30_000, 'first step done');

      const byPid = await stopAndMeasure(run, () => tryKill(run.child.pid!, 'SIGTERM'));
      expect(run.output()).toContain('stopped in');

      run = await npmStart();
      const progressed = (await api('GET', `/jobs/${id}`)).body.completed_steps as number;
      expect(progressed).toBeLessThan(12); // still running: the next stop interrupts it again
      const byGroup = await stopAndMeasure(run, () => tryKill(-run.child.pid!, 'SIGTERM'));
      expect(run.output()).toContain('stopped in'); // the orderly stop, not a forced exit
      // The dev server is stopped last, so the draining workers never talk to a dead server.
      expect(run.output()).not.toMatch(/Connection refused|transport error/i);

      run = await npmStart();
      const done = await eventually(
        async () => {
          const job = (await api('GET', `/jobs/${id}`)).body;
          return job.status === 'completed' ? job : undefined;
        },
        90_000,
        'the job finished after the restarts',
      );
      expect(done.completed_steps).toBe(12);
      const byCtrlC = await stopAndMeasure(run, () => tryKill(-run.child.pid!, 'SIGINT'));
      expect(run.output()).toContain('stopped in');

      console.log(`[npm start] stop times ms: SIGTERM to npm ${byPid}, SIGTERM to group ${byGroup}, Ctrl-C ${byCtrlC}`);
      for (const ms of [byPid, byGroup, byCtrlC]) expect(ms).toBeLessThan(8_000);
    },
  );
});
