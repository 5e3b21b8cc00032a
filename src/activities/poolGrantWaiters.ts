/**
 * Jobs of this process waiting, inside their workflow task, for their pool's grant (revision 9 of the
 * job workflow, `awaitPoolGrant`). A pool's pick runs in this process too (the read model's owner): a
 * picked job that waits here is told by resolving its wait, so its first task goes on to record
 * JobStarted and start its step — no grant signal, no second workflow task, no timer. A picked job
 * that does not wait here is signalled as before.
 *
 * A wait holds its job's workflow task (and one of the worker's task slots) open, so few wait at once
 * and none for long: the others go the signal's way, as every job did before.
 */

/** Options of PoolGrantWaiters. */
export interface PoolGrantWaitersOptions {
  /** The most jobs that wait at once; more are answered `busy` at once (default 10). */
  maxWaiting?: number;
}

export type GrantWait = 'granted' | 'timeout';

/** Where a wait stands: `wait` settles it (granted or timed out); `cancel` drops it. */
export interface GrantWaitTicket {
  wait(ms: number): Promise<GrantWait>;
  cancel(): void;
  /** A pick told this job (its grant must reach the job: nobody signals it). */
  readonly granted: boolean;
  /** The job's place in line (its queued_seq), once known: a pick's grant for another place is not this wait's. */
  place(queuedSeq: number): void;
}

/** How long after a control a job's task does not start a wait (the control reaches it in its next task). */
const INTERRUPTED_FOR_MS = 5_000;

interface Waiter {
  pool: string;
  /** A control came before it started waiting: its wait ends at once. */
  interrupted?: boolean;
  /** Its place in line (queued_seq), once the read model showed it. */
  queuedSeq?: number;
  settle?: (answer: GrantWait) => void;
  /** Told before `wait` was called. */
  granted: boolean;
}

export class PoolGrantWaiters {
  private readonly waiters = new Map<string, Waiter>();
  /** Jobs a control was sent to lately (until when): their task must not start a wait meanwhile. */
  private readonly interrupted = new Map<string, number>();
  /** Pools whose last pick left jobs in line (or had no free slot): a newcomer would wait in vain. */
  private readonly linesLeft = new Set<string>();
  /** Pools whose last pick left no slot free: a newcomer's grant needs a holder to end first. */
  private readonly full = new Set<string>();
  private readonly maxWaiting: number;

  constructor(options: PoolGrantWaitersOptions = {}) {
    this.maxWaiting = options.maxWaiting ?? 10;
  }

  /** Jobs waiting now. */
  get size(): number {
    return this.waiters.size;
  }

  /**
   * Registers `jobId` as waiting for a slot of `pool` from now on (a pick from now on tells it here);
   * undefined if too many wait already (or it waits already: a second call of the same job's task).
   */
  register(jobId: string, pool: string): GrantWaitTicket | undefined {
    if (this.waiters.size >= this.maxWaiting || this.waiters.has(jobId) || this.linesLeft.has(pool)) return undefined;
    if (this.interrupted.size > 0 && this.wasInterrupted(jobId)) return undefined;
    const waiter: Waiter = { pool, granted: false };
    this.waiters.set(jobId, waiter);
    const drop = () => {
      if (this.waiters.get(jobId) === waiter) this.waiters.delete(jobId);
    };
    return {
      wait: (ms) =>
        waiter.granted || waiter.interrupted
          ? (drop(), Promise.resolve(waiter.granted ? 'granted' : 'timeout'))
          : new Promise<GrantWait>((resolve) => {
              const timer = setTimeout(() => waiter.settle?.('timeout'), ms);
              waiter.settle = (answer) => {
                clearTimeout(timer);
                waiter.settle = undefined;
                drop();
                resolve(answer);
              };
            }),
      cancel: () => {
        waiter.settle?.('timeout');
        drop();
      },
      get granted() {
        return waiter.granted;
      },
      place: (queuedSeq) => {
        waiter.queuedSeq = queuedSeq;
      },
    };
  }

  /**
   * A pick of `pool` is done: `lineLeft` if jobs it could not serve are waiting (or it had no free slot
   * to look with). Until a pick serves its whole line, jobs joining it do not wait in their task: they
   * are behind others, and their grant would come after the wait.
   */
  notePick(pool: string, lineLeft: boolean, full = false): void {
    if (lineLeft) this.linesLeft.add(pool);
    else this.linesLeft.delete(pool);
    if (full) this.full.add(pool);
    else this.full.delete(pool);
  }

  /**
   * Whether `pool`'s last pick left no slot free. A newcomer then does not wait within its task (see
   * awaitPoolGrant): a holder must end first, and the wait would hold back a control sent to the job
   * by signal (the Web UI, `temporal workflow signal`).
   */
  isFull(pool: string): boolean {
    return this.full.has(pool);
  }

  /**
   * A control is on its way to `jobId`: a wait in its task would hold it back (Temporal hands the job
   * its control in the next task), so the wait ends now, unless the job was told already.
   */
  interrupt(jobId: string): void {
    const waiter = this.waiters.get(jobId);
    if (waiter && !waiter.granted) {
      // (registered, not waiting yet: its wait ends at once)
      if (waiter.settle) waiter.settle('timeout');
      else waiter.interrupted = true;
    }
    // The control may reach Temporal before the job's task starts its wait, which would then hold the
    // control back: for a moment the job does not wait.
    // Kept in the order they end (each set last), so only the expired front is looked at: a bulk control
    // of thousands of jobs costs each call O(1), not a walk over every entry.
    const now = Date.now();
    for (const [id, until] of this.interrupted) {
      if (until > now) break;
      this.interrupted.delete(id);
    }
    this.interrupted.delete(jobId);
    this.interrupted.set(jobId, now + INTERRUPTED_FOR_MS);
  }

  private wasInterrupted(jobId: string): boolean {
    const until = this.interrupted.get(jobId);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.interrupted.delete(jobId);
    return false;
  }

  /**
   * The pick gave `jobId` a slot of `pool` (for its place in line `queuedSeq`): true if the job waits
   * here and now knows (it needs no signal); false if it does not wait here (signal it).
   */
  tell(jobId: string, pool: string, queuedSeq?: number): boolean {
    const waiter = this.waiters.get(jobId);
    if (!waiter || waiter.pool !== pool || waiter.granted) return false;
    // A pick's grant of an earlier place in line (a pool's task retried long after, answering its
    // record) is not this wait's: signalled, the job takes it for what it is.
    if (queuedSeq !== undefined && waiter.queuedSeq !== undefined && queuedSeq !== waiter.queuedSeq) return false;
    waiter.granted = true;
    // Taken out of the waiting at once: a second pick of the same job (it cannot be picked twice while
    // it holds the slot) would be signalled.
    this.waiters.delete(jobId);
    waiter.settle?.('granted');
    return true;
  }
}
