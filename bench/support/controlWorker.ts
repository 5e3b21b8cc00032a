/**
 * Worker thread of bench:control: `controls` rounds of pause, resume and reprioritize of one job through
 * the API, each timed from sending the request until a GET of the job shows the change. A thread of
 * its own, as a user's client is not on the server's event loop. Loopback only.
 */
import { workerData } from 'node:worker_threads';
import { reportFromThread, reportProgress } from './benchThread.js';

export interface ControlRoundsInput {
  /** `http://127.0.0.1:<port>/api/v1` */
  baseUrl: string;
  jobId: string;
  controls: number;
  /** Pause between two controls (ms; 0: back to back, each control queued behind the work the one
   * before left on the job — its step winding down, the rest of its workflow task). */
  gapMs: number;
}

export type ControlAction = 'pause' | 'resume' | 'reprioritize';

/** Per action, each round's latency (ms) and when its request was sent (epoch ms, to line it up with
 * the times its event records). */
export type ControlRoundsOutput = Record<ControlAction, number[]> & { sentAt: Record<ControlAction, number[]> };

const input = workerData as ControlRoundsInput;
if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(input.baseUrl)) throw new Error(`not a loopback URL: ${input.baseUrl}`);

async function api(method: string, url: string, body?: unknown): Promise<any> {
  const response = await fetch(`${input.baseUrl}${url}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Polls GET until `seen(row)`; returns the ms since t0. */
async function visibleAfter(t0: number, seen: (row: any) => boolean): Promise<number> {
  for (;;) {
    if (seen(await api('GET', `/jobs/${input.jobId}`))) return performance.now() - t0;
    if (performance.now() - t0 > 60_000) throw new Error(`job ${input.jobId}: change not visible after 60 s`);
  }
}

const gap = () => (input.gapMs > 0 ? new Promise((r) => setTimeout(r, input.gapMs)) : Promise.resolve());

async function run(): Promise<ControlRoundsOutput> {
  const figures: ControlRoundsOutput = {
    pause: [],
    resume: [],
    reprioritize: [],
    sentAt: { pause: [], resume: [], reprioritize: [] },
  };
  const round = async (action: ControlAction, send: () => Promise<unknown>, seen: (row: any) => boolean) => {
    await gap();
    figures.sentAt[action].push(Date.now());
    const t0 = performance.now();
    await send();
    figures[action].push(await visibleAfter(t0, seen));
  };
  for (let i = 0; i < input.controls; i++) {
    await round(
      'pause',
      () => api('POST', `/jobs/${input.jobId}/pause`, { reason: 'bench' }),
      (row) => row.status === 'paused',
    );
    await round(
      'resume',
      () => api('POST', `/jobs/${input.jobId}/resume`, { reason: 'bench' }),
      (row) => row.status !== 'paused',
    );
    const priority = i % 2 === 0 ? 3 : 2; // the probe starts at 2: alternate
    await round(
      'reprioritize',
      () => api('PUT', `/jobs/${input.jobId}/priority`, { priority, reason: 'bench' }),
      (row) => row.priority === priority,
    );
    reportProgress(i + 1);
  }
  return figures;
}

reportFromThread(run());
