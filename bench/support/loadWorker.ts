/**
 * Worker thread of the load test: K keep-alive clients requesting a mix of paths for a fixed time.
 * A thread of its own, so the clients do not run on the server's event loop (they still share the
 * machine's cores). Loopback only: the base URL is checked before anything is sent.
 *
 * `fetch` is Node's built-in fetch (undici; keep-alive, pooled per origin). `http` is node:http with a
 * keep-alive Agent of K sockets: a much cheaper client, so the figure says more about the server.
 */
import http from 'node:http';
import { workerData } from 'node:worker_threads';
import { reportFromThread } from './benchThread.js';

export type LoadClient = 'fetch' | 'http';

export interface LoadWorkerInput {
  baseUrl: string;
  client: LoadClient;
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  /** Requests to cycle through: a kind (for per-kind figures) and a path. */
  requests: { kind: string; path: string }[];
}

export interface LoadWorkerOutput {
  /** Latencies (ms) of the requests sent and answered inside the measured window, by kind. */
  latencies: Record<string, number[]>;
  requests: number;
  errors: number;
  firstError: string | null;
}

const REQUEST_TIMEOUT_MS = 10_000;

class Clients {
  private readonly agent: http.Agent;

  constructor(private readonly input: LoadWorkerInput) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: input.concurrency });
  }

  /** Resolves with the HTTP status once the whole body has arrived. */
  get(path: string): Promise<number> {
    return this.input.client === 'fetch' ? this.viaFetch(path) : this.viaHttp(path);
  }

  private async viaFetch(path: string): Promise<number> {
    const response = await fetch(this.input.baseUrl + path, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    await response.arrayBuffer();
    return response.status;
  }

  private viaHttp(path: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const request = http.get(this.input.baseUrl + path, { agent: this.agent, timeout: REQUEST_TIMEOUT_MS }, (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
        response.on('error', reject);
      });
      request.on('timeout', () => request.destroy(new Error(`timeout after ${REQUEST_TIMEOUT_MS} ms`)));
      request.on('error', reject);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

async function run(input: LoadWorkerInput): Promise<LoadWorkerOutput> {
  const host = new URL(input.baseUrl).hostname;
  if (host !== '127.0.0.1' && host !== '[::1]') throw new Error(`load test refuses a non-loopback host: ${host}`);
  const clients = new Clients(input);
  const latencies: Record<string, number[]> = {};
  for (const r of input.requests) latencies[r.kind] ??= [];
  const state = { errors: 0, firstError: null as string | null, requests: 0, next: 0 };
  const measureFrom = performance.now() + input.warmupMs;
  const end = measureFrom + input.durationMs;

  async function oneClient(): Promise<void> {
    while (performance.now() < end) {
      const request = input.requests[state.next++ % input.requests.length]!;
      const t0 = performance.now();
      try {
        const status = await clients.get(request.path);
        if (status !== 200) throw new Error(`HTTP ${status} for ${request.path}`);
      } catch (error) {
        state.errors += 1;
        state.firstError ??= (error as Error).message;
        if (state.errors > 100) throw new Error(`load test: too many errors, first: ${state.firstError}`, { cause: error });
        continue;
      }
      const t1 = performance.now();
      if (t0 >= measureFrom && t1 <= end) {
        latencies[request.kind]!.push(t1 - t0);
        state.requests += 1;
      }
    }
  }

  try {
    await Promise.all(Array.from({ length: input.concurrency }, oneClient));
  } finally {
    clients.close();
  }
  return { latencies, requests: state.requests, errors: state.errors, firstError: state.firstError };
}

reportFromThread(run(workerData as LoadWorkerInput));
