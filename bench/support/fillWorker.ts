/**
 * Worker thread of the SQL fill: generates jobs `start`..`total - 1` (the same sequence as the main
 * thread would: it replays jobs 0..start-1 to reach the generator's state), serializes them with the
 * store's own validateAndSerializeAppend, and posts them in chunks while the main thread inserts the
 * previous chunk. At most `maxInFlight` chunks wait for an ack.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { validateAndSerializeAppend } from '../../src/eventstore/validation.js';
import { JobGenerator, type GeneratedJob } from './jobEvents.js';

export interface FillWorkerInput {
  total: number;
  start: number;
  chunkJobs: number;
  maxInFlight: number;
  /** Job index modulo this = 0 → its id is sent back (for GET /jobs/{id}). */
  sampleEvery: number;
  /** Job index modulo this = 1 → the whole job is sent back, to check it reads back as generated. */
  verifyEvery: number;
}

export interface FillChunk {
  /** Flat: streamId, streamVersion, eventId, type, data, metadata for each event, in append order. */
  rows: (string | number)[];
  jobs: number;
  events: number;
  byStatus: Record<string, number>;
  byType: Record<string, number>;
  sampleIds: string[];
  verify: GeneratedJob[];
  /** Time spent generating and serializing this chunk. */
  generateMs: number;
  last: boolean;
}

export type FillWorkerMessage = { ok: true; chunk: FillChunk } | { ok: false; error: string };

const input = workerData as FillWorkerInput;
let acked = 0;
let sent = 0;
let wake: (() => void) | undefined;
parentPort!.on('message', () => {
  acked += 1;
  wake?.();
});

async function run(): Promise<void> {
  const generator = new JobGenerator(input.total);
  for (let i = 0; i < input.start; i++) generator.job(i);
  let index = input.start;
  while (index < input.total) {
    const t0 = performance.now();
    const chunk: FillChunk = {
      rows: [],
      jobs: 0,
      events: 0,
      byStatus: {},
      byType: {},
      sampleIds: [],
      verify: [],
      generateMs: 0,
      last: false,
    };
    const end = Math.min(input.total, index + input.chunkJobs);
    for (; index < end; index++) {
      const job = generator.job(index);
      const serialized = validateAndSerializeAppend(job.jobId, job.events, 'no_stream');
      for (let v = 0; v < serialized.length; v++) {
        const e = serialized[v]!;
        chunk.rows.push(job.jobId, v + 1, e.eventId, e.type, e.data, e.metadata);
      }
      chunk.jobs += 1;
      chunk.events += serialized.length;
      chunk.byStatus[job.status] = (chunk.byStatus[job.status] ?? 0) + 1;
      chunk.byType[job.type] = (chunk.byType[job.type] ?? 0) + 1;
      if (index % input.sampleEvery === 0) chunk.sampleIds.push(job.jobId);
      if (index % input.verifyEvery === 1) chunk.verify.push(job);
    }
    chunk.last = index >= input.total;
    chunk.generateMs = performance.now() - t0;
    while (sent - acked >= input.maxInFlight) await new Promise<void>((resolve) => (wake = resolve));
    parentPort!.postMessage({ ok: true, chunk } satisfies FillWorkerMessage);
    sent += 1;
  }
}

run().catch((error: Error) =>
  parentPort!.postMessage({ ok: false, error: error.stack ?? error.message } satisfies FillWorkerMessage),
);
