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
 * Wakes a pool when the read model has applied what concerns it (see poolWakes.ts): a job's
 * JobSubmitted recorded ahead of its workflow, so the pool can give the job its slot before the job's
 * first workflow task runs (that task then records JobQueued, JobStarted and schedules the step at
 * once); a JobQueued; a job's end, so the pool frees its slot. Only a wake-up: the line stays the read
 * model's, and the job still asks itself if no grant came (so a lost wake-up costs time, never a job).
 *
 * At most one signal per pool is on its way; submits meanwhile only raise the position the next one
 * carries, so a burst of 1,000 submits costs the pool a few dozen signals, not 1,000.
 */
export class PoolWaker {
  /** Per pool, what the next signal carries: the highest position asked for, and whether a holder ended. */
  private readonly pending = new Map<string, { position: number; holdersEnded: boolean }>();
  /** Per pool, its send loop while one runs (at most one signal per pool on its way). */
  private readonly sending = new Map<string, Promise<void>>();
  /** Pools whose wake-ups are held (continuing as new), with the timer that ends the hold. */
  private readonly held = new Map<string, NodeJS.Timeout>();
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
    this.startSending(pool, jobId);
  }

  /**
   * Sends no wake-up to `pool` for at most `ms` (they are kept and folded as usual): the pool is
   * about to continue as new, and Temporal refuses to close a run while a signal arrives during its
   * last workflow task (temporalio/temporal#1289) — under a burst one always does, and the refused
   * task costs the pool a full replay of its history, seconds without grants. The pool's new run ends
   * the hold (`release`) when it first reads its line; the timer ends it if the new run never asks.
   */
  hold(pool: string, ms: number): void {
    clearTimeout(this.held.get(pool));
    const timer = setTimeout(() => this.release(pool), ms);
    timer.unref();
    this.held.set(pool, timer);
  }

  /** Ends a hold (see `hold`): what was kept meanwhile goes out as one wake-up. */
  release(pool: string): void {
    const timer = this.held.get(pool);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.held.delete(pool);
    this.startSending(pool, 'pool-wakes-released');
  }

  private startSending(pool: string, jobId: string): void {
    if (this.stopped || this.held.has(pool) || this.sending.has(pool) || !this.pending.has(pool)) return;
    // send() is at its first signal before it returns: its own `finally` removes it (in the same turn
    // as its last look at `pending`, so a wake-up can never slip in between and be left unsent).
    this.sending.set(pool, this.send(pool, jobId));
  }

  /**
   * Sends nothing more and waits for the signals on their way: the engine closes its connection only
   * after this (a client call still retrying on a closed channel throws from a timer, uncaught).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.held.values()) clearTimeout(timer);
    this.held.clear();
    await Promise.all(this.sending.values());
  }

  private async send(pool: string, jobId: string): Promise<void> {
    try {
      for (
        let next = this.pending.get(pool);
        next !== undefined && !this.stopped && !this.held.has(pool);
        next = this.pending.get(pool)
      ) {
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
