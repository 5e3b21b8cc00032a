/**
 * Submit under a burst, over HTTP against a running engine, in one run on one dev server:
 *   1. baseline: BENCH_SUBMITS (1,000) bare `client.workflow.start` calls with BENCH_IN_FLIGHT (100) in
 *      flight, each workflow running one empty activity on a worker of its own;
 *   2. the engine: the same burst as `POST /api/v1/jobs/submit` of `noop` jobs over HTTP, each followed
 *      by a GET of the job (it must be there: the submit answered only once the job was readable),
 *      sent from a worker thread (bench/support/submitBurstWorker.ts): a user's clients are not on the
 *      server's event loop.
 * Per request: latency p50/p99; for the whole burst: completed jobs/s from the first request to the
 * last completion. Goals (issue 14): submit p99 ≤ 1.5× the bare start's p99, every answer 201, every
 * job visible in GET when its submit returns, completed jobs/s ≥ 0.8× bare. Prints a table and a
 * BENCH_JSON line. BENCH_ROUNDS (1) repeats both parts, alternating, and reports each round.
 * Each part's CPU (this process and the dev server, core-seconds per 1,000 jobs): with both cores busy,
 * bare's core-seconds per job over the engine's ("CPU ratio") is how far the rate ratio can go.
 * BENCH_TEMPORAL_DB_DIR: keep the dev server's database in a file there, as `npm start` does (default:
 * in memory). BENCH_MAX_CONCURRENT_STEPS (200): the engine's steps at once, and so its default pool's
 * limit (`npm start`: 100).
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { startBareWorker } from './bare/worker.js';
import { startBenchEngine } from './support/benchEngine.js';
import { Progress, formatTable, summarize, type LatencySummary } from './support/stats.js';
import { burst } from './support/burst.js';
import type { SubmitBurstInput, SubmitBurstOutput } from './support/submitBurstWorker.js';
import { runBenchThread } from './support/benchThread.js';
import { coreSecondsPer1000, formatPhaseCpu, startPhaseCpu, type PhaseCpu } from './support/cpu.js';
import { workflowRuns, type WorkflowRun } from '../test/support/workflowRuns.js';
import { DEFAULT_POOL, poolWorkflowId } from '../src/domain/index.js';

const SUBMITS = Number(process.env.BENCH_SUBMITS ?? 1000);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const log = (line: string) => process.stderr.write(`${line}\n`);
const progress = new Progress();

const MAX_CONCURRENT_STEPS = Number(process.env.BENCH_MAX_CONCURRENT_STEPS ?? 200);
const temporalDbDir = process.env.BENCH_TEMPORAL_DB_DIR
  ? mkdtempSync(path.join(process.env.BENCH_TEMPORAL_DB_DIR, 'bench-temporal-'))
  : undefined;
const bench = await startBenchEngine({
  name: 'submit',
  http: true,
  log,
  engine: { maxConcurrentSteps: MAX_CONCURRENT_STEPS },
  ...(temporalDbDir ? { temporalDbFile: path.join(temporalDbDir, 'temporal.db') } : {}),
});
const { engine, server, taskQueue, baseUrl: base } = bench;
const bareQueue = `${taskQueue}-bare`;
const bare = await startBareWorker(server.address, bareQueue, 200);

async function untilAll(what: string, done: () => Promise<number> | number): Promise<void> {
  for (;;) {
    const n = await done();
    progress.line(`${what}: ${n}/${SUBMITS} completed`);
    if (n >= SUBMITS) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Round {
  bare: { start: LatencySummary; jobsPerS: number; cpu: PhaseCpu };
  engine: {
    submit: LatencySummary;
    jobsPerS: number;
    /** From the burst's first request to its last completion (the HTTP clients' thread included). */
    cpu: PhaseCpu;
    non201: number;
    notVisible: number;
    phases: Record<string, LatencySummary>;
  };
}

async function bareRound(round: number): Promise<Round['bare']> {
  const cpu = startPhaseCpu(server.pid);
  const t0 = Date.now();
  const handles: Promise<void>[] = [];
  const latencies = await burst(SUBMITS, IN_FLIGHT, async (i) => {
    const handle = await engine.client.workflow.start('bareWorkflow', {
      taskQueue: bareQueue,
      workflowId: `bare-${round}-${i}-${randomUUID()}`,
    });
    handles.push(handle.result());
  });
  progress.line(`bare round ${round}: ${SUBMITS} started`, true);
  let finished = 0;
  for (const h of handles) void h.then(() => finished++);
  await untilAll(`bare round ${round}`, () => finished);
  return { start: summarize(latencies), jobsPerS: SUBMITS / ((Date.now() - t0) / 1000), cpu: cpu.stop() };
}

/** The burst of submits, sent from a worker thread (bench/support/submitBurstWorker.ts). */
const inThread = (input: SubmitBurstInput) =>
  runBenchThread<SubmitBurstInput, SubmitBurstOutput>(new URL('./support/submitBurstWorker.ts', import.meta.url), input, {
    name: 'submit burst thread',
  });

async function engineRound(round: number): Promise<Round['engine']> {
  // Completed jobs, counted from the read model's per-status tally (one small query per poll; a GET or
  // a row read per job every 100 ms took seconds of the engine's CPU from the burst).
  const completedSoFar = () => engine.readModel.countByStatus().completed ?? 0;
  const completedBefore = completedSoFar();
  const cpu = startPhaseCpu(server.pid);
  // The HTTP clients run in a thread of their own: a user's clients are not on the server's event loop.
  const {
    startedAt: t0,
    latencies,
    ids,
    non201,
    notVisible,
  } = await inThread({
    baseUrl: base,
    count: SUBMITS,
    inFlight: IN_FLIGHT,
    round,
  });
  progress.line(`engine round ${round}: ${SUBMITS} submitted`, true);
  await untilAll(`engine round ${round}`, () => completedSoFar() - completedBefore);
  const jobsPerS = SUBMITS / ((Date.now() - t0) / 1000);
  const phaseCpu = cpu.stop();
  // Where a job's time went, from its events' recorded times.
  const phases: Record<string, number[]> = { 'submitted → queued': [], 'queued → started': [], 'started → completed': [] };
  for (const id of ids) {
    const at = new Map(engine.eventStore.readStream(id).map((e) => [e.type, Date.parse(e.recordedAt)]));
    phases['submitted → queued']!.push(at.get('JobQueued')! - at.get('JobSubmitted')!);
    phases['queued → started']!.push(at.get('JobStarted')! - at.get('JobQueued')!);
    phases['started → completed']!.push(at.get('JobCompleted')! - at.get('JobStarted')!);
  }
  const phaseSummaries = Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, summarize(v)]));
  return { submit: summarize(latencies), jobsPerS, cpu: phaseCpu, non201, notVisible, phases: phaseSummaries };
}

const rounds: Round[] = [];
/** The default pool's runs (it hands out every job's slot): its continue-as-new under the burst. */
let poolRuns: WorkflowRun[] | undefined;
try {
  for (let r = 1; r <= ROUNDS; r++) {
    const bareFigures = await bareRound(r);
    const engineFigures = await engineRound(r);
    rounds.push({ bare: bareFigures, engine: engineFigures });
  }
  poolRuns = await workflowRuns(engine.client, poolWorkflowId(taskQueue, DEFAULT_POOL));
} finally {
  await bare.stop();
  await bench.stop();
  if (temporalDbDir) rmSync(temporalDbDir, { recursive: true, force: true });
}

const ms = (x: number) => x.toFixed(1);
/** Bare's core-seconds per job over the engine's: the rate ratio that the CPU leaves room for. */
const cpuRatio = (r: Round) => coreSecondsPer1000(r.bare.cpu, SUBMITS) / coreSecondsPer1000(r.engine.cpu, SUBMITS);
const rows = rounds.flatMap((r, i) => {
  const p99Ratio = r.engine.submit.p99Ms / r.bare.start.p99Ms;
  const rateRatio = r.engine.jobsPerS / r.bare.jobsPerS;
  return [
    [
      `${i + 1}`,
      'bare client.workflow.start',
      ms(r.bare.start.p50Ms),
      ms(r.bare.start.p99Ms),
      r.bare.jobsPerS.toFixed(0),
      '',
      '',
      formatPhaseCpu(r.bare.cpu, SUBMITS),
      '',
    ],
    [
      `${i + 1}`,
      'POST /jobs/submit (HTTP)',
      ms(r.engine.submit.p50Ms),
      ms(r.engine.submit.p99Ms),
      r.engine.jobsPerS.toFixed(0),
      `${p99Ratio.toFixed(2)} (≤ 1.5)`,
      `${rateRatio.toFixed(2)} (≥ 0.8)`,
      formatPhaseCpu(r.engine.cpu, SUBMITS),
      cpuRatio(r).toFixed(2),
    ],
  ];
});
console.log(
  `${SUBMITS} submits, ${IN_FLIGHT} in flight, ${os.cpus().length} cores, dev server ${temporalDbDir ? 'in a file' : 'in memory'}, default pool limit ${MAX_CONCURRENT_STEPS}`,
);
console.log(
  formatTable(
    [
      'round',
      'measure',
      'p50 ms',
      'p99 ms',
      'completed/s',
      'p99 ratio',
      'rate ratio',
      'core-s / 1,000 (process + server)',
      'CPU ratio',
    ],
    rows,
  ),
);
for (const r of rounds) {
  console.log(`answers other than 201: ${r.engine.non201}; jobs not readable when their submit returned: ${r.engine.notVisible}`);
  console.log(
    `a job's time (p50 / p99 ms): ${Object.entries(r.engine.phases)
      .map(([k, v]) => `${k} ${ms(v.p50Ms)} / ${ms(v.p99Ms)}`)
      .join('; ')}`,
  );
}
const pool = {
  runs: poolRuns.length,
  continuedAsNew: poolRuns.filter((r) => r.continuedAsNew).length,
  failedTasks: poolRuns.reduce((n, r) => n + r.failedTasks.length, 0),
  stallsMs: poolRuns.flatMap((r) => r.stallsMs),
};
console.log(
  `the default pool: ${pool.runs} runs (${pool.continuedAsNew} continued as new); failed workflow tasks ${pool.failedTasks}` +
    (pool.stallsMs.length > 0 ? `, standing still ${pool.stallsMs.map((x) => `${x} ms`).join(', ')}` : ''),
);
console.log(
  `BENCH_JSON ${JSON.stringify({
    bench: 'submit',
    pool,
    submits: SUBMITS,
    inFlight: IN_FLIGHT,
    temporalDb: temporalDbDir ? 'file' : 'memory',
    poolLimit: MAX_CONCURRENT_STEPS,
    cores: os.cpus().length,
    rounds: rounds.map((r) => ({
      ...r,
      p99Ratio: r.engine.submit.p99Ms / r.bare.start.p99Ms,
      rateRatio: r.engine.jobsPerS / r.bare.jobsPerS,
      cpuRatio: cpuRatio(r),
      met: {
        p99: r.engine.submit.p99Ms <= 1.5 * r.bare.start.p99Ms,
        all201: r.engine.non201 === 0,
        visible: r.engine.notVisible === 0,
        rate: r.engine.jobsPerS >= 0.8 * r.bare.jobsPerS,
      },
    })),
  })}`,
);
