import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { startEngine, type Engine, type EngineOptions } from '../../src/engine.js';

export interface TestEngine extends Engine {
  dir: string;
  taskQueue: string;
  temporalAddress: string;
  workflowBundlePath: string;
  /** Calls the API in-process; JSON in, JSON out. */
  api(
    method: string,
    url: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any; headers: Headers }>;
  /** Stops the engine and removes its files. */
  dispose(): Promise<void>;
}

/** An engine of its own for one test file: own database files, own task queue, own ids. */
export async function startTestEngine(overrides: Partial<EngineOptions> = {}): Promise<TestEngine> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'job-engine-test-'));
  const taskQueue = `test-${randomUUID()}`;
  // A test may bring a Temporal server of its own (one it restarts); the run's otherwise.
  const temporalAddress = overrides.temporalAddress ?? inject('temporalAddress');
  const workflowBundlePath = inject('workflowBundlePath');
  const engine = await startEngine({
    taskQueue,
    eventStorePath: path.join(dir, 'events.db'),
    readModelPath: path.join(dir, 'readmodel.db'),
    resultsDir: path.join(dir, 'results'),
    workflowBundle: { codePath: workflowBundlePath },
    reconcileIntervalMs: 300,
    ...overrides,
    temporalAddress,
  });
  return Object.assign(engine, {
    dir,
    taskQueue,
    temporalAddress,
    workflowBundlePath,
    async api(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
      const response = await engine.app.request(url, {
        method,
        headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON
      }
      return { status: response.status, body: parsed as any, headers: response.headers };
    },
    async dispose() {
      await engine.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

/**
 * A second engine on a stopped test engine's files, task queue and Temporal server (an engine restart):
 * its owner stops it and removes `first.dir`.
 */
export function restartTestEngine(first: TestEngine, overrides: Partial<EngineOptions> = {}): Promise<Engine> {
  return startEngine({
    temporalAddress: first.temporalAddress,
    taskQueue: first.taskQueue,
    eventStorePath: path.join(first.dir, 'events.db'),
    readModelPath: path.join(first.dir, 'readmodel.db'),
    resultsDir: path.join(first.dir, 'results'),
    workflowBundle: { codePath: first.workflowBundlePath },
    reconcileIntervalMs: 300,
    ...overrides,
  });
}

/** Polls until `probe` returns a truthy value (or throws after `timeoutMs`). */
export async function eventually<T>(
  probe: () => T | Promise<T>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
