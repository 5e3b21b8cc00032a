/**
 * The production topology, run for real (npm run test:cluster): PostgreSQL-backed Temporal 1.32.0
 * (built from its Go module, set up by docker-compose.yml's own scripts: test/support/cluster.ts), one
 * store owner (`npm start` with EVENTSTORE_ACCESS=remote: API, projector, reconciler, workers, the
 * store's task queue) and CLUSTER_WORKERS job workers without the store (STORE_OWNER=false).
 *
 * Load, through the API: CLUSTER_JOBS single `sleep` jobs (3 steps of CLUSTER_STEP_MS) and one batch of
 * CLUSTER_BATCH `noop` jobs; some jobs paused and resumed, reprioritized, cancelled; the batch paused,
 * resumed and reprioritized. Faults, at fractions of the work done: a worker killed with SIGKILL (and
 * started again, as compose's restart policy does), the Temporal server restarted, the store owner
 * restarted. Then: every job terminal (the cancelled ones cancelled, every other one completed), every
 * stream gapless (versions 1..n in log order), one JobSubmitted and one end per job, no forked (conflicting)
 * event, no id conflict in any log or in the append-failure metric, and the read model equal to a
 * rebuild from the log, row by row.
 *
 * Defaults are the numbers: 2,000 jobs + a 5,000-job batch, 3 workers — 12.6 minutes on 2
 * cores in the latest run, more when the machine is busy (one batch workflow handles its children one
 * workflow task at a time: with the store behind its task queue a lone batch finishes 3–12 jobs/s
 * here). CLUSTER_JOBS=1000 CLUSTER_BATCH=1500 ran in 8.4 minutes on a busy machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openEventStore } from '../../src/eventstore/index.js';
import { openReadModelDb, type ReadModelDb } from '../../src/projections/readModelDb.js';
import { rebuildReadModel } from '../../src/projections/rebuildReadModel.js';
import { freePort } from '../../src/temporal/devServer.js';
import { startLocalCluster, type LocalCluster } from '../support/cluster.js';
import { apiCall, metricSamples, pool, topology, type Topology } from '../support/topology.js';

const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const JOBS = num('CLUSTER_JOBS', 2000);
const BATCH = num('CLUSTER_BATCH', 5000);
const WORKERS = num('CLUSTER_WORKERS', 3);
const STEP_MS = num('CLUSTER_STEP_MS', 100);
const BATCH_CONCURRENCY = num('CLUSTER_BATCH_CONCURRENCY', 100);
const SUBMITTERS = num('CLUSTER_SUBMITTERS', 16);
const TIMEOUT_MS = num('CLUSTER_TIMEOUT_MIN', 40) * 60_000;
const CONTROL_TIMEOUT_MS = num('CLUSTER_CONTROL_TIMEOUT_S', 120) * 1000;
const TOTAL = JOBS + BATCH;
const FINAL = ['completed', 'failed', 'cancelled', 'terminated', 'timed_out'];

const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)}s`;
const log = (line: string) => console.log(`[topology ${elapsed()}] ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let cluster: LocalCluster | undefined;
let engine: Topology | undefined;
let dataDir: string;
let failed = false;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'job-engine-topology-'));
  cluster = await startLocalCluster({ log });
  engine = topology({
    temporalAddress: cluster.address,
    dataDir,
    port: await freePort(),
    workers: WORKERS,
    workflowBundle: inject('workflowBundlePath'),
    log,
  });
  await engine.start();
}, 600_000);

afterAll(async () => {
  await engine?.stop().catch(() => {});
  await cluster?.teardown({ keep: failed || process.env.CLUSTER_KEEP === '1' });
  if (failed || process.env.CLUSTER_KEEP === '1') log(`kept: engine data and logs in ${dataDir}, cluster in ${cluster?.dir}`);
  else rmSync(dataDir, { recursive: true, force: true });
}, 120_000);

const dump = (db: ReadModelDb) => ({
  jobs: db.prepare('SELECT * FROM jobs ORDER BY id').all(),
  counts: db.prepare('SELECT * FROM job_counts ORDER BY owner, status').all(),
  batches: db.prepare('SELECT * FROM batches ORDER BY id').all(),
  batchCounts: db.prepare('SELECT * FROM batch_job_counts ORDER BY batch_id, status').all(),
  checkpoint: db.prepare('SELECT * FROM projection_checkpoints').all(),
});

describe(`production topology: PostgreSQL-backed Temporal, 1 store owner + ${WORKERS} workers`, () => {
  it(
    `${JOBS} jobs and a ${BATCH}-job batch through a worker SIGKILL, a Temporal restart and a store-owner restart`,
    { timeout: TIMEOUT_MS + 600_000 },
    async () => {
      try {
        await run();
      } catch (error) {
        failed = true;
        throw error;
      }
    },
  );
});

async function run() {
  const e = engine!;
  const api = (method: string, url: string, body?: unknown, headers?: Record<string, string>) =>
    apiCall(e.apiUrl, method, url, body, { headers });
  // Controls wait for their workflow's Update; one not answered in CONTROL_TIMEOUT_MS counts as
  // outcome 0 (and the run goes on: the end state is what is checked).
  const controlCall = (method: string, url: string, body?: unknown) =>
    apiCall(e.apiUrl, method, url, body, { timeoutMs: CONTROL_TIMEOUT_MS });

  // ---- load ------------------------------------------------------------------------------------------
  const batch = await api('POST', '/batches', {
    name: 'topology batch',
    type: 'noop',
    items: Array.from({ length: BATCH }, () => ({})),
    concurrency: BATCH_CONCURRENCY,
  });
  expect(batch.status, JSON.stringify(batch.body)).toBe(201);
  const batchId: string = batch.body.batch_id;
  log(`batch ${batchId}: ${BATCH} noop jobs, concurrency ${BATCH_CONCURRENCY}`);

  const ids: string[] = new Array(JOBS);
  const controls: Promise<void>[] = [];
  const outcomes: Record<string, Record<number, number>> = {};
  const count = (action: string, status: number) => {
    outcomes[action] ??= {};
    outcomes[action][status] = (outcomes[action][status] ?? 0) + 1;
  };
  const cancelled = new Set<string>();
  /** Cancels not confirmed: answered 202 (sent, not taken within the engine's CONTROL_WAIT_MS) or not
   * answered in CONTROL_TIMEOUT_MS. Taken or not (the job may complete first), only its end state tells. */
  const cancelUnanswered = new Set<string>();
  const control = async (id: string, i: number) => {
    await sleep(200 + (i % 7) * 150);
    if (i % 20 === 0) {
      const r = await controlCall('POST', `/jobs/${id}/cancel`, { reason: 'topology test' });
      count('cancel', r.status);
      if (r.status === 200) cancelled.add(id);
      if (r.status === 0 || r.status === 202) cancelUnanswered.add(id);
    } else if (i % 20 === 7) {
      const p = await controlCall('POST', `/jobs/${id}/pause`, { reason: 'topology test' });
      count('pause', p.status);
      await sleep(2000);
      // Resumed even when the pause was refused: a pause that failed on the client but took effect
      // (a request cut by the owner's restart) must not leave the job paused.
      const r = await controlCall('POST', `/jobs/${id}/resume`);
      count('resume', r.status);
    } else if (i % 10 === 3) {
      const r = await controlCall('PUT', `/jobs/${id}/priority`, { priority: 4, reason: 'topology test' });
      count('reprioritize', r.status);
    }
  };
  let submitted = 0;
  const submitting = pool(
    Array.from({ length: JOBS }, (_, i) => i),
    SUBMITTERS,
    async (i) => {
      const r = await api(
        'POST',
        '/jobs/submit',
        { name: `topology-${i}`, type: 'sleep', input: { steps: 3, step_ms: STEP_MS }, priority: 1 + (i % 4) },
        { 'Idempotency-Key': `topology-${i}` },
      );
      expect([200, 201, 202], JSON.stringify(r.body)).toContain(r.status);
      ids[i] = r.body.job_id;
      submitted++;
      controls.push(control(r.body.job_id, i));
    },
  );

  // ---- progress and faults -----------------------------------------------------------------------------
  const faults: Record<string, unknown> = {};
  const doneOf = (s: any) => FINAL.reduce((n, k) => n + (s[k] ?? 0), 0);
  let last = { at: Date.now(), done: 0 };
  let stats: any = {};
  // Its own poll: a fault step below may take a while, the progress lines go on meanwhile.
  const progress = setInterval(async () => {
    const fresh = await api('GET', '/jobs/stats').catch(() => undefined);
    if (fresh?.status === 200) stats = fresh.body;
    const done = doneOf(stats);
    const rate = (done - last.done) / ((Date.now() - last.at) / 1000);
    last = { at: Date.now(), done };
    log(
      `${done}/${TOTAL} finished (${rate.toFixed(1)}/s) · submitted ${submitted}/${JOBS} · ` +
        `pending ${stats.pending ?? 0} running ${stats.running ?? 0} paused ${stats.paused ?? 0} ` +
        `completed ${stats.completed ?? 0} cancelled ${stats.cancelled ?? 0} failed ${stats.failed ?? 0}`,
    );
  }, 10_000);
  const background: Promise<unknown>[] = [];
  async function batchControls() {
    const started = Date.now();
    const p = await controlCall('POST', `/batches/${batchId}/pause`, { reason: 'topology test' });
    count('batch pause', p.status);
    await sleep(5000);
    const r = await controlCall('POST', `/batches/${batchId}/resume`);
    count('batch resume', r.status);
    const q = await controlCall('PUT', `/batches/${batchId}/priority`, { priority: 3 });
    count('batch reprioritize', q.status);
    faults['batch controls'] = { ms: Date.now() - started };
  }
  const plan: { at: number; name: string; run: () => Promise<unknown> }[] = [
    {
      at: 0.1,
      name: 'batch pause/resume/reprioritize (in the background)',
      run: async () => {
        background.push(batchControls().then(() => (backgroundDone = true)));
        return {};
      },
    },
    {
      at: 0.2,
      name: 'worker1 SIGKILL',
      run: async () => {
        const stopped = await e.workers[0].stop('SIGKILL');
        await sleep(5000); // compose: `restart: unless-stopped` brings it back
        return { ...stopped, startMs: await e.workers[0].start() };
      },
    },
    { at: 0.4, name: 'Temporal server restart', run: () => cluster!.temporal.restart() },
    { at: 0.6, name: 'store owner restart', run: () => e.owner.restart('SIGTERM') },
  ];
  const deadline = Date.now() + TIMEOUT_MS;
  let batchRow: any;
  let controlsDone = false;
  let backgroundDone = false;
  let lastSweep = 0;
  void submitting.then(() => Promise.all(controls)).then(() => (controlsDone = true));
  try {
    for (;;) {
      const s = await api('GET', '/jobs/stats');
      expect(s.status).toBe(200);
      stats = s.body;
      const done = doneOf(stats);
      while (plan.length > 0 && done >= plan[0].at * TOTAL) {
        const step = plan.shift()!;
        log(`fault/control at ${done}/${TOTAL}: ${step.name}`);
        const started = Date.now();
        faults[step.name] = { at: done, ...((await step.run()) as object), totalMs: Date.now() - started };
        log(`  ${step.name}: ${JSON.stringify(faults[step.name])}`);
      }
      // A pause whose answer timed out may land after its resume: resume what is still paused once
      // every control was sent (what an operator would do), so the run can end.
      if (controlsDone && backgroundDone && (stats.paused ?? 0) > 0 && Date.now() - lastSweep > 30_000) {
        lastSweep = Date.now();
        const paused = await api('GET', '/jobs/list?status=paused&limit=1000');
        for (const job of paused.body as { id: string }[])
          count('late resume', (await controlCall('POST', `/jobs/${job.id}/resume`)).status);
      }
      if (submitted === JOBS && stats.total_jobs === TOTAL && done === TOTAL) {
        batchRow = (await api('GET', `/batches/${batchId}`)).body;
        if (FINAL.includes(batchRow.status)) break;
      }
      if (Date.now() > deadline) throw new Error(`not finished after ${TIMEOUT_MS / 60_000} min: ${JSON.stringify(stats)}`);
      await sleep(2000);
    }
  } finally {
    clearInterval(progress);
  }
  await submitting;
  await Promise.all(controls);
  await Promise.all(background);
  const seconds = (Date.now() - t0) / 1000;
  log(`all ${TOTAL} jobs finished; stats ${JSON.stringify(stats)}; batch ${batchRow.status}`);
  log(`control outcomes: ${JSON.stringify(outcomes)}`);
  expect(
    plan.map((p) => p.name),
    'every fault was injected',
  ).toEqual([]);

  // Let the projector catch up, then read what the last owner counted.
  let metrics = '';
  for (let i = 0; i < 60; i++) {
    metrics = (await apiCall(e.baseUrl, 'GET', '/metrics')).body as string;
    if (metricSamples(metrics, 'projector_lag_events')[''] === 0) break;
    await sleep(500);
  }
  expect(metricSamples(metrics, 'projector_lag_events')['']).toBe(0);
  const appendFailures = metricSamples(metrics, 'eventstore_append_failures_total');
  const appendedTotal = metricSamples(metrics, 'eventstore_last_position')[''];

  // ---- stop everything and read the files --------------------------------------------------------------
  const ownerExit = e.owner.stop('SIGTERM');
  await Promise.all(e.workers.map((w) => w.stop('SIGTERM')));
  expect((await ownerExit).code, 'the store owner stops cleanly').toBe(0);

  // Every job terminal; the cancelled ones cancelled, all others completed.
  const live = openReadModelDb(path.join(dataDir, 'readmodel.db'));
  const store = openEventStore(path.join(dataDir, 'events.db'), { readonly: true });
  try {
    const byStatus = Object.fromEntries(
      live
        .prepare<[], { status: string; n: number }>('SELECT status, COUNT(*) AS n FROM jobs GROUP BY status')
        .all()
        .map((r) => [r.status, r.n]),
    );
    log(`read model: ${JSON.stringify(byStatus)}`);
    expect(Object.values(byStatus).reduce((a, b) => a + b, 0)).toBe(TOTAL);
    // Every job completed but those cancelled: each cancel answered 200, and any unanswered one that
    // took effect all the same; no other job.
    const single = live.prepare<[string], { status: string }>('SELECT status FROM jobs WHERE id = ?');
    const lateCancels = [...cancelUnanswered].filter((id) => single.get(id)?.status === 'cancelled').length;
    log(`cancels: ${cancelled.size} answered 200, ${cancelUnanswered.size} not confirmed (${lateCancels} of them took effect)`);
    expect(byStatus).toEqual({
      completed: TOTAL - cancelled.size - lateCancels,
      ...(cancelled.size + lateCancels ? { cancelled: cancelled.size + lateCancels } : {}),
    });
    for (const id of ids) {
      const expected = cancelled.has(id) ? ['cancelled'] : cancelUnanswered.has(id) ? ['cancelled', 'completed'] : ['completed'];
      expect(expected, id).toContain(single.get(id)?.status);
    }
    expect(batchRow.status).toBe('completed');
    expect(live.prepare('SELECT COUNT(*) FROM jobs WHERE batch_id = ? AND status = ?').pluck().get(batchId, 'completed')).toBe(
      BATCH,
    );
    expect(cancelled.size + lateCancels, 'some cancels took effect').toBeGreaterThan(0);

    // Every stream gapless in log order; one JobSubmitted and one end per job; nothing forked.
    const versions = new Map<string, number>();
    const gaps: string[] = [];
    const forks: string[] = [];
    const perJob = new Map<string, { submitted: number; ends: number }>();
    // Jobs a pause or a priority change reached (whether its answer was 200, or 202 and taken later).
    const pausedJobs = new Set<string>();
    const reprioritizedJobs = new Set<string>();
    let events = 0;
    for (const event of store.scanAll()) {
      events++;
      const expected = (versions.get(event.streamId) ?? 0) + 1;
      if (event.streamVersion !== expected) gaps.push(`${event.streamId}: v${event.streamVersion} where v${expected} was due`);
      versions.set(event.streamId, event.streamVersion);
      if (event.metadata.forkOf !== undefined) forks.push(`${event.streamId} ${event.type}`);
      if (event.type === 'JobPaused') pausedJobs.add(event.streamId);
      if (event.type === 'JobReprioritized') reprioritizedJobs.add(event.streamId);
      if (event.type.startsWith('Job')) {
        const j = perJob.get(event.streamId) ?? { submitted: 0, ends: 0 };
        if (event.type === 'JobSubmitted') j.submitted++;
        if (event.type === 'JobCompleted' || event.type === 'JobCancelled' || event.type === 'JobFailed') j.ends++;
        perJob.set(event.streamId, j);
      }
    }
    log(`event log: ${events} events in ${versions.size} streams`);
    expect(pausedJobs.size, 'some pauses took effect').toBeGreaterThan(0);
    // (Of the single jobs: the batch's reprioritize reaches the batch's jobs.)
    const singleIds = new Set(ids);
    const reprioritizedSingles = [...reprioritizedJobs].filter((id) => singleIds.has(id)).length;
    expect(reprioritizedSingles, 'some reprioritizations took effect').toBeGreaterThan(0);
    // The batch controls took effect: each one answered 200 is in the batch's stream; with a batch of
    // 10+ windows (the defaults) the pause and the resume must have landed whatever their HTTP answers
    // were (a smaller batch may finish while paused: its running jobs end before the pause reaches them,
    // and the resume is then refused with 409).
    const batchTypes = store.readStream(batchId).map((ev) => ev.type);
    expect(batchTypes.at(-1)).toBe('BatchCompleted');
    const effects = { 'batch pause': 'BatchPaused', 'batch resume': 'BatchResumed', 'batch reprioritize': 'BatchReprioritized' };
    for (const [action, type] of Object.entries(effects)) {
      const mustLand = outcomes[action]?.[200] || (BATCH >= 10 * BATCH_CONCURRENCY && action !== 'batch reprioritize');
      if (mustLand) expect(batchTypes, `${type} in the batch's stream`).toContain(type);
    }
    expect(gaps.slice(0, 20)).toEqual([]);
    expect(forks.slice(0, 20)).toEqual([]);
    expect(perJob.size).toBe(TOTAL);
    const odd = [...perJob].filter(([, j]) => j.submitted !== 1 || j.ends !== 1);
    expect(odd.slice(0, 20)).toEqual([]);

    // No event id conflict anywhere: logs of every process and run, and the last owner's metric.
    const conflicts = e.grepLogs(/event id conflict|EventIdConflict/i);
    expect(conflicts.slice(0, 20)).toEqual([]);
    expect(Object.keys(appendFailures).filter((k) => k.includes('EventIdConflict'))).toEqual([]);
    const appendErrors = e.grepLogs(/appendEvents failing/);

    // The read model equals a rebuild from the log.
    const rebuiltPath = path.join(dataDir, 'rebuilt.db');
    const rebuild = await rebuildReadModel(store, rebuiltPath);
    const rebuilt = openReadModelDb(rebuiltPath);
    try {
      const expected = dump(live);
      expect(expected.jobs).toHaveLength(TOTAL);
      expect(dump(rebuilt)).toEqual(expected);
    } finally {
      rebuilt.close();
    }

    const summary = {
      jobs: JOBS,
      batch: BATCH,
      workers: WORKERS,
      seconds: Math.round(seconds),
      jobsPerSec: Math.round((TOTAL / seconds) * 10) / 10,
      events,
      appendedTotal,
      rebuildMs: Math.round(rebuild.ms),
      faults,
      outcomes,
      appendFailures,
      appendErrorLines: appendErrors.length,
      errorLines: e.grepLogs(/\bERROR\b/).length,
    };
    log(`TOPOLOGY_JSON ${JSON.stringify(summary)}`);
  } finally {
    store.close();
    live.close();
  }
}
