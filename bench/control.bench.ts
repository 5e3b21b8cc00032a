/**
 * Control latency with many jobs running, over HTTP against a running engine, in one run:
 * with BENCH_RUNNING (0,50,200) multi-step `sleep` jobs running (steps of BENCH_STEP_MS, default 10 s, each
 * reporting in-step progress: a running job costs a workflow task per step), a probe job is paused, resumed and reprioritized
 * BENCH_CONTROLS (100: a p99 of fewer is just the slowest round) times each through the API; latency = from sending the request until a GET shows
 * the change (the API client runs in a worker thread: a user's client is not on the server's event loop). Then the same through `temporal workflow signal` (the CLI's own start-up time, measured
 * with `temporal --version`, is reported on its own line and is part of the CLI figures).
 * Baseline in the same run: a signal from the client to a bare workflow answered by a query (the
 * Temporal round trip any control is made of). Goals (issue 14): API p50 ≤ 30 ms, p99 ≤ 100 ms with
 * 200 running. Each API round is also split by the times its event records (sent → its workflow task
 * → in the log → visible), with the slowest rounds. Prints a table and a BENCH_JSON line.
 */
import os from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { resolveTemporalCli } from '../src/temporal/cliBinary.js';
import { startBareWorker } from './bare/worker.js';
import { startBenchEngine } from './support/benchEngine.js';
import { Progress, cpuMsSince, formatTable, summarize, type LatencySummary } from './support/stats.js';
import type { ControlAction, ControlRoundsInput, ControlRoundsOutput } from './support/controlWorker.js';
import { runBenchThread } from './support/benchThread.js';

const RUNNING = (process.env.BENCH_RUNNING ?? '0,50,200').split(',').map(Number);
const CONTROLS = Number(process.env.BENCH_CONTROLS ?? 100);
const CLI_CONTROLS = Number(process.env.BENCH_CLI_CONTROLS ?? 10);
/** Pause between two API controls of the probe job (ms); default 0, back to back. */
const CONTROL_GAP_MS = Number(process.env.BENCH_CONTROL_GAP_MS ?? 0);
/** Step length of the running jobs: a running job costs a workflow task per step (its in-step progress
 * is recorded by the step itself, about once a second, without one). */
const STEP_MS = Number(process.env.BENCH_STEP_MS ?? 10_000);
/** Spread the background jobs' submits over this many ms (default 0: all at once, so their steps end in
 * the same second — the worst case for a control landing in that burst). */
const START_SPREAD_MS = Number(process.env.BENCH_START_SPREAD_MS ?? 0);
const log = (line: string) => process.stderr.write(`${line}\n`);
const progress = new Progress();
const run = promisify(execFile);

const cli = resolveTemporalCli()?.path;
const bench = await startBenchEngine({
  name: 'control',
  http: true,
  log,
  engine: { maxConcurrentSteps: Math.max(...RUNNING) + 50 },
});
const { engine, server, taskQueue, api } = bench;

/** Polls GET until `seen(row)`; returns the ms since t0. */
async function visibleAfter(jobId: string, t0: number, seen: (row: any) => boolean): Promise<number> {
  for (;;) {
    if (seen(await api('GET', `/jobs/${jobId}`))) return performance.now() - t0;
    if (performance.now() - t0 > 60_000) throw new Error(`job ${jobId}: change not visible after 60 s`);
  }
}

/** The API's control rounds on `jobId`, sent from a worker thread (bench/support/controlWorker.ts). */
const controlRoundsInThread = (input: ControlRoundsInput, onProgress: (done: number) => void) =>
  runBenchThread<ControlRoundsInput, ControlRoundsOutput>(new URL('./support/controlWorker.ts', import.meta.url), input, {
    name: 'control thread',
    onProgress,
  });

const CONTROL_ACTIONS: readonly ControlAction[] = ['pause', 'resume', 'reprioritize'];
const EVENT_OF: Record<ControlAction, string> = { pause: 'JobPaused', resume: 'JobResumed', reprioritize: 'JobReprioritized' };

/**
 * Splits each API round by the times its event records (one clock: the dev server, the engine and the
 * client thread share the machine): request sent → the workflow task that handled it began (the
 * event's `at`, the task's time: HTTP, the API, Temporal's Update and the wait for a workflow task) →
 * the event in the log (its `recordedAt`: the task's work and the append) → visible in GET (the
 * projector, the API's answer and the client's GET). The n-th round of an action is the n-th event of
 * its type in the probe's stream (each round waits until the one before is visible).
 */
function whereTheTimeWent(probe: string, figures: ControlRoundsOutput) {
  const events = engine.eventStore.readStream(probe);
  const parts = { toTask: [] as number[], toLog: [] as number[], toVisible: [] as number[] };
  const slowest: { action: ControlAction; ms: number; toTask: number; toLog: number; toVisible: number }[] = [];
  for (const action of CONTROL_ACTIONS) {
    const mine = events.filter((e) => e.type === EVENT_OF[action]);
    figures[action].forEach((ms, i) => {
      const event = mine[i];
      if (!event) return;
      const sent = figures.sentAt[action][i]!;
      const taskAt = Date.parse(String((event.data as { at?: string }).at));
      const loggedAt = Date.parse(event.recordedAt);
      const split = { toTask: taskAt - sent, toLog: loggedAt - taskAt, toVisible: sent + ms - loggedAt };
      parts.toTask.push(split.toTask);
      parts.toLog.push(split.toLog);
      parts.toVisible.push(split.toVisible);
      slowest.push({ action, ms, ...split });
    });
  }
  slowest.sort((a, b) => b.ms - a.ms);
  return {
    toTask: summarize(parts.toTask),
    toLog: summarize(parts.toLog),
    toVisible: summarize(parts.toVisible),
    slowest: slowest.slice(0, 5),
  };
}

const longJob = (name: string) => ({ name, type: 'sleep', input: { steps: 100_000, step_ms: STEP_MS } });
const running = () => engine.readModel.countByStatus().running ?? 0;

interface Row {
  running: number;
  via: string;
  action: string;
  s: LatencySummary;
}
const rows: Row[] = [];
/** What the engine's process (API, projector, workers, the SDK's threads) spent during each load's API rounds. */
const engineLoad: { running: number; cores: number; mainThreadBusy: number }[] = [];
/** Where a control's time went, per load (see whereTheTimeWent). */
const breakdowns: ({ running: number } & ReturnType<typeof whereTheTimeWent>)[] = [];
let cliStartup: LatencySummary | undefined;
let baseline: LatencySummary | undefined;
const background: string[] = [];
try {
  // ---- baseline: a signal to a bare workflow and a query that sees it ---------------------------
  const bareQueue = `${taskQueue}-bare`;
  const bare = await startBareWorker(server.address, bareQueue);
  const bareHandle = await engine.client.workflow.start('bareSignalWorkflow', {
    taskQueue: bareQueue,
    workflowId: `bare-${taskQueue}`,
  });
  const bareLatencies: number[] = [];
  for (let i = 0; i < CONTROLS; i++) {
    const t0 = performance.now();
    await bareHandle.signal('go');
    while ((await bareHandle.query<number>('done')) <= i);
    bareLatencies.push(performance.now() - t0);
  }
  baseline = summarize(bareLatencies);
  await bareHandle.terminate();
  await bare.stop();
  if (cli) {
    const startup: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await run(cli, ['--version']);
      startup.push(performance.now() - t0);
    }
    cliStartup = summarize(startup);
  }

  for (const target of RUNNING) {
    // Top up the background load to `target` running jobs.
    const adding = target - background.length;
    while (background.length < target) {
      background.push((await api('POST', '/jobs/submit', longJob(`load ${background.length}`))).job_id);
      if (START_SPREAD_MS > 0) await new Promise((r) => setTimeout(r, START_SPREAD_MS / adding));
    }
    while (running() < target) {
      progress.line(`waiting for ${target} running (${running()})`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // Let the load settle into its rhythm (steps every second) before measuring.
    await new Promise((r) => setTimeout(r, 3000));
    const probe: string = (await api('POST', '/jobs/submit', longJob(`probe ${target}`))).job_id;
    await visibleAfter(probe, performance.now(), (row) => row.status === 'running');
    // The API rounds run in a thread of their own: a user's client is not on the server's event loop.
    // Its own CPU is in the process's figure too (small next to 200 jobs' workflow tasks).
    const cpu0 = process.cpuUsage();
    const loop0 = performance.eventLoopUtilization();
    const wall0 = performance.now();
    const figures = await controlRoundsInThread(
      { baseUrl: bench.baseUrl, jobId: probe, controls: CONTROLS, gapMs: CONTROL_GAP_MS },
      (done) => progress.line(`${target} running: ${done}/${CONTROLS} control rounds (API)`),
    );
    engineLoad.push({
      running: target,
      cores: cpuMsSince(cpu0) / (performance.now() - wall0),
      mainThreadBusy: performance.eventLoopUtilization(loop0).utilization,
    });
    for (const action of CONTROL_ACTIONS) rows.push({ running: target, via: 'API', action, s: summarize(figures[action]) });
    breakdowns.push({ running: target, ...whereTheTimeWent(probe, figures) });

    if (cli && CLI_CONTROLS > 0) {
      const cliFigures: Record<string, number[]> = { pause: [], resume: [] };
      const signal = (name: string) =>
        run(cli, ['workflow', 'signal', '--workflow-id', probe, '--name', name, '--address', server.address]);
      for (let i = 0; i < CLI_CONTROLS; i++) {
        let t0 = performance.now();
        await signal('pause');
        cliFigures.pause!.push(await visibleAfter(probe, t0, (row) => row.status === 'paused'));
        t0 = performance.now();
        await signal('resume');
        cliFigures.resume!.push(await visibleAfter(probe, t0, (row) => row.status !== 'paused'));
        progress.line(`${target} running: ${i + 1}/${CLI_CONTROLS} control rounds (CLI)`);
      }
      for (const [action, values] of Object.entries(cliFigures))
        rows.push({ running: target, via: 'temporal workflow signal', action, s: summarize(values) });
    }
    await api('POST', `/jobs/${probe}/cancel`, { reason: 'bench done' });
    log(`${target} running: measured`);
  }
} finally {
  await bench.stop();
}

const ms = (x: number) => x.toFixed(1);
console.log(`${os.cpus().length} cores; running jobs: sleep, ${STEP_MS / 1000} s steps with in-step progress`);
if (baseline)
  console.log(
    `baseline (client signal → bare workflow → query sees it): p50 ${ms(baseline.p50Ms)} ms, p99 ${ms(baseline.p99Ms)} ms`,
  );
if (cliStartup)
  console.log(`temporal CLI start-up (temporal --version): p50 ${ms(cliStartup.p50Ms)} ms, p99 ${ms(cliStartup.p99Ms)} ms`);
console.log(
  formatTable(
    ['running', 'via', 'action', 'n', 'p50 ms', 'p99 ms', 'max ms', 'goal at 200'],
    rows.map((r) => [
      String(r.running),
      r.via,
      r.action,
      String(r.s.n),
      ms(r.s.p50Ms),
      ms(r.s.p99Ms),
      ms(r.s.maxMs),
      r.via === 'API' && r.running === 200 ? 'p50 ≤ 30, p99 ≤ 100' : '',
    ]),
  ),
);
for (const b of breakdowns) {
  const part = (s: LatencySummary) => `${ms(s.p50Ms)} / ${ms(s.p99Ms)}`;
  console.log(
    `where a control's time went at ${b.running} running (p50 / p99 ms): sent → its workflow task ${part(b.toTask)}; ` +
      `task → in the log ${part(b.toLog)}; log → visible in GET ${part(b.toVisible)}`,
  );
  console.log(
    `  slowest rounds: ${b.slowest.map((r) => `${r.action} ${ms(r.ms)} (${r.toTask} + ${r.toLog} + ${r.toVisible.toFixed(0)})`).join('; ')}`,
  );
}
for (const l of engineLoad)
  console.log(
    `engine process during the API rounds at ${l.running} running: ${l.cores.toFixed(2)} cores, main thread busy ${(100 * l.mainThreadBusy).toFixed(0)} %`,
  );
console.log(
  `BENCH_JSON ${JSON.stringify({
    bench: 'control',
    cores: os.cpus().length,
    stepMs: STEP_MS,
    baseline,
    cliStartup,
    engineLoad,
    breakdowns,
    results: rows.map((r) => ({
      running: r.running,
      via: r.via,
      action: r.action,
      ...r.s,
      met: r.via === 'API' && r.running === 200 ? r.s.p50Ms <= 30 && r.s.p99Ms <= 100 : null,
    })),
  })}`,
);
