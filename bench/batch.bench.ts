/**
 * Batch throughput against bare Temporal, on the same dev server in the same run:
 *   1. N bare workflows, each running one empty activity (the baseline);
 *   2. a batch of N no-op jobs (each a jobWorkflow with its events, through the API).
 * Reports jobs/s, the ratio, and the worker's peak RSS. BENCH_SIZES=1000,10000,100000 runs batches of
 * each size to show the cost per job stays flat. Prints a table and a BENCH_JSON line, with each
 * part's CPU (this process and the dev server, core-seconds per 1,000 jobs; see support/cpu.ts).
 * BENCH_TEMPORAL_DB_DIR: where the dev server's database file goes (default: the OS temp dir).
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { startBareWorker } from './bare/worker.js';
import { startBenchEngine } from './support/benchEngine.js';
import { coreSecondsPer1000, formatPhaseCpu, startPhaseCpu, type PhaseCpu } from './support/cpu.js';

const sizes = (process.env.BENCH_SIZES ?? process.env.BENCH_JOBS ?? '10000').split(',').map(Number);
const baselineN = Number(process.env.BENCH_BASELINE ?? sizes[0]);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 200);
/** Jobs a batch's run starts before it drains its window and continues as new (the API's `jobs_per_run`). */
const jobsPerRun = process.env.BENCH_JOBS_PER_RUN ? Number(process.env.BENCH_JOBS_PER_RUN) : undefined;
const log = (line: string) => process.stderr.write(`${line}\n`);

/** Median and p99 of per-job latencies (s). */
function quantiles(values: number[]): { p50S: number; p99S: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { p50S: Math.round(at(0.5) * 1000) / 1000, p99S: Math.round(at(0.99) * 1000) / 1000 };
}

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 250);

// On a file, not in memory: the in-memory dev server's SQLite fails with "out of memory (7)" at
// about 67,000 finished job workflows (~8 GB RSS), before a 100,000-job batch is through. The file's
// fsyncs cost both sides more than half their speed on a disk; BENCH_TEMPORAL_DB_DIR=/dev/shm (a
// RAM-backed file system) keeps the file without them.
const temporalDbDir = mkdtempSync(path.join(process.env.BENCH_TEMPORAL_DB_DIR || os.tmpdir(), 'bench-temporal-'));
const bench = await startBenchEngine({
  name: 'batch',
  log,
  temporalDbFile: path.join(temporalDbDir, 'temporal.db'),
  engine: { maxConcurrentSteps: concurrency },
});
const { engine, server, taskQueue } = bench;

const results: Record<string, unknown>[] = [];
try {
  // ---- baseline: bare workflows ------------------------------------------------------------------
  const bareQueue = `${taskQueue}-bare`;
  const bare = await startBareWorker(server.address, bareQueue, concurrency);
  peakRss = 0;
  const bareCpu = startPhaseCpu(server.pid);
  const bareStart = Date.now();
  let done = 0;
  const progress = setInterval(
    () => log(`bare: ${done}/${baselineN} (${Math.round(done / ((Date.now() - bareStart) / 1000))}/s)`),
    2000,
  );
  const bareLatencies: number[] = [];
  const ids = Array.from({ length: baselineN }, (_, i) => `bare-${taskQueue}-${i}`);
  const queue = [...ids];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let id = queue.shift(); id; id = queue.shift()) {
        const t0 = Date.now();
        await engine.client.workflow.execute('bareWorkflow', { taskQueue: bareQueue, workflowId: id });
        bareLatencies.push((Date.now() - t0) / 1000);
        done++;
      }
    }),
  );
  clearInterval(progress);
  const bareSeconds = (Date.now() - bareStart) / 1000;
  const bareRate = baselineN / bareSeconds;
  const bareCpuUsed = bareCpu.stop();
  results.push({
    name: `bare workflows + 1 activity`,
    jobs: baselineN,
    seconds: bareSeconds,
    jobsPerSec: bareRate,
    ...quantiles(bareLatencies),
    peakRssMb: peakRss / 1048576,
    cpu: bareCpuUsed,
    coreSecondsPer1000: coreSecondsPer1000(bareCpuUsed, baselineN),
  });
  await bare.stop();

  // ---- batches -------------------------------------------------------------------------------------
  for (const n of sizes) {
    peakRss = 0;
    const cpu = startPhaseCpu(server.pid);
    const start = Date.now();
    const r = await engine.app.request('/api/v1/batches', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: `bench ${n}`,
        type: 'noop',
        items: Array.from({ length: n }, () => ({})),
        concurrency,
        ...(jobsPerRun ? { jobs_per_run: jobsPerRun } : {}),
      }),
    });
    const body = (await r.json()) as { batch_id: string };
    if (r.status !== 201) throw new Error(`create failed: ${JSON.stringify(body)}`);
    let last = Date.now();
    for (;;) {
      const b = (await (await engine.app.request(`/api/v1/batches/${body.batch_id}`)).json()) as any;
      if (Date.now() - last > 2000) {
        last = Date.now();
        log(
          `batch ${n}: ${b.progress.completed}/${n} (${b.progress.throughput ?? 0}/s) rss ${Math.round(process.memoryUsage().rss / 1048576)} MB`,
        );
      }
      if (b.status === 'completed' || b.status === 'failed') {
        const seconds = (Date.parse(b.completed_at) - start) / 1000;
        const used = cpu.stop();
        // Per job: from the batch starting it (its workflow start = created_at) to its end, as the
        // bare latency runs from the client's start to the result.
        const latencies = engine.readModelDb
          .prepare<[string], number>(
            `SELECT (julianday(completed_at) - julianday(created_at)) * 86400.0 FROM jobs WHERE batch_id = ? AND completed_at IS NOT NULL`,
          )
          .pluck()
          .all(body.batch_id);
        results.push({
          name: `batch of ${n} noop jobs`,
          jobs: n,
          seconds,
          jobsPerSec: n / seconds,
          ratioToBare: n / seconds / bareRate,
          completed: b.progress.completed,
          ...quantiles(latencies),
          peakRssMb: peakRss / 1048576,
          cpu: used,
          coreSecondsPer1000: coreSecondsPer1000(used, n),
          // Bare's core-seconds per job over the batch's: the ratio of rates the CPU leaves room for.
          cpuRatio: coreSecondsPer1000(bareCpuUsed, baselineN) / coreSecondsPer1000(used, n),
        });
        break;
      }
      await new Promise((res) => setTimeout(res, 200));
    }
  }
} finally {
  clearInterval(sampler);
  await bench.stop();
  rmSync(temporalDbDir, { recursive: true, force: true });
}

console.log(
  '\nscenario                          jobs   seconds  jobs/s  ratio to bare  latency p50 s  latency p99 s  peak RSS MB (whole process)  core-s / 1,000 (process + server)  CPU ratio',
);
for (const r of results) {
  console.log(
    `${String(r.name).padEnd(30)} ${String(r.jobs).padStart(7)} ${Number(r.seconds).toFixed(1).padStart(9)} ${Number(r.jobsPerSec).toFixed(1).padStart(7)} ` +
      `${r.ratioToBare !== undefined ? Number(r.ratioToBare).toFixed(2).padStart(14) : '             -'} ${Number(r.p50S).toFixed(3).padStart(14)} ${Number(r.p99S).toFixed(3).padStart(14)} ${Number(r.peakRssMb).toFixed(0).padStart(27)}  ${formatPhaseCpu(r.cpu as PhaseCpu, Number(r.jobs)).padStart(33)}  ${r.cpuRatio !== undefined ? Number(r.cpuRatio).toFixed(2).padStart(9) : '        -'}`,
  );
}
console.log(
  `BENCH_JSON ${JSON.stringify({ bench: 'batch', cpus: os.cpus().length, node: process.version, concurrency, jobsPerRun, results })}`,
);
