// The engine as docker-compose.yml deploys it, as OS processes on this machine: one store owner (the
// `api` service: `npm start`'s src/main.ts with EVENTSTORE_ACCESS=remote — API, projector, reconciler,
// workers and the store's task queue) and N job workers (the `worker` service: src/worker/main.ts with
// STORE_OWNER=false), all against one Temporal frontend. Used by test:cluster and bench:cluster.
import { createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { deathWatch } from './cluster.js';
import { repoRoot, startNodeProcess, type NodeProcess } from './nodeProcess.js';

type Log = (line: string) => void;

/** One engine process that can be killed and started again; its output goes to `<logDir>/<name>-<run>.log`. */
export class EngineProcess {
  private current: NodeProcess | undefined;
  private logStream: WriteStream | undefined;
  private watch: { release(): void } | undefined;
  /** How many times it was started. */
  runs = 0;

  constructor(
    readonly name: string,
    private readonly entry: string,
    private readonly readyText: string,
    private readonly env: Record<string, string | undefined>,
    private readonly logDir: string,
    private readonly log: Log = () => {},
  ) {}

  get pid(): number | undefined {
    return this.current?.child.pid;
  }

  running(): boolean {
    const child = this.current?.child;
    return !!child && child.exitCode === null && child.signalCode === null;
  }

  async start(): Promise<number> {
    const started = Date.now();
    this.runs++;
    mkdirSync(this.logDir, { recursive: true });
    this.logStream = createWriteStream(path.join(this.logDir, `${this.name}-${this.runs}.log`));
    const stream = this.logStream;
    this.current = await startNodeProcess({
      entry: path.join(repoRoot, this.entry),
      readyText: this.readyText,
      readyTimeoutMs: 120_000,
      env: this.env,
      onOutput: (text) => stream.write(text),
    });
    // Killed with us if this process dies without stopping it (a killed test run).
    this.watch = deathWatch(`kill -KILL ${this.pid} 2>/dev/null`);
    const ms = Date.now() - started;
    this.log(`${this.name}: started (pid ${this.pid}, run ${this.runs}) in ${ms} ms`);
    return ms;
  }

  /** Sends `signal` and waits for the exit; resolves with how long that took and how it ended. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ ms: number; code: number | null; signal: NodeJS.Signals | null }> {
    const started = Date.now();
    if (!this.current) return { ms: 0, code: null, signal: null };
    if (this.running()) this.current.child.kill(signal);
    const exit = await this.current.exited;
    this.watch?.release();
    this.logStream?.end();
    const ms = Date.now() - started;
    this.log(`${this.name}: ${signal} → exited (${exit.code ?? exit.signal}) in ${ms} ms`);
    return { ms, ...exit };
  }

  async restart(signal: NodeJS.Signals = 'SIGTERM', pauseMs = 0): Promise<{ stopMs: number; startMs: number }> {
    const { ms: stopMs } = await this.stop(signal);
    if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
    const startMs = await this.start();
    return { stopMs, startMs };
  }
}

export interface TopologyOptions {
  temporalAddress: string;
  dataDir: string;
  port: number;
  workers: number;
  workflowBundle?: string;
  taskQueue?: string;
  /** Extra environment for every process (e.g. MAX_CONCURRENT_STEPS). */
  env?: Record<string, string>;
  log?: Log;
}

export interface Topology {
  owner: EngineProcess;
  workers: EngineProcess[];
  /** `http://127.0.0.1:<port>/api/v1` */
  apiUrl: string;
  /** `http://127.0.0.1:<port>` (/metrics, /readyz) */
  baseUrl: string;
  logDir: string;
  /** Starts the owner, then the workers (as compose: `worker` depends on a healthy `api`). */
  start(): Promise<void>;
  /** SIGTERM to everything still running (workers first, then the owner). */
  stop(): Promise<void>;
  /** Lines of every process's log matching `pattern`. */
  grepLogs(pattern: RegExp): string[];
}

export function topology(options: TopologyOptions): Topology {
  const logDir = path.join(options.dataDir, 'logs');
  const common = {
    TEMPORAL_ADDRESS: options.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    DATA_DIR: options.dataDir,
    WORKFLOW_BUNDLE: options.workflowBundle,
    TASK_QUEUE: options.taskQueue,
    LOG_LEVEL: 'WARN',
    NODE_ENV: 'development',
    JWT_SECRET: '',
    ...options.env,
  };
  const owner = new EngineProcess(
    'owner',
    'src/main.ts',
    'API:',
    { ...common, EVENTSTORE_ACCESS: 'remote', PORT: String(options.port), HOST: '127.0.0.1', RECONCILE_INTERVAL_MS: '1000' },
    logDir,
    options.log,
  );
  const workers = Array.from(
    { length: options.workers },
    (_, i) =>
      new EngineProcess(
        `worker${i + 1}`,
        'src/worker/main.ts',
        'worker ready',
        { ...common, STORE_OWNER: 'false' },
        logDir,
        options.log,
      ),
  );
  return {
    owner,
    workers,
    apiUrl: `http://127.0.0.1:${options.port}/api/v1`,
    baseUrl: `http://127.0.0.1:${options.port}`,
    logDir,
    async start() {
      await owner.start();
      await Promise.all(workers.map((w) => w.start()));
    },
    async stop() {
      await Promise.all(workers.filter((w) => w.running()).map((w) => w.stop('SIGTERM')));
      if (owner.running()) await owner.stop('SIGTERM');
    },
    grepLogs(pattern: RegExp) {
      const lines: string[] = [];
      const files = existsSync(logDir) ? readdirSync(logDir) : [];
      for (const file of files)
        for (const line of readFileSync(path.join(logDir, file), 'utf8').split('\n'))
          if (pattern.test(line)) lines.push(`${file}: ${line}`);
      return lines;
    },
  };
}

/**
 * fetch against the API that waits out a restarting store owner (connection refused) or Temporal (503)
 * for up to `patienceMs`. A request may then reach the server twice: give submits an Idempotency-Key.
 */
export async function apiCall(
  apiUrl: string,
  method: string,
  url: string,
  body?: unknown,
  options: { patienceMs?: number; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ status: number; body: any }> {
  const deadline = Date.now() + (options.patienceMs ?? 120_000);
  for (;;) {
    try {
      const response = await fetch(`${apiUrl}${url}`, {
        method,
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: options.timeoutMs ? AbortSignal.timeout(options.timeoutMs) : undefined,
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // /metrics is text
      }
      // 503: a dependency (Temporal) is restarting; retried like a refused connection.
      if (response.status === 503 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      return { status: response.status, body: parsed };
    } catch (error) {
      // Our own timeout: the request was taken and not answered in time; not retried.
      if ((error as Error).name === 'TimeoutError') return { status: 0, body: 'timeout' };
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** Runs `fn` over `items` with at most `concurrency` at once. */
export async function pool<T, R>(items: T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i], i);
    }),
  );
  return results;
}

/** Samples of one metric from a Prometheus text page: label string → value. */
export function metricSamples(page: string, name: string): Record<string, number> {
  const samples: Record<string, number> = {};
  for (const line of page.split('\n')) {
    const m = new RegExp(`^${name}(\\{[^}]*\\})?\\s+(\\S+)$`).exec(line);
    if (m) samples[m[1] ?? ''] = Number(m[2]);
  }
  return samples;
}
