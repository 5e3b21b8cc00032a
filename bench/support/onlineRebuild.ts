/**
 * The online rebuild under reads and writes: concurrent in-process GET loops on the app (the same
 * event loop the rebuild's catch-up and swap run on, so their pauses show in the latencies) and a
 * trickle of appended jobs, first for a few seconds without a rebuild (the baseline of the same run),
 * then for as long as a POST /admin/read-model/rebuild takes.
 */
import { setImmediate, setTimeout as sleep } from 'node:timers/promises';
import type { EventStore } from '../../src/eventstore/index.js';
import { summarize, type LatencySummary, type Progress } from './stats.js';

export interface OnlineRebuildFigures {
  baseline: LatencySummary & { requestsPerSec: number };
  during: LatencySummary & { requestsPerSec: number; failed: number };
  /** Jobs appended during the rebuild (each two events). */
  appendedJobs: number;
  /** GET /admin/read-model/rebuild/{id} once it ended. */
  rebuild: RebuildResource;
}

interface RebuildResource {
  state: string;
  build_ms: number | null;
  events: number;
  jobs: number;
  tail_events: number;
  swap_pause_ms: number | null;
  error: string | null;
}

export interface OnlineRebuildBenchOptions {
  request: (path: string, init?: RequestInit) => Promise<Response>;
  store: EventStore;
  /** Paths the readers cycle through. */
  paths: string[];
  concurrency: number;
  baselineMs: number;
  /** Jobs appended per second during both phases. */
  appendsPerSec: number;
  progress: Progress;
}

export async function measureOnlineRebuild(options: OnlineRebuildBenchOptions): Promise<OnlineRebuildFigures> {
  const { request, store, paths, progress } = options;
  let appended = 0;
  const append = () => {
    const id = `bench_online_${appended++}`;
    const at = new Date().toISOString();
    store.appendToStream(id, [
      {
        eventId: `${id}:1`,
        type: 'JobSubmitted',
        data: { at, name: 'online', type: 'noop', input: {}, priority: 2, owner: 'user-01', totalSteps: 1, maxAttempts: 1 },
      },
      { eventId: `${id}:2`, type: 'JobStarted', data: { at, attempt: 1 } },
    ]);
  };

  /** Readers and a writer until `until` resolves; latencies of every request. */
  async function load(until: Promise<unknown>) {
    let running = true;
    void until.finally(() => (running = false));
    const latencies: number[] = [];
    let failed = 0;
    let firstFailure = '';
    const started = performance.now();
    const reader = async (offset: number) => {
      for (let i = offset; running; i += options.concurrency) {
        const path = paths[i % paths.length]!;
        const t0 = performance.now();
        const response = await request(path);
        await response.arrayBuffer();
        latencies.push(performance.now() - t0);
        if (response.status !== 200) {
          failed++;
          firstFailure ||= `${path}: ${response.status}`;
        }
        // In-process requests settle in microtasks: let timers (and the rebuild's own steps) run.
        await setImmediate();
      }
    };
    const writer = async () => {
      const every = 1000 / options.appendsPerSec;
      while (running) {
        append();
        await sleep(every);
      }
    };
    await Promise.all([...Array.from({ length: options.concurrency }, (_, i) => reader(i)), writer()]);
    const seconds = (performance.now() - started) / 1000;
    if (failed > 0) progress.line(`online rebuild: ${failed} failed requests, first: ${firstFailure}`, true);
    return { ...summarize(latencies), requestsPerSec: Math.round(latencies.length / seconds), failed };
  }

  progress.line(`online rebuild: baseline, ${options.concurrency} in-process readers for ${options.baselineMs} ms`, true);
  const { failed: _baselineFailed, ...baseline } = await load(sleep(options.baselineMs));

  const appendedBefore = appended;
  const started = await request('/api/v1/admin/read-model/rebuild', { method: 'POST' });
  if (started.status !== 202) throw new Error(`POST rebuild answered ${started.status}: ${await started.text()}`);
  const { id } = (await started.json()) as { id: string };
  const finished = (async () => {
    for (;;) {
      await sleep(200);
      const status = (await (await request(`/api/v1/admin/read-model/rebuild/${id}`)).json()) as RebuildResource;
      progress.line(`online rebuild: ${status.state}`);
      if (status.state === 'completed' || status.state === 'failed') return status;
    }
  })();
  const during = await load(finished);
  const rebuild = await finished;
  if (rebuild.state !== 'completed') throw new Error(`online rebuild failed: ${rebuild.error}`);
  return { baseline, during, appendedJobs: appended - appendedBefore, rebuild };
}
