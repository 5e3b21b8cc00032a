/**
 * The production topology's throughput (npm run bench:cluster), as OS processes on this machine: one
 * store owner (`npm start` with EVENTSTORE_ACCESS=remote) plus 1 or 3 job workers (STORE_OWNER=false),
 * against
 *   - the PostgreSQL-backed Temporal server 1.32.0 (built by scripts/install-cluster.mjs, set up by
 *     docker-compose.yml's scripts: test/support/cluster.ts), and
 *   - the dev server (`temporal server start-dev`, its database in a file as bench:batch does).
 * Each scenario: BENCH_JOBS noop jobs as BENCH_BATCHES batches submitted at once (concurrency
 * BENCH_CONCURRENCY each) through the API — several batches, because one batch workflow handles its
 * children one workflow task at a time and caps a lone batch at a few jobs/s whatever the workers;
 * completed jobs/s overall and the median of its 5-second windows, and the CPU each process took.
 * Then, on each server (BENCH_APPEND=0 skips it), the store owner alone: BENCH_APPEND_LOOPS
 * workflows on a remote worker (this process) each appending BENCH_APPENDS events one at a time
 * through the owner's `<queue>-store` task queue: appends/s the single owner takes from remote
 * workers, and its CPU per append.
 * Prints progress lines, a table and a BENCH_JSON line.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { freePort, startDevServer } from '../src/temporal/devServer.js';
import { installRuntime, workflowsPath } from '../src/worker/engineWorkers.js';
import { startLocalCluster } from '../test/support/cluster.js';
import { apiCall, metricSamples, topology } from '../test/support/topology.js';
import { formatTable } from './support/stats.js';
import { processCpuSeconds } from './support/cpu.js';

const JOBS = Number(process.env.BENCH_JOBS ?? 1000);
const BATCHES = Number(process.env.BENCH_BATCHES ?? 8);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 100);
const WORKER_COUNTS = (process.env.BENCH_WORKERS ?? '1,3').split(',').filter(Boolean).map(Number); // '' = no batch scenario
const SERVERS = (process.env.BENCH_SERVERS ?? 'postgres,dev').split(',');
const APPEND_LOOPS = Number(process.env.BENCH_APPEND_LOOPS ?? 64);
const APPENDS = Number(process.env.BENCH_APPENDS ?? 25);
const WINDOW_MS = 5000;

const t0 = Date.now();
const log = (line: string) => process.stderr.write(`[bench:cluster ${((Date.now() - t0) / 1000).toFixed(0)}s] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round1 = (x: number) => Math.round(x * 10) / 10;

interface Result {
  server: string;
  scenario: string;
  workers?: number;
  jobs?: number;
  seconds: number;
  jobsPerSec?: number;
  medianWindowJobsPerSec?: number;
  appends?: number;
  appendsPerSec?: number;
  eventsPerSec: number;
  ownerCpuPct?: number;
  ownerCpuMsPerAppend?: number;
  serverCpuPct?: number;
}

installRuntime();
const bundleDir = mkdtempSync(path.join(os.tmpdir(), 'bench-cluster-bundle-'));
const bundlePath = path.join(bundleDir, 'workflows.js');
log('bundling the workflows once for every process');
writeFileSync(bundlePath, (await bundleWorkflowCode({ workflowsPath, logger: quietLogger() })).code);

const results: Result[] = [];
try {
  for (const kind of SERVERS) {
    const serverDir = mkdtempSync(path.join(process.env.BENCH_TEMPORAL_DB_DIR || os.tmpdir(), 'bench-cluster-dev-'));
    const server =
      kind === 'postgres'
        ? await (async () => {
            const c = await startLocalCluster({ log });
            return { address: c.address, pid: () => c.temporal.pid(), stop: () => c.teardown() };
          })()
        : await (async () => {
            const d = await startDevServer({ headless: true, log, dbFilename: path.join(serverDir, 'temporal.db') });
            return { address: d.address, pid: () => d.pid, stop: () => d.stop() };
          })();
    try {
      for (const workers of WORKER_COUNTS) results.push(await batchScenario(kind, server, workers));
      if (process.env.BENCH_APPEND !== '0') results.push(await appendScenario(kind, server));
    } finally {
      await server.stop();
      rmSync(serverDir, { recursive: true, force: true });
    }
  }
} finally {
  rmSync(bundleDir, { recursive: true, force: true });
}

console.log(
  `\n${formatTable(
    [
      'server',
      'scenario',
      'seconds',
      'jobs/s',
      'median 5-s window jobs/s',
      'appends/s',
      'events/s',
      'owner CPU %',
      'server CPU %',
    ],
    results.map((r) => [
      r.server,
      r.scenario,
      r.seconds.toFixed(1),
      r.jobsPerSec !== undefined ? r.jobsPerSec.toFixed(1) : '-',
      r.medianWindowJobsPerSec !== undefined ? r.medianWindowJobsPerSec.toFixed(1) : '-',
      r.appendsPerSec !== undefined ? r.appendsPerSec.toFixed(1) : '-',
      r.eventsPerSec.toFixed(1),
      r.ownerCpuPct !== undefined ? r.ownerCpuPct.toFixed(0) : '-',
      r.serverCpuPct !== undefined ? r.serverCpuPct.toFixed(0) : '-',
    ]),
  )}`,
);
console.log(
  `BENCH_JSON ${JSON.stringify({ bench: 'cluster', cpus: os.cpus().length, node: process.version, jobs: JOBS, batches: BATCHES, concurrency: CONCURRENCY, appendLoops: APPEND_LOOPS, appendsPerLoop: APPENDS, results })}`,
);

type Server = { address: string; pid: () => number | undefined };

/** Owner + `workers` workers on a fresh data dir and task queue; one batch of JOBS noop jobs. */
async function batchScenario(kind: string, server: Server, workers: number): Promise<Result> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bench-cluster-'));
  const engine = topology({
    temporalAddress: server.address,
    dataDir,
    port: await freePort(),
    workers,
    workflowBundle: bundlePath,
    taskQueue: `bench-${randomUUID()}`,
    log,
  });
  try {
    await engine.start();
    const ownerCpu0 = processCpuSeconds(engine.owner.pid);
    const serverCpu0 = processCpuSeconds(server.pid());
    const pos0 = metricSamples((await apiCall(engine.baseUrl, 'GET', '/metrics')).body, 'eventstore_last_position')[''];
    const start = Date.now();
    const batchIds: string[] = [];
    for (let b = 0; b < BATCHES; b++) {
      const size = Math.floor(JOBS / BATCHES) + (b < JOBS % BATCHES ? 1 : 0);
      const created = await apiCall(engine.apiUrl, 'POST', '/batches', {
        name: `bench ${kind} ${workers} #${b}`,
        type: 'noop',
        items: Array.from({ length: size }, () => ({})),
        concurrency: CONCURRENCY,
      });
      if (created.status !== 201) throw new Error(`batch create: ${created.status} ${JSON.stringify(created.body)}`);
      batchIds.push(created.body.batch_id);
    }
    const windows: number[] = [];
    let window = { at: start, completed: 0 };
    let lastLog = start;
    for (;;) {
      const rows = await Promise.all(batchIds.map(async (id) => (await apiCall(engine.apiUrl, 'GET', `/batches/${id}`)).body));
      const completed = rows.reduce((n, b) => n + b.progress.completed + b.progress.failed + b.progress.cancelled, 0);
      if (Date.now() - window.at >= WINDOW_MS) {
        windows.push((completed - window.completed) / ((Date.now() - window.at) / 1000));
        window = { at: Date.now(), completed };
      }
      if (Date.now() - lastLog >= 10_000) {
        lastLog = Date.now();
        log(`${kind}, owner + ${workers} worker(s): ${completed}/${JOBS} (${windows.at(-1)?.toFixed(1) ?? '-'}/s)`);
      }
      if (rows.every((b) => ['completed', 'failed', 'cancelled'].includes(b.status))) {
        const done = rows.reduce((n, b) => n + b.progress.completed, 0);
        if (done !== JOBS) throw new Error(`batches ended with ${done}/${JOBS} completed`);
        break;
      }
      await sleep(500);
    }
    const seconds = (Date.now() - start) / 1000;
    const pos1 = metricSamples((await apiCall(engine.baseUrl, 'GET', '/metrics')).body, 'eventstore_last_position')[''];
    const ownerCpu = (processCpuSeconds(engine.owner.pid) ?? NaN) - (ownerCpu0 ?? NaN);
    const serverCpu = (processCpuSeconds(server.pid()) ?? NaN) - (serverCpu0 ?? NaN);
    // The first and the last window hold the ramp-up and the drain.
    const steady = windows.length > 2 ? windows.slice(1, -1) : windows;
    const result: Result = {
      server: kind,
      scenario: `${BATCHES} batches, owner + ${workers} worker${workers > 1 ? 's' : ''}`,
      workers,
      jobs: JOBS,
      seconds: round1(seconds),
      jobsPerSec: round1(JOBS / seconds),
      medianWindowJobsPerSec: round1(median(steady)),
      eventsPerSec: round1((pos1 - pos0) / seconds),
      ownerCpuPct: Number.isNaN(ownerCpu) ? undefined : Math.round((ownerCpu / seconds) * 100),
      serverCpuPct: Number.isNaN(serverCpu) ? undefined : Math.round((serverCpu / seconds) * 100),
    };
    log(`${result.server} ${result.scenario}: ${JSON.stringify(result)}`);
    return result;
  } finally {
    await engine.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The owner alone (no job workers) taking appends from APPEND_LOOPS workflows on this process. */
async function appendScenario(kind: string, server: Server): Promise<Result> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'bench-cluster-'));
  const taskQueue = `bench-${randomUUID()}`;
  const engine = topology({
    temporalAddress: server.address,
    dataDir,
    port: await freePort(),
    workers: 0,
    workflowBundle: bundlePath,
    taskQueue,
    log,
  });
  const connection = await NativeConnection.connect({ address: server.address });
  const clientConnection = await Connection.connect({ address: server.address });
  try {
    await engine.start();
    const loopQueue = `${taskQueue}-loops`;
    const worker = await Worker.create({
      connection,
      taskQueue: loopQueue,
      workflowsPath: fileURLToPath(new URL('./cluster/workflows.ts', import.meta.url)),
      maxConcurrentWorkflowTaskExecutions: 100,
    });
    const running = worker.run();
    const client = new Client({ connection: clientConnection });
    // Warm-up: one loop of 10 (bundles, connections, the store queue's pollers).
    await client.workflow.execute('appendLoopWorkflow', {
      taskQueue: loopQueue,
      workflowId: `warm-${taskQueue}`,
      args: [`${taskQueue}-store`, `bench_warm_${taskQueue}`, 10],
    });
    const ownerCpu0 = processCpuSeconds(engine.owner.pid);
    const serverCpu0 = processCpuSeconds(server.pid());
    const start = Date.now();
    const progress = setInterval(async () => {
      const page = (await apiCall(engine.baseUrl, 'GET', '/metrics').catch(() => ({ body: '' }))).body;
      log(
        `${kind}, appends through the store queue: ${metricSamples(page, 'eventstore_last_position')[''] ?? '?'} events in the log`,
      );
    }, 10_000);
    await Promise.all(
      Array.from({ length: APPEND_LOOPS }, (_, i) =>
        client.workflow.execute('appendLoopWorkflow', {
          taskQueue: loopQueue,
          workflowId: `loop-${taskQueue}-${i}`,
          args: [`${taskQueue}-store`, `bench_${taskQueue}_${i}`, APPENDS],
        }),
      ),
    );
    clearInterval(progress);
    const seconds = (Date.now() - start) / 1000;
    const ownerCpu = (processCpuSeconds(engine.owner.pid) ?? NaN) - (ownerCpu0 ?? NaN);
    const serverCpu = (processCpuSeconds(server.pid()) ?? NaN) - (serverCpu0 ?? NaN);
    const appends = APPEND_LOOPS * APPENDS;
    worker.shutdown();
    await running;
    const result: Result = {
      server: kind,
      scenario: `owner alone: ${APPEND_LOOPS} remote loops × ${APPENDS} appends`,
      seconds: round1(seconds),
      appends,
      appendsPerSec: round1(appends / seconds),
      eventsPerSec: round1(appends / seconds),
      ownerCpuPct: Number.isNaN(ownerCpu) ? undefined : Math.round((ownerCpu / seconds) * 100),
      ownerCpuMsPerAppend: Number.isNaN(ownerCpu) ? undefined : Math.round((ownerCpu / appends) * 1000 * 100) / 100,
      serverCpuPct: Number.isNaN(serverCpu) ? undefined : Math.round((serverCpu / seconds) * 100),
    };
    log(`${result.server} ${result.scenario}: ${JSON.stringify(result)}`);
    return result;
  } finally {
    await engine.stop();
    await connection.close();
    await clientConnection.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function quietLogger() {
  const noop = () => {};
  return { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop } as any;
}
