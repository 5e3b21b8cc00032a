/**
 * Requests/s of the real HTTP server under concurrent load: the app served by @hono/node-server on
 * 127.0.0.1 (a free port), clients in a worker thread (./loadWorker.ts), bounded in time.
 */
import type { AddressInfo } from 'node:net';
import { performance as perfHooks } from 'node:perf_hooks';
import { serve } from '@hono/node-server';
import type { LoadClient, LoadWorkerInput, LoadWorkerOutput } from './loadWorker.js';
import { summarize, type LatencySummary } from './stats.js';
import { runBenchThread } from './benchThread.js';

export interface LoadOptions {
  client: LoadClient;
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  requests: { kind: string; path: string }[];
}

export interface LoadResult {
  client: LoadClient;
  concurrency: number;
  seconds: number;
  requests: number;
  requestsPerSec: number;
  errors: number;
  firstError: string | null;
  /** Share of the measured time the server's event loop was busy (1 = the server is the bottleneck). */
  serverLoopUtilization: number;
  all: LatencySummary;
  byKind: Record<string, LatencySummary & { share: number }>;
}

export async function runLoad(
  fetchHandler: (request: Request) => Response | Promise<Response>,
  options: LoadOptions,
): Promise<LoadResult> {
  const server = serve({ fetch: fetchHandler, hostname: '127.0.0.1', port: 0 });
  try {
    await new Promise<void>((resolve, reject) => {
      if (server.listening) resolve();
      else server.once('listening', () => resolve()).once('error', reject);
    });
    const { port } = server.address() as AddressInfo;
    const input: LoadWorkerInput = {
      baseUrl: `http://127.0.0.1:${port}`,
      client: options.client,
      concurrency: options.concurrency,
      durationMs: options.durationMs,
      warmupMs: options.warmupMs,
      requests: options.requests,
    };
    // The server's event-loop utilization over the measured window (warm-up excluded).
    let loopStart: ReturnType<typeof perfHooks.eventLoopUtilization> | undefined;
    let loopEnd: ReturnType<typeof perfHooks.eventLoopUtilization> | undefined;
    const startTimer = setTimeout(() => (loopStart = perfHooks.eventLoopUtilization()), options.warmupMs);
    const endTimer = setTimeout(
      () => (loopEnd = perfHooks.eventLoopUtilization(loopStart)),
      options.warmupMs + options.durationMs,
    );
    let out: LoadWorkerOutput;
    try {
      out = await runBenchThread<LoadWorkerInput, LoadWorkerOutput>(new URL('./loadWorker.ts', import.meta.url), input, {
        name: 'load worker',
        limitMs: options.warmupMs + options.durationMs + 30_000,
      });
    } finally {
      clearTimeout(startTimer);
      clearTimeout(endTimer);
    }
    const all = Object.values(out.latencies).flat();
    const byKind: LoadResult['byKind'] = {};
    for (const [kind, latencies] of Object.entries(out.latencies)) {
      byKind[kind] = { ...summarize(latencies), share: Math.round((latencies.length / Math.max(1, all.length)) * 1000) / 1000 };
    }
    return {
      client: options.client,
      concurrency: options.concurrency,
      seconds: options.durationMs / 1000,
      requests: out.requests,
      requestsPerSec: Math.round(out.requests / (options.durationMs / 1000)),
      errors: out.errors,
      firstError: out.firstError,
      serverLoopUtilization: Math.round((loopEnd?.utilization ?? NaN) * 1000) / 1000,
      all: summarize(all),
      byKind,
    };
  } finally {
    server.close();
    if ('closeAllConnections' in server) server.closeAllConnections();
  }
}
