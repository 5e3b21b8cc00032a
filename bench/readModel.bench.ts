/**
 * The read model at scale: fill an event store with N jobs' streams, rebuild the read model from it,
 * then measure the API's GET queries on the rebuilt model (in-process, and directly against
 * JobReadModel), the served app's requests/s under concurrent load, and an online rebuild
 * (POST /admin/read-model/rebuild) under reads and appends. The rebuild is judged against the floor
 * measured in the same run (SQLite alone doing the work a rebuild cannot avoid): ratio ≤ 1.5.
 *
 *   npx tsx bench/readModel.bench.ts            (npm run bench:readmodel)
 *
 * Environment (all optional):
 *   BENCH_JOBS=1000000        jobs to generate (about 4.2 events each); e.g. 50000 for a quick run
 *   BENCH_REBUILD_THREADS=    worker threads of the rebuilds (default: one per core)
 *   BENCH_ONLINE_BASELINE_S=3 seconds of the same reads without a rebuild, before the online one
 *   BENCH_FILL=auto           auto | api | sql: how the log is filled (see bench/support/fill.ts)
 *   BENCH_FILL_API_BUDGET_S=60  auto: the longest the store API may take for all jobs before SQL is used
 *   BENCH_REQUESTS=2000       requests per query scenario
 *   BENCH_LOAD_SECONDS=5      measured seconds of each load run (after 0.5 s of warm-up)
 *   BENCH_CONCURRENCY=16      concurrent clients of the load runs
 *   BENCH_LOAD_CLIENTS=fetch,http  load runs: Node's fetch, and/or node:http with a keep-alive agent
 *   BENCH_KEEP=1              keep the temp directory (its location goes to stderr)
 *
 * The fill and the rebuild run in a worker thread (bench/support/prepareWorker.ts), so their garbage
 * is gone before the queries are timed on the main thread; GC pauses during each query scenario are
 * reported next to its latencies. Everything lives in a fresh temp directory, removed at the end.
 * Prints tables, then one `BENCH_JSON {...}` line. Progress goes to stderr.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApp } from '../src/api/app.js';
import type { ApiDeps } from '../src/api/context.js';
import type { JobCommands } from '../src/commands/jobCommands.js';
import { openEventStore, type EventStore } from '../src/eventstore/index.js';
import { JobReadModel, type JobListFilter } from '../src/projections/jobReadModel.js';
import { openReadModelDb, type ReadModelDb } from '../src/projections/readModelDb.js';
import { ReadModelHolder } from '../src/projections/readModelHolder.js';
import { ReadModelRebuilder } from '../src/projections/onlineRebuild.js';
import { Projector } from '../src/projections/projector.js';
import { readModelProjections } from '../src/projections/readModelProjections.js';
import { measureOnlineRebuild, type OnlineRebuildFigures } from './support/onlineRebuild.js';
import type { FillMode } from './support/fill.js';
import { JOB_TYPES, OWNERS } from './support/jobEvents.js';
import { runLoad, type LoadResult } from './support/load.js';
import type { LoadClient } from './support/loadWorker.js';
import {
  GcMonitor,
  Progress,
  fmtInt,
  fmtMs,
  formatTable,
  round3,
  summarize,
  type GcFigures,
  type LatencySummary,
} from './support/stats.js';
import type { PrepareInput, PrepareOutput } from './support/prepareWorker.js';
import { runBenchThread } from './support/benchThread.js';

// ---- settings ----------------------------------------------------------------------------------

const intEnv = (name: string, fallback: number, min = 1): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
};

const JOBS = intEnv('BENCH_JOBS', 1_000_000);
const REQUESTS = intEnv('BENCH_REQUESTS', 2000);
const LOAD_SECONDS = intEnv('BENCH_LOAD_SECONDS', 5);
const CONCURRENCY = intEnv('BENCH_CONCURRENCY', 16);
const FILL_API_BUDGET_S = intEnv('BENCH_FILL_API_BUDGET_S', 60);
const FILL_MODE = (process.env.BENCH_FILL || 'auto') as FillMode;
if (!['auto', 'api', 'sql'].includes(FILL_MODE)) throw new Error(`BENCH_FILL must be auto, api or sql, got ${FILL_MODE}`);
const LOAD_CLIENTS = (process.env.BENCH_LOAD_CLIENTS ?? 'fetch,http').split(',').filter(Boolean) as LoadClient[];
for (const c of LOAD_CLIENTS) if (c !== 'fetch' && c !== 'http') throw new Error(`BENCH_LOAD_CLIENTS: unknown client ${c}`);
const KEEP = process.env.BENCH_KEEP === '1';
const WARMUP_REQUESTS = Math.min(200, REQUESTS);
const PAGE = 50;

const REBUILD_THREADS = process.env.BENCH_REBUILD_THREADS ? intEnv('BENCH_REBUILD_THREADS', 2, 0) : undefined;
const ONLINE_BASELINE_S = intEnv('BENCH_ONLINE_BASELINE_S', 3);
/** Rebuild time / floor time (issue 14). */
const TARGETS = { rebuildRatio: 1.5, listP99Ms: 10, statsP99Ms: 2 } as const;
/** The non-admin caller of the owner-scoped scenario (a mid-sized owner). */
const BENCH_USER = OWNERS[6]!;

const BENCH_STARTED_AT = Date.now();
const progress = new Progress(BENCH_STARTED_AT);
const LOAD_AT_START = os.loadavg()[0]!;
const benchStarted = performance.now();

// ---- measuring ---------------------------------------------------------------------------------

const gcMonitor = new GcMonitor();

interface HttpFigures extends LatencySummary {
  /** Mean response body size. */
  bytes: number;
  /** GC pauses during the measured requests. */
  gc: GcFigures;
}

async function measureHttp(
  fetchApp: (path: string) => Promise<Response>,
  label: string,
  pathOf: (i: number) => string,
): Promise<HttpFigures> {
  const latencies = new Float64Array(REQUESTS);
  let bytes = 0;
  let measuredFrom = 0;
  for (let i = -WARMUP_REQUESTS; i < REQUESTS; i++) {
    if (i === 0) measuredFrom = performance.now();
    const p = pathOf(i + WARMUP_REQUESTS);
    const t0 = performance.now();
    const response = await fetchApp(p);
    const body = await response.text();
    const t1 = performance.now();
    if (response.status !== 200) throw new Error(`${label}: GET ${p} answered ${response.status}: ${body.slice(0, 300)}`);
    if (i >= 0) {
      latencies[i] = t1 - t0;
      bytes += body.length;
    }
    if ((i & 127) === 0) progress.line(`queries: ${label} (http) ${Math.max(0, i)}/${REQUESTS}`);
  }
  const gc = await gcMonitor.between(measuredFrom, performance.now());
  return { ...summarize(latencies), bytes: Math.round(bytes / REQUESTS), gc };
}

function measureDirect(label: string, call: (i: number) => unknown): LatencySummary {
  const latencies = new Float64Array(REQUESTS);
  for (let i = -WARMUP_REQUESTS; i < REQUESTS; i++) {
    const t0 = performance.now();
    call(i + WARMUP_REQUESTS);
    const t1 = performance.now();
    if (i >= 0) latencies[i] = t1 - t0;
    if ((i & 127) === 0) progress.line(`queries: ${label} (direct) ${Math.max(0, i)}/${REQUESTS}`);
  }
  return summarize(latencies);
}

/**
 * The SQL JobReadModel really runs for a call (it builds list queries per filter), captured through a
 * recording wrapper of the connection, with its parameters, for EXPLAIN QUERY PLAN.
 */
function explainQueries(db: ReadModelDb, call: (readModel: JobReadModel) => unknown): { sql: string; plan: string[] }[] {
  const executed: { sql: string; params: unknown[] }[] = [];
  const recordingDb = new Proxy(db, {
    get(target, prop) {
      if (prop === 'prepare') {
        return (sql: string) => {
          const statement = target.prepare(sql);
          return new Proxy(statement, {
            get(st, p) {
              const value = Reflect.get(st, p, st);
              if (p === 'all' || p === 'get' || p === 'iterate') {
                return (...params: unknown[]) => {
                  executed.push({ sql, params });
                  return (value as (...a: unknown[]) => unknown).apply(st, params);
                };
              }
              return typeof value === 'function' ? value.bind(st) : value;
            },
          });
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  call(new JobReadModel(recordingDb));
  return executed.map(({ sql, params }) => {
    const rows = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...(params as [])) as {
      id: number;
      parent: number;
      detail: string;
    }[];
    const depth = new Map<number, number>([[0, 0]]);
    const plan = rows.map((r) => {
      const d = (depth.get(r.parent) ?? 0) + 1;
      depth.set(r.id, d);
      return `${'  '.repeat(d - 1)}${r.detail}`;
    });
    return { sql: sql.replace(/\s+/g, ' ').trim(), plan };
  });
}

/** Runs ./support/prepareWorker.ts: fills the event store, rebuilds the read model, closes both. */
async function prepare(input: PrepareInput): Promise<PrepareOutput> {
  return runBenchThread<PrepareInput, PrepareOutput>(new URL('./support/prepareWorker.ts', import.meta.url), input, {
    name: 'prepare worker',
  });
}

// ---- the run -----------------------------------------------------------------------------------

interface QueryScenario {
  name: string;
  kind: 'list' | 'stats' | 'get';
  /** Load-test share of this scenario (0 = not part of the mix). */
  mix: number;
  http: (i: number) => string;
  /** Through the admin app, or the one whose caller is the non-admin BENCH_USER. */
  asUser?: boolean;
  direct: (readModel: JobReadModel, i: number) => unknown;
  /** The call whose SQL is explained. */
  explain?: (readModel: JobReadModel) => unknown;
}

interface QueryResult {
  name: string;
  kind: QueryScenario['kind'];
  http: HttpFigures;
  direct: LatencySummary;
  /** Mean HTTP latency minus mean direct latency: routing, validation, JSON, Response. */
  httpOverheadMeanMs: number;
  targetP99Ms: number | null;
  meetsTarget: boolean | null;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'readmodel-bench-'));
  if (KEEP) process.stderr.write(`[bench] files are kept in ${dir}\n`);
  const eventsFile = path.join(dir, 'events.db');
  const readModelFile = path.join(dir, 'readmodel.db');
  let store: EventStore | undefined;
  let db: ReadModelDb | undefined;
  let holder: ReadModelHolder | undefined;
  let projector: Projector | undefined;
  try {
    // 1. fill and 2. rebuild, in a worker thread (its heap is gone before the queries run)
    const prepared = await prepare({
      eventsFile,
      readModelFile,
      startedAt: BENCH_STARTED_AT,
      rebuildThreads: REBUILD_THREADS,
      fill: { jobs: JOBS, mode: FILL_MODE, apiBudgetS: FILL_API_BUDGET_S, apiSampleJobs: 20_000, apiSampleS: 3, sampleIds: 5000 },
    });
    const { fill, eventsBytes, rebuild, rebuildEventsPerSec, rebuildGc, cpuMs, rebuildFloor, readModelBytes } = prepared;

    store = openEventStore(eventsFile);
    db = openReadModelDb(readModelFile);
    // Through a holder, as in the engine: the online rebuild at the end swaps it.
    holder = new ReadModelHolder(db);
    const readModel = new JobReadModel(holder);
    const counts = readModel.countByStatus();
    const consistent = rebuild.jobs === fill.jobs && Object.entries(fill.byStatus).every(([status, n]) => counts[status] === n);
    if (!consistent) {
      throw new Error(
        `rebuilt read model disagrees with the generated jobs: ${JSON.stringify({ jobs: rebuild.jobs, counts, generated: fill.byStatus })}`,
      );
    }

    // 3. queries
    const commands = new Proxy({} as JobCommands, {
      get: (_target, name) => () => {
        throw new Error(`bench: commands.${String(name)} is not available (GET routes only)`);
      },
    });
    projector = new Projector(store, holder, readModelProjections(), { idleWaitMs: 50 });
    projector.start();
    const rebuilder = new ReadModelRebuilder({
      store,
      holder,
      projector,
      readModelPath: readModelFile,
      threads: REBUILD_THREADS,
    });
    const deps: ApiDeps = {
      readModel,
      commands,
      events: store,
      workers: async () => ({ active: 1, total: 1 }),
      readModelRebuild: rebuilder,
    };
    const adminApp = createApp(deps);
    const userApp = createApp(deps, { authenticate: () => ({ id: BENCH_USER, role: 'user' }) });

    const typeOf = (i: number) => JOB_TYPES[i % JOB_TYPES.length]!;
    const ids = fill.sampleIds;
    // Page 2 of each type's list: the cursor is the X-Next-Cursor header of page 1.
    const cursors: string[] = [];
    for (const type of JOB_TYPES) {
      const response = await adminApp.request(`/api/v1/jobs/list?type=${type}&priority=3&limit=${PAGE}`);
      await response.text();
      const cursor = response.headers.get('x-next-cursor');
      if (!cursor) throw new Error(`no X-Next-Cursor on page 1 of type=${type}&priority=3`);
      cursors.push(cursor);
    }

    const scenarios: QueryScenario[] = [
      {
        name: 'list (no filter)',
        kind: 'list',
        mix: 0.1,
        http: () => `/api/v1/jobs/list?limit=${PAGE}`,
        direct: (rm) => rm.listJobs({ limit: PAGE }),
        explain: (rm) => rm.listJobs({ limit: PAGE }),
      },
      {
        name: 'list status=failed',
        kind: 'list',
        mix: 0.15,
        http: () => `/api/v1/jobs/list?status=failed&limit=${PAGE}`,
        direct: (rm) => rm.listJobs({ status: 'failed', limit: PAGE }),
        explain: (rm) => rm.listJobs({ status: 'failed', limit: PAGE }),
      },
      {
        name: 'list type=X&priority=3',
        kind: 'list',
        mix: 0.15,
        http: (i) => `/api/v1/jobs/list?type=${typeOf(i)}&priority=3&limit=${PAGE}`,
        direct: (rm, i) => rm.listJobs({ type: typeOf(i), priority: 3, limit: PAGE }),
        explain: (rm) => rm.listJobs({ type: 'flaky', priority: 3, limit: PAGE }),
      },
      {
        name: 'list type=X&priority=3 page 2 (cursor)',
        kind: 'list',
        mix: 0.1,
        http: (i) =>
          `/api/v1/jobs/list?type=${typeOf(i)}&priority=3&limit=${PAGE}&cursor=${encodeURIComponent(cursors[i % cursors.length]!)}`,
        direct: (rm, i) => rm.listJobs({ type: typeOf(i), priority: 3, limit: PAGE, cursor: cursors[i % cursors.length]! }),
        explain: (rm) => rm.listJobs({ type: typeOf(2), priority: 3, limit: PAGE, cursor: cursors[2]! }),
      },
      {
        name: `list status=failed as user ${BENCH_USER}`,
        kind: 'list',
        mix: 0.1,
        asUser: true,
        http: () => `/api/v1/jobs/list?status=failed&limit=${PAGE}`,
        direct: (rm) => rm.listJobs({ owner: BENCH_USER, status: 'failed', limit: PAGE } satisfies JobListFilter),
        explain: (rm) => rm.listJobs({ owner: BENCH_USER, status: 'failed', limit: PAGE }),
      },
      {
        name: 'stats',
        kind: 'stats',
        mix: 0.15,
        http: () => '/api/v1/jobs/stats',
        direct: (rm) => rm.countByStatus(),
        explain: (rm) => rm.countByStatus(),
      },
      {
        name: 'get /jobs/{id}',
        kind: 'get',
        mix: 0.25,
        http: (i) => `/api/v1/jobs/${ids[i % ids.length]!}`,
        direct: (rm, i) => rm.getJob(ids[i % ids.length]!),
        explain: (rm) => rm.getJob(ids[0]!),
      },
    ];

    const queries: QueryResult[] = [];
    for (const s of scenarios) {
      const app = s.asUser ? userApp : adminApp;
      const http = await measureHttp((p) => Promise.resolve(app.request(p)), s.name, s.http);
      const direct = measureDirect(s.name, (i) => s.direct(readModel, i));
      const targetP99Ms = s.kind === 'list' ? TARGETS.listP99Ms : s.kind === 'stats' ? TARGETS.statsP99Ms : null;
      queries.push({
        name: s.name,
        kind: s.kind,
        http,
        direct,
        httpOverheadMeanMs: round3(http.meanMs - direct.meanMs),
        targetP99Ms,
        meetsTarget: targetP99Ms === null ? null : http.p99Ms <= targetP99Ms,
      });
      progress.line(`queries: ${s.name}: http p99 ${http.p99Ms} ms, direct p99 ${direct.p99Ms} ms`, true);
    }
    const plans = scenarios.map((s) => ({ name: s.name, queries: s.explain ? explainQueries(db!, s.explain) : [] }));

    // 4. throughput under load: a fixed cycle of paths in the mix's proportions (admin caller).
    const loadRequests: { kind: string; path: string }[] = [];
    const cycle = 2000;
    for (const s of scenarios.filter((x) => x.mix > 0 && !x.asUser)) {
      const n = Math.round(cycle * s.mix);
      for (let i = 0; i < n; i++) loadRequests.push({ kind: s.name, path: s.http(i) });
    }
    // Interleave the kinds so every client sees the whole mix.
    const shuffled = loadRequests
      .map((r, i) => ({ r, key: (i * 2654435761) % 4294967291 }))
      .sort((a, b) => a.key - b.key)
      .map((x) => x.r);
    const loads: LoadResult[] = [];
    for (const client of LOAD_CLIENTS) {
      progress.line(`load: ${CONCURRENCY} ${client} clients for ${LOAD_SECONDS} s`, true);
      const result = await runLoad(adminApp.fetch, {
        client,
        concurrency: CONCURRENCY,
        durationMs: LOAD_SECONDS * 1000,
        warmupMs: 500,
        requests: shuffled,
      });
      if (result.errors > 0) throw new Error(`load (${client}): ${result.errors} failed requests, first: ${result.firstError}`);
      loads.push(result);
      progress.line(`load: ${client}: ${result.requestsPerSec} req/s, p99 ${result.all.p99Ms} ms`, true);
    }

    // 5. online rebuild: reads (the load mix, in-process) and appends go on; the swap's pause shows in the tail
    const online = await measureOnlineRebuild({
      request: (p, init) => Promise.resolve(adminApp.request(p, init)),
      store,
      paths: shuffled.map((r) => r.path),
      concurrency: CONCURRENCY,
      baselineMs: ONLINE_BASELINE_S * 1000,
      appendsPerSec: 200,
      progress,
    });
    progress.line(
      `online rebuild: ${online.during.n} requests served during it (${online.during.failed} failed), p99 ${online.during.p99Ms} ms, swap pause ${online.rebuild.swap_pause_ms} ms`,
      true,
    );
    if (online.during.failed > 0) throw new Error(`online rebuild: ${online.during.failed} requests failed`);

    // 6. report
    const floorMs = rebuildFloor.scanMs + rebuildFloor.writeMs + rebuildFloor.indexMs;
    const rebuildRatio = round3(rebuild.ms / floorMs);
    const elapsedS = round3((performance.now() - benchStarted) / 1000);
    printReport({
      fill,
      eventsBytes,
      rebuild,
      rebuildEventsPerSec,
      rebuildGc,
      cpuMs,
      rebuildFloor,
      readModelBytes,
      queries,
      plans,
      loads,
      online,
      floorMs,
      rebuildRatio,
      elapsedS,
    });
    const misses = queries.filter((q) => q.meetsTarget === false).map((q) => q.name);
    const summary = {
      bench: 'readmodel',
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? null,
        node: process.version,
        platform: `${os.platform()} ${os.release()}`,
        totalMemGiB: round3(os.totalmem() / 2 ** 30),
        // 1-minute load average just before the run (other work on the machine; the run itself adds ~2).
        loadAvgBefore: round3(LOAD_AT_START),
      },
      settings: {
        jobs: JOBS,
        fillMode: FILL_MODE,
        requestsPerScenario: REQUESTS,
        pageSize: PAGE,
        loadSeconds: LOAD_SECONDS,
        concurrency: CONCURRENCY,
      },
      fill: { ...fill, sampleIds: undefined, eventsPerJob: round3(fill.events / fill.jobs), eventStoreBytes: eventsBytes },
      rebuild: {
        ...rebuild,
        eventsPerSec: rebuildEventsPerSec,
        gc: rebuildGc,
        cpuMs: cpuMs.rebuild,
        floor: { ...rebuildFloor, totalMs: floorMs, cpuMs: cpuMs.floor },
        ratioToFloor: rebuildRatio,
        readModelBytes,
        targetRatio: TARGETS.rebuildRatio,
        meetsTarget: rebuildRatio <= TARGETS.rebuildRatio,
      },
      onlineRebuild: online,
      queries,
      load: loads,
      plans,
      targets: { ...TARGETS, queryMisses: misses, rebuildMiss: rebuildRatio > TARGETS.rebuildRatio },
      elapsedS,
    };
    process.stdout.write(`BENCH_JSON ${JSON.stringify(summary)}\n`);
  } finally {
    gcMonitor.stop();
    await projector?.stop();
    // The holder's connection: the online rebuild replaced the one opened above (and closed it).
    if (holder) holder.db.close();
    else db?.close();
    store?.close();
    if (!KEEP) fs.rmSync(dir, { recursive: true, force: true });
  }
}

function printReport(
  r: PrepareOutput & {
    queries: QueryResult[];
    plans: { name: string; queries: { sql: string; plan: string[] }[] }[];
    loads: LoadResult[];
    online: OnlineRebuildFigures;
    floorMs: number;
    rebuildRatio: number;
    elapsedS: number;
  },
): void {
  const out: string[] = [];
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const f = r.fill;
  out.push('', `Read model benchmark — ${fmtInt(f.jobs)} jobs, ${os.cpus().length} CPUs, Node ${process.version}`, '');

  const fillRows: string[][] = [];
  const fillRow = (label: string, p: { jobs: number; events: number; ms: number; jobsPerSec: number; eventsPerSec: number }) =>
    fillRows.push([label, fmtInt(p.jobs), fmtInt(p.events), fmtInt(p.ms), fmtInt(p.jobsPerSec), fmtInt(p.eventsPerSec)]);
  if (f.api) fillRow('fill: store.appendToStream, 1 call per job', f.api);
  if (f.sql) fillRow('fill: SQL INSERT, 10k jobs per transaction', f.sql);
  fillRow(`fill: total (${f.mode})`, {
    jobs: f.jobs,
    events: f.events,
    ms: f.ms,
    jobsPerSec: f.jobs / (f.ms / 1000),
    eventsPerSec: f.events / (f.ms / 1000),
  });
  fillRows.push([
    'rebuildReadModel',
    fmtInt(r.rebuild.jobs),
    fmtInt(r.rebuild.events),
    fmtInt(r.rebuild.ms),
    fmtInt(r.rebuild.jobs / (r.rebuild.ms / 1000)),
    fmtInt(r.rebuildEventsPerSec),
  ]);
  out.push(formatTable(['phase', 'jobs', 'events', 'ms', 'jobs/s', 'events/s'], fillRows));
  out.push(
    '',
    `events/job ${(f.events / f.jobs).toFixed(2)}; generating + serializing: ${fmtInt(f.generateMs)} ms on the main thread (API part), ` +
      `${fmtInt(f.workerGenerateMs)} ms in the fill worker (SQL part, in parallel with the inserts)`,
    `event store ${mib(r.eventsBytes)}, read model ${mib(r.readModelBytes)}`,
    `statuses: ${Object.entries(f.byStatus)
      .sort((a, b) => b[1] - a[1])
      .map(([s, n]) => `${s} ${fmtInt(n)}`)
      .join(', ')}`,
  );
  if (f.api && f.sql && f.apiProjectedMs !== null) {
    out.push(
      `NOTE: the store API appended ${fmtInt(f.api.jobsPerSec)} jobs/s (one IMMEDIATE transaction per appendToStream call; the store`,
      `      has no way to group calls), ~${fmtInt(f.apiProjectedMs / 1000)} s for all jobs: the first ${fmtInt(f.api.jobs)} jobs went through the API,`,
      `      the rest as raw INSERTs of the store's own serialized rows into its events table (read back and checked).`,
    );
  }
  const meets = r.rebuildRatio <= TARGETS.rebuildRatio;
  out.push(
    '',
    `Rebuild (${r.rebuild.threads} worker threads) against its floor, same run:`,
    formatTable(
      ['jobs', 'events', 'floor ms', 'rebuild ms', 'ratio', 'goal', ''],
      [
        [
          fmtInt(r.rebuild.jobs),
          fmtInt(r.rebuild.events),
          fmtInt(r.floorMs),
          fmtInt(r.rebuild.ms),
          r.rebuildRatio.toFixed(2),
          `≤ ${TARGETS.rebuildRatio}`,
          meets ? 'met' : 'MISSED',
        ],
      ],
    ),
    `  phases: read + fold the log into ${r.rebuild.partitions} ranges ${fmtInt(r.rebuild.phases.foldMs)} ms, then the writer's last copies and the rest ${fmtInt(r.rebuild.phases.mergeMs)} ms;` +
      ` the writer copied rows + ${r.rebuildFloor.indexes} indexes for ${fmtInt(r.rebuild.phases.copyMs)} ms in all, mostly during the folds` +
      ` (GC of the bench's thread: ${fmtInt(r.rebuildGc.totalMs)} ms in ${fmtInt(r.rebuildGc.pauses)} pauses)`,
    `  floor (SQLite alone, no JavaScript, one thread): scan the log ${fmtInt(r.rebuildFloor.scanMs)} ms + copy the rows ${fmtInt(r.rebuildFloor.writeMs)} ms + ` +
      `build the indexes ${fmtInt(r.rebuildFloor.indexMs)} ms = ${fmtInt(r.floorMs)} ms`,
    `  not in the floor: reading + JSON-decoding every event's data in one JS thread takes ${fmtInt(r.rebuildFloor.decodeMs)} ms alone`,
    `  CPU (every thread): the rebuild ${fmtInt(r.cpuMs.rebuild)} ms (${(r.cpuMs.rebuild / r.rebuild.ms).toFixed(2)} cores on average, folding threads at nice ${r.rebuild.foldPriority ?? '—'}), ` +
      `the floor ${fmtInt(r.cpuMs.floor)} ms (with its decode)`,
    // With every core busy the rebuild cannot take less than its CPU spread over the cores: the
    // ratio that bound allows, whatever the overlap of its phases.
    `  the least this CPU allows on ${os.cpus().length} cores: ${fmtInt(r.cpuMs.rebuild / os.cpus().length)} ms, ` +
      `${(r.cpuMs.rebuild / os.cpus().length / r.floorMs).toFixed(2)}× the floor`,
    '',
  );
  const o = r.online;
  const onlineRow = (phase: string, f: OnlineRebuildFigures['baseline'], failed: string) => [
    phase,
    fmtInt(f.n),
    fmtInt(f.requestsPerSec),
    fmtMs(f.p50Ms),
    fmtMs(f.p99Ms),
    fmtMs(f.maxMs),
    failed,
  ];
  out.push(
    `Online rebuild (POST /admin/read-model/rebuild) under ${CONCURRENCY} in-process readers and ${fmtInt(o.appendedJobs)} jobs appended meanwhile:`,
    formatTable(
      ['phase', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'failed'],
      [onlineRow('no rebuild (baseline)', o.baseline, '-'), onlineRow('during the rebuild', o.during, fmtInt(o.during.failed))],
    ),
    `  build ${fmtInt(o.rebuild.build_ms ?? 0)} ms, tail ${fmtInt(o.rebuild.tail_events)} events caught up after it, swap pause ${fmtMs(o.rebuild.swap_pause_ms ?? 0)} ms`,
    '',
  );

  out.push(`Queries: ${fmtInt(REQUESTS)} requests each, sequential, in-process (app.request) and directly on JobReadModel; ms`);
  out.push(
    formatTable(
      [
        'scenario',
        'http p50',
        'http p99',
        'http mean',
        'direct p50',
        'direct p99',
        'direct mean',
        'http overhead',
        'body KiB',
        'GC pauses (major) / max ms',
        'target p99',
        '',
      ],
      r.queries.map((q) => [
        q.name,
        fmtMs(q.http.p50Ms),
        fmtMs(q.http.p99Ms),
        fmtMs(q.http.meanMs),
        fmtMs(q.direct.p50Ms),
        fmtMs(q.direct.p99Ms),
        fmtMs(q.direct.meanMs),
        fmtMs(q.httpOverheadMeanMs),
        (q.http.bytes / 1024).toFixed(1),
        `${q.http.gc.pauses} (${q.http.gc.major}) / ${fmtMs(q.http.gc.maxMs)}`,
        q.targetP99Ms === null ? '-' : `≤ ${q.targetP99Ms}`,
        q.meetsTarget === null ? '' : q.meetsTarget ? 'ok' : 'MISSED',
      ]),
    ),
    '',
  );

  for (const load of r.loads) {
    out.push(
      `Load: ${load.concurrency} concurrent ${load.client === 'fetch' ? 'fetch (keep-alive)' : 'node:http keep-alive agent'} clients in a worker thread, ${load.seconds} s on 127.0.0.1: ` +
        `${fmtInt(load.requestsPerSec)} req/s, server event loop busy ${(load.serverLoopUtilization * 100).toFixed(0)}%`,
    );
    out.push(
      formatTable(
        ['request', 'share', 'requests', 'p50 ms', 'p99 ms', 'mean ms'],
        [
          ['all', '1.00', fmtInt(load.all.n), fmtMs(load.all.p50Ms), fmtMs(load.all.p99Ms), fmtMs(load.all.meanMs)],
          ...Object.entries(load.byKind).map(([kind, s]) => [
            kind,
            s.share.toFixed(2),
            fmtInt(s.n),
            fmtMs(s.p50Ms),
            fmtMs(s.p99Ms),
            fmtMs(s.meanMs),
          ]),
        ],
      ),
      '',
    );
  }

  out.push('Query plans (EXPLAIN QUERY PLAN of the SQL JobReadModel runs):');
  for (const p of r.plans) {
    for (const q of p.queries) {
      out.push(`  ${p.name}:`, `    ${q.sql}`, ...q.plan.map((line) => `      ${line}`));
    }
  }
  out.push(
    '',
    `elapsed ${r.elapsedS.toFixed(1)} s; 1-minute load average before the run ${LOAD_AT_START.toFixed(2)} (${os.cpus().length} CPUs)`,
    '',
  );
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
