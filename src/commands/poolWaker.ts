import type { Client } from '@temporalio/client';
import { poolWorkflowId } from '../domain/index.js';
import { poolRequestSignal } from '../workflows/poolContract.js';

/** Options of a PoolWaker. */
export interface PoolWakerOptions {
  client: Client;
  /** Task queue of the engine's workflows (pools are named after it). */
  taskQueue: string;
  /** Told when a wake-up could not be sent (the pool not started yet: its first job starts it). */
  onError?: (pool: string, error: unknown) => void;
}

/**
 * Wakes a pool as soon as the command side has recorded a job's JobSubmitted, so the pool can give
 * the job its slot before the job's first workflow task runs: that task then finds the grant waiting
 * and records JobQueued, JobStarted and schedules the step at once, instead of asking and waiting for
 * two more tasks. Only a wake-up: the line stays the read model's, and the job still asks itself if no
 * grant came (so a lost wake-up costs time, never a job).
 *
 * At most one signal per pool is on its way; submits meanwhile only raise the position the next one
 * carries, so a burst of 1,000 submits costs the pool a few dozen signals, not 1,000.
 */
export class PoolWaker {
  /** Per pool, what the next signal carries: the highest position asked for, and whether a holder ended. */
  private readonly pending = new Map<string, { position: number; holdersEnded: boolean }>();
  private readonly sending = new Set<string>();
  private readonly loops = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly options: PoolWakerOptions) {}

  /**
   * The job's JobSubmitted (JobQueued, …) is at `position` of the log; its pool should look at its
   * line. `holdersEnded`: the job's end is there, so the pool should look at its holders too.
   */
  wake(pool: string, jobId: string, position: number, options: { holdersEnded?: boolean } = {}): void {
    const before = this.pending.get(pool);
    this.pending.set(pool, {
      position: Math.max(position, before?.position ?? 0),
      holdersEnded: options.holdersEnded === true || before?.holdersEnded === true,
    });
    if (this.stopped || this.sending.has(pool)) return;
    const loop = this.send(pool, jobId).finally(() => this.loops.delete(loop));
    this.loops.add(loop);
  }

  /**
   * Sends nothing more and waits for the signals on their way: the engine closes its connection only
   * after this (a client call still retrying on a closed channel throws from a timer, uncaught).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  private async send(pool: string, jobId: string): Promise<void> {
    this.sending.add(pool);
    try {
      for (let next = this.pending.get(pool); next !== undefined && !this.stopped; next = this.pending.get(pool)) {
        this.pending.delete(pool);
        const request = { jobId, position: next.position, ...(next.holdersEnded ? { holdersEnded: true } : {}) };
        try {
          await this.options.client.workflow
            .getHandle(poolWorkflowId(this.options.taskQueue, pool))
            .signal(poolRequestSignal, request);
        } catch (error) {
          this.options.onError?.(pool, error);
        }
      }
    } finally {
      this.sending.delete(pool);
    }
  }
}
