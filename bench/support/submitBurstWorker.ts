/**
 * Worker thread of bench:submit: the burst of `POST /jobs/submit` requests, each followed by a GET of
 * the job (it must be readable once its submit answered; not counted in the latency). A thread of its
 * own, as users' clients are not on the server's event loop (they still share the machine's cores).
 * Loopback only.
 */
import { workerData } from 'node:worker_threads';
import { reportFromThread } from './benchThread.js';
import { burst } from './burst.js';

export interface SubmitBurstInput {
  /** `http://127.0.0.1:<port>/api/v1` */
  baseUrl: string;
  count: number;
  inFlight: number;
  round: number;
}

export interface SubmitBurstOutput {
  /** When the first request went out (epoch ms): the round's rate counts from here, not from the thread's start. */
  startedAt: number;
  latencies: number[];
  ids: string[];
  non201: number;
  notVisible: number;
}

async function run(input: SubmitBurstInput): Promise<SubmitBurstOutput> {
  if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(input.baseUrl)) throw new Error(`not a loopback URL: ${input.baseUrl}`);
  const ids: string[] = [];
  let non201 = 0;
  let notVisible = 0;
  const startedAt = Date.now();
  const latencies = await burst(input.count, input.inFlight, async (i, done) => {
    const response = await fetch(`${input.baseUrl}/jobs/submit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: `burst ${input.round}-${i}`, type: 'noop', input: {} }),
    });
    const body = (await response.json()) as { job_id?: string };
    done();
    if (response.status !== 201) non201++;
    if (!body.job_id) return;
    ids.push(body.job_id);
    if ((await fetch(`${input.baseUrl}/jobs/${body.job_id}`)).status !== 200) notVisible++;
  });
  return { startedAt, latencies, ids, non201, notVisible };
}

reportFromThread(run(workerData as SubmitBurstInput));
