/**
 * The benches' worker threads (load clients, the read-model fill, submit and control bursts): each is a
 * TypeScript module that gets its input as workerData, may post progress, and posts its output once
 * (`reportFromThread`). `runBenchThread` starts one and resolves with that output.
 */
import { parentPort } from 'node:worker_threads';
import { startTsWorker } from './tsWorker.js';

/** What a bench thread posts: progress (any number of times), then its output or why it failed. */
export type BenchThreadMessage<O> = { ok: true; output: O } | { ok: false; error: string } | { progress: number };

export interface BenchThreadOptions {
  /** Names the thread in errors. */
  name: string;
  /** Fails (and ends the thread) if no output came within this many ms. Default: no limit. */
  limitMs?: number;
  onProgress?: (progress: number) => void;
}

/** Runs `module` in a worker thread with `input`; resolves with its output, rejects with its error. */
export async function runBenchThread<I extends object, O>(module: URL, input: I, options: BenchThreadOptions): Promise<O> {
  const worker = startTsWorker(module, { ...input } as Record<string, unknown>);
  let limit: NodeJS.Timeout | undefined;
  try {
    const message = await new Promise<{ ok: true; output: O } | { ok: false; error: string }>((resolve, reject) => {
      if (options.limitMs !== undefined)
        limit = setTimeout(
          () => reject(new Error(`${options.name} did not finish within ${options.limitMs} ms`)),
          options.limitMs,
        );
      worker.on('message', (m: BenchThreadMessage<O>) => ('progress' in m ? options.onProgress?.(m.progress) : resolve(m)));
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`${options.name} exited (code ${code}) before reporting`)));
    });
    if (!message.ok) throw new Error(`${options.name}: ${message.error}`);
    return message.output;
  } finally {
    clearTimeout(limit);
    await worker.terminate();
  }
}

/** In a bench thread: posts what `work` gives (or its error) to the thread that started it. */
export function reportFromThread<O>(work: Promise<O>): void {
  work.then(
    (output) => parentPort!.postMessage({ ok: true, output } satisfies BenchThreadMessage<O>),
    (error: Error) => parentPort!.postMessage({ ok: false, error: error.stack ?? error.message } satisfies BenchThreadMessage<O>),
  );
}

/** In a bench thread: reports progress (a count) to the thread that started it. */
export const reportProgress = (progress: number): void =>
  parentPort!.postMessage({ progress } satisfies BenchThreadMessage<never>);
