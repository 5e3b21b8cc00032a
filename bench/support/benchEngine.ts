/** An engine on a fresh dev server for a benchmark, optionally served over HTTP, and its teardown. */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { startDevServer } from '../../src/temporal/devServer.js';
import { loadConfig } from '../../src/config.js';
import { startEngine, type EngineOptions } from '../../src/engine.js';
import { installRuntime } from '../../src/worker/engineWorkers.js';

export interface BenchEngineOptions {
  /** Prefix of the temporary folder (its event store, read model and results). */
  name: string;
  /** Serve the API on a loopback port (requests go through HTTP as a user's would). */
  http?: boolean;
  /** Engine options besides the paths, the Temporal address and the task queue. */
  engine?: Partial<EngineOptions>;
  log?: (line: string) => void;
  /** The dev server's database file (default: in memory). */
  temporalDbFile?: string;
}

export async function startBenchEngine(options: BenchEngineOptions) {
  installRuntime();
  const dir = mkdtempSync(path.join(os.tmpdir(), `bench-${options.name}-`));
  const server = await startDevServer({ headless: true, log: options.log, dbFilename: options.temporalDbFile });
  const taskQueue = `bench-${randomUUID()}`;
  // The engine's settings a bench may be run with, read as `npm start` reads them (once, if any is set).
  let read: ReturnType<typeof loadConfig> | undefined;
  const config = () => (read ??= loadConfig());
  const engine = await startEngine({
    temporalAddress: server.address,
    taskQueue,
    eventStorePath: path.join(dir, 'events.db'),
    readModelPath: path.join(dir, 'readmodel.db'),
    resultsDir: path.join(dir, 'results'),
    // As with `npm start`: WORKFLOW_THREADS=2 npm run bench:control measures a second workflow thread.
    ...(process.env.WORKFLOW_THREADS ? { workflowThreads: config().workflowThreads } : {}),
    // EVENTSTORE_APPEND_THREAD=1 measures the appends committed in the append thread (the engine's default is off).
    ...(process.env.EVENTSTORE_APPEND_THREAD ? { eventStoreAppendThread: config().eventStoreAppendThread } : {}),
    // WORKFLOW_STACK_TRACES=1 measures the engine with the SDK's workflow stack traces (default off).
    ...(process.env.WORKFLOW_STACK_TRACES ? { workflowStackTraces: config().workflowStackTraces } : {}),
    ...options.engine,
  });
  const http = options.http ? serve({ fetch: engine.app.fetch, port: 0, hostname: '127.0.0.1' }) : undefined;
  if (http) await new Promise((resolve) => http.once('listening', resolve));
  const baseUrl = http ? `http://127.0.0.1:${(http.address() as AddressInfo).port}/api/v1` : '';

  /** A JSON request to the API (over HTTP when served, else in process); throws on a status ≥ 300. */
  async function api(method: string, url: string, body?: unknown): Promise<any> {
    const init: RequestInit = {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    };
    const response = http ? await fetch(`${baseUrl}${url}`, init) : await engine.app.request(`/api/v1${url}`, init);
    const json = await response.json();
    if (response.status >= 300) throw new Error(`${method} ${url}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  }

  return {
    server,
    engine,
    taskQueue,
    /** `http://127.0.0.1:<port>/api/v1` when served over HTTP. */
    baseUrl,
    api,
    async stop() {
      http?.close();
      await engine.stop();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
