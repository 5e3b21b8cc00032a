import { subscribeToAppends } from './appendNotifier.js';
import type { WaitForEventsOptions } from './typing.js';

interface Waiter {
  afterPosition: number;
  settle(found: boolean): void;
}

export interface NewEventsWatcherOptions {
  storeKey: string;
  pollIntervalMs: number;
  readLastGlobalPosition: () => number;
  readDataVersion: () => number;
}

/**
 * Implements waitForEvents for one EventStore instance. All waiters share one poll timer and one
 * notifier subscription, which exist only while somebody waits.
 */
export class NewEventsWatcher {
  private readonly waiters = new Set<Waiter>();
  private pollTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private lastSeenDataVersion = 0;

  constructor(private readonly options: NewEventsWatcherOptions) {}

  wait(afterPosition: number, { timeoutMs, signal }: WaitForEventsOptions = {}): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    // Read before the position: a commit by another process landing between the two reads then
    // shows up as a changed data_version on the next poll instead of being missed.
    // A read can fail transiently (SQLITE_BUSY while another connection recovers the WAL after a
    // writer process was killed): then wait and let the polls look again, never throw at the caller.
    let dataVersion = -1;
    try {
      dataVersion = this.options.readDataVersion();
      if (this.options.readLastGlobalPosition() > afterPosition) return Promise.resolve(true);
    } catch {
      dataVersion = -1; // differs from any real data_version: the first successful poll wakes the waiters
    }
    if (timeoutMs !== undefined && timeoutMs <= 0) return Promise.resolve(false);

    return new Promise<boolean>((resolve) => {
      let timeout: NodeJS.Timeout | undefined;
      const onAbort = () => waiter.settle(false);
      const waiter: Waiter = {
        afterPosition,
        settle: (found) => {
          if (!this.waiters.delete(waiter)) return;
          if (timeout !== undefined) clearTimeout(timeout);
          signal?.removeEventListener('abort', onAbort);
          if (this.waiters.size === 0) this.stopWatching();
          resolve(found);
        },
      };
      this.waiters.add(waiter);
      this.startWatching(dataVersion);
      // Not unref'd: a caller awaiting a bounded wait is owed an answer before the process exits.
      if (timeoutMs !== undefined) timeout = setTimeout(() => waiter.settle(false), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Settles every pending wait with false; the store is closing. */
  close(): void {
    for (const waiter of this.waiters) waiter.settle(false);
    this.stopWatching();
  }

  private startWatching(dataVersion: number): void {
    if (this.pollTimer !== undefined) return;
    this.lastSeenDataVersion = dataVersion;
    this.unsubscribe = subscribeToAppends(this.options.storeKey, (position) => this.wakeUpTo(position));
    this.pollTimer = setInterval(() => this.pollOtherProcesses(), this.options.pollIntervalMs);
    // Watching for other processes' commits must not, by itself, keep this process alive.
    this.pollTimer.unref();
  }

  private stopWatching(): void {
    if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private pollOtherProcesses(): void {
    try {
      const dataVersion = this.options.readDataVersion();
      if (dataVersion === this.lastSeenDataVersion) return;
      this.lastSeenDataVersion = dataVersion;
      this.wakeUpTo(this.options.readLastGlobalPosition());
    } catch {
      // A failed poll (e.g. a transient lock) is retried on the next tick; each waiter still has its
      // own timeout or abort signal, and throwing from a timer would crash the process.
    }
  }

  private wakeUpTo(lastGlobalPosition: number): void {
    for (const waiter of this.waiters) if (lastGlobalPosition > waiter.afterPosition) waiter.settle(true);
  }
}
