/**
 * Scheduling latencies on a dev server, in one run:
 *   1. slot hand-over: a pool of BENCH_POOL_LIMIT (4) slots with BENCH_WAITING (200) jobs waiting;
 *      the time from one job's end (JobCompleted, after which it gives its slot back) to the next
 *      job's JobStarted in the same pool — once with the jobs submitted while the pool hands over,
 *      once with the line filled first (the pool closed until every job waits, then opened);
 *   2. dependency release: BENCH_PAIRS (100) pairs a → b (b depends on a); the time from a's
 *      JobCompleted to b's JobDependencyMet;
 *   3. scheduled start lateness: BENCH_SCHEDULED (100) jobs with scheduled_at spread over 10 s; the
 *      time from scheduled_at to JobStarted (it includes the pool admission).
 * Baseline in the same run: the time Temporal itself takes for one signal from a client to a running
 * workflow and one activity it then starts (`bareSignalWorkflow`), the two hops every scheduling
 * decision is made of; and the same under a burst (BENCH_PAIRS workflows signalled at once, each
 * then running one activity), the floor of the dependency release burst. Goals (issue 11):
 * hand-over p99 ≤ 100 ms, release p99 ≤ 200 ms, lateness p99 ≤ 1 s. Prints a table and a BENCH_JSON line.
 */
import os from 'node:os';
import { startBareWorker } from './bare/worker.js';
import { startBenchEngine } from './support/benchEngine.js';
import { formatTable, summarize, type LatencySummary } from './support/stats.js';

const POOL_LIMIT = Number(process.env.BENCH_POOL_LIMIT ?? 4);
const WAITING = Number(process.env.BENCH_WAITING ?? 200);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 100);
const SCHEDULED = Number(process.env.BENCH_SCHEDULED ?? 100);
const BASELINE = Number(process.env.BENCH_BASELINE ?? 100);
const log = (line: string) => process.stderr.write(`${line}\n`);

const bench = await startBenchEngine({
  name: 'scheduling',
  log,
  engine: { maxConcurrentSteps: 400, pools: { bench: POOL_LIMIT, default: 400 } },
});
const { engine, server, taskQueue } = bench;
const api = (method: string, url: string, body?: unknown) => bench.api(method, url.replace(/^\/api\/v1/, ''), body);
const submit = async (body: Record<string, unknown>) => (await api('POST', '/api/v1/jobs/submit', body)).job_id as string;
const events = (id: string) => engine.eventStore.readStream(id);
const timeOf = (id: string, type: string) => {
  const e = events(id).find((x) => x.type === type);
  return e ? Date.parse(e.recordedAt) : NaN;
};
async function allEnded(ids: string[], what: string): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const done = ids.filter((id) =>
      ['completed', 'failed', 'cancelled'].includes(engine.readModel.getJob(id)?.status ?? ''),
    ).length;
    if (done === ids.length) return;
    log(`${what}: ${done}/${ids.length} ended (${Math.round((Date.now() - t0) / 1000)} s)`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}
/** Submits with up to 20 requests in flight. */
async function submitAll(bodies: Record<string, unknown>[]): Promise<string[]> {
  const ids: string[] = new Array(bodies.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      for (let i = next++; i < bodies.length; i = next++) ids[i] = await submit(bodies[i]!);
    }),
  );
  return ids;
}

const rows: { name: string; s: LatencySummary; goalMs: number | null }[] = [];
try {
  // ---- baseline: a signal to a running workflow, which then runs one activity -----------------
  const bareQueue = `${taskQueue}-bare`;
  const bare = await startBareWorker(server.address, bareQueue);
  const baseline: number[] = [];
  const handle = await engine.client.workflow.start('bareSignalWorkflow', {
    taskQueue: bareQueue,
    workflowId: `bare-${taskQueue}`,
  });
  for (let i = 0; i < BASELINE; i++) {
    const t0 = performance.now();
    await handle.signal('go');
    for (;;) {
      if ((await handle.query<number>('done')) > i) break;
    }
    baseline.push(performance.now() - t0);
  }
  await handle.terminate();
  rows.push({ name: 'baseline: signal → workflow → activity done', s: summarize(baseline), goalMs: null });
  log(`baseline: ${BASELINE} signal round trips`);

  // ---- burst baseline: PAIRS workflows signalled at once, each then runs one activity ----------
  // What a burst of PAIRS dependency releases (a's end signals b, b's task records an event) costs
  // bare Temporal on this machine: the floor of measure 2 below. (b records through a local activity
  // in its task; the bare workflow's activity is a task of its own, so this floor is a little high.)
  const burst = await Promise.all(
    Array.from({ length: PAIRS }, (_, i) =>
      engine.client.workflow.start('bareBurstWorkflow', { taskQueue: bareQueue, workflowId: `burst-${taskQueue}-${i}` }),
    ),
  );
  await new Promise((r) => setTimeout(r, 3000)); // every one waiting for its signal
  const burstAt = Date.now();
  await Promise.all(burst.map((h) => h.signal('go')));
  const ran = await Promise.all(burst.map((h) => h.result() as Promise<number>));
  rows.push({
    name: `burst baseline: ${PAIRS} signals at once → activity`,
    s: summarize(ran.map((t) => t - burstAt)),
    goalMs: null,
  });
  await bare.stop();
  log(`burst baseline: ${PAIRS} workflows`);

  // ---- 1. slot hand-over under a full pool ----------------------------------------------------
  // (a) the jobs are submitted while the pool hands over, so hand-overs compete with the submit burst;
  // (b) the line is filled first (limit 0 until all jobs wait), then the pool opens: hand-overs alone.
  const handOverOf = (jobs: string[]): number[] => {
    const ends = jobs.map((id) => timeOf(id, 'JobCompleted')).sort((a, b) => a - b);
    const starts = jobs.map((id) => timeOf(id, 'JobStarted')).sort((a, b) => a - b);
    // The k-th start after the pool filled up takes the slot the k-th end gave back.
    const out: number[] = [];
    for (let k = POOL_LIMIT; k < starts.length; k++) out.push(Math.max(0, starts[k]! - ends[k - POOL_LIMIT]!));
    return out;
  };
  const poolBodies = (round: string) =>
    Array.from({ length: POOL_LIMIT + WAITING }, (_, i) => ({
      name: `pool ${round} ${i}`,
      type: 'sleep',
      pool: 'bench',
      input: { steps: 1, step_ms: 100 },
    }));
  const duringSubmits = await submitAll(poolBodies('a'));
  await allEnded(duringSubmits, 'hand-over while submitting');
  rows.push({
    name: `slot hand-over (pool ${POOL_LIMIT}, ${WAITING} waiting, submitted meanwhile)`,
    s: summarize(handOverOf(duringSubmits)),
    goalMs: 100,
  });
  await api('PUT', '/api/v1/pools/bench', { limit: 0 });
  const lineFirst = await submitAll(poolBodies('b'));
  for (;;) {
    const queued = lineFirst.filter((id) => engine.readModel.getJob(id)?.status === 'queued').length;
    if (queued === lineFirst.length) break;
    log(`hand-over, line filling: ${queued}/${lineFirst.length} queued`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  await api('PUT', '/api/v1/pools/bench', { limit: POOL_LIMIT });
  await allEnded(lineFirst, 'hand-over from a full line');
  rows.push({
    name: `slot hand-over (pool ${POOL_LIMIT}, ${WAITING} waiting, line filled first)`,
    s: summarize(handOverOf(lineFirst)),
    goalMs: 100,
  });

  // ---- 2. dependency release --------------------------------------------------------------------
  const firsts = await submitAll(
    Array.from({ length: PAIRS }, (_, i) => ({ name: `a ${i}`, type: 'sleep', input: { steps: 1, step_ms: 1500 } })),
  );
  const seconds = await submitAll(firsts.map((a, i) => ({ name: `b ${i}`, type: 'noop', depends_on: [{ job_id: a }] })));
  await allEnded([...firsts, ...seconds], 'dependencies');
  const release = firsts.map((a, i) => timeOf(seconds[i]!, 'JobDependencyMet') - timeOf(a, 'JobCompleted'));
  rows.push({ name: `dependency release (${PAIRS} pairs)`, s: summarize(release.filter(Number.isFinite)), goalMs: 200 });

  // ---- 3. scheduled start lateness ----------------------------------------------------------------
  const base = Date.now() + 5000;
  const times = Array.from({ length: SCHEDULED }, (_, i) => new Date(base + Math.round((i * 10_000) / SCHEDULED)).toISOString());
  const scheduled = await submitAll(times.map((at, i) => ({ name: `s ${i}`, type: 'noop', scheduled_at: at })));
  await allEnded(scheduled, 'scheduled');
  const lateness = scheduled.map((id, i) => timeOf(id, 'JobStarted') - Date.parse(times[i]!));
  rows.push({ name: `scheduled start lateness (${SCHEDULED} jobs)`, s: summarize(lateness), goalMs: 1000 });
} finally {
  await bench.stop();
}

const ms = (x: number) => x.toFixed(1);
console.log(
  formatTable(
    ['measure', 'n', 'p50 ms', 'p99 ms', 'max ms', 'goal p99 ms'],
    rows.map((r) => [
      r.name,
      String(r.s.n),
      ms(r.s.p50Ms),
      ms(r.s.p99Ms),
      ms(r.s.maxMs),
      r.goalMs === null ? '' : String(r.goalMs),
    ]),
  ),
);
console.log(
  `BENCH_JSON ${JSON.stringify({
    bench: 'scheduling',
    cores: os.cpus().length,
    results: rows.map((r) => ({
      name: r.name,
      ...r.s,
      goalP99Ms: r.goalMs,
      met: r.goalMs === null ? null : r.s.p99Ms <= r.goalMs,
    })),
  })}`,
);
