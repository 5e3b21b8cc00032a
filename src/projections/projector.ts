import { EventEmitter } from 'node:events';
import type { EventStore, RecordedEvent } from '../eventstore/index.js';
import type { Projection } from './jobProjection.js';
import { ReadModelHolder, type ReadModelSource } from './readModelHolder.js';

export interface ProjectorOptions {
  /** Checkpoint name in projection_checkpoints. */
  name?: string;
  /** Events applied per transaction. */
  batchSize?: number;
  /** Longest wait for new events before looking again (ms); appends wake the projector earlier. */
  idleWaitMs?: number;
}

/**
 * Reads the log after its checkpoint and applies each event to the projections, moving the
 * checkpoint in the same transaction: a crash between two batches loses nothing and doubles nothing.
 */
export class Projector extends EventEmitter {
  private readonly name: string;
  private readonly batchSize: number;
  private readonly idleWaitMs: number;
  private running = false;
  private abort = new AbortController();
  private loop: Promise<void> | undefined;
  /** The checkpoint statement and the batch transaction of the current connection (a swap brings new ones). */
  private readonly prepared;

  constructor(
    private readonly store: EventStore,
    source: ReadModelSource,
    private readonly projections: Projection[],
    options: ProjectorOptions = {},
  ) {
    super();
    this.setMaxListeners(0);
    this.name = options.name ?? 'read-model';
    this.batchSize = options.batchSize ?? 1000;
    this.idleWaitMs = options.idleWaitMs ?? 1000;
    this.prepared = ReadModelHolder.of(source).perConnection((db) => {
      const setCheckpoint = db.prepare(
        'INSERT INTO projection_checkpoints (name, position) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position',
      );
      return {
        getCheckpoint: db.prepare<[string], { position: number }>('SELECT position FROM projection_checkpoints WHERE name = ?'),
        applyBatch: db.transaction((events: RecordedEvent[]) => {
          for (const event of events) for (const projection of this.projections) projection.apply(db, event);
          setCheckpoint.run(this.name, events[events.length - 1]!.globalPosition);
        }),
      };
    });
  }

  checkpoint(): number {
    return this.prepared().getCheckpoint.get(this.name)?.position ?? 0;
  }

  /** Applies everything in the log now; returns the number of events applied. */
  catchUp(): number {
    let applied = 0;
    for (let batch = this.applyNext(); batch > 0; batch = this.applyNext()) applied += batch;
    return applied;
  }

  /** Applies the next batch of the log (at most batchSize events) in one transaction; returns how many. */
  applyNext(): number {
    const events = this.store.readAll({ fromPosition: this.checkpoint(), limit: this.batchSize });
    if (events.length === 0) return 0;
    this.prepared().applyBatch(events);
    // 'applied' first: a listener reacting to what was applied (a pool's wake-up) goes out before
    // the 'projected' waiters resume.
    this.emit('applied', events);
    this.emit('projected', events[events.length - 1]!.globalPosition);
    return events.length;
  }

  /** Catches up, then follows new events until stop(). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.loop = (async () => {
      // Nothing may end this loop but stop(): a read model that silently stops following the log is
      // the worst failure it can have. Errors (e.g. a transient SQLITE_BUSY after a writer process
      // was killed) are reported and retried after the idle wait.
      while (this.running) {
        try {
          this.catchUp();
          if (!this.running) break;
          await this.store.waitForEvents(this.checkpoint(), { timeoutMs: this.idleWaitMs, signal: this.abort.signal });
        } catch (error) {
          if (this.listenerCount('error') > 0) this.emit('error', error);
          if (this.running) await new Promise((resolve) => setTimeout(resolve, Math.min(this.idleWaitMs, 200)));
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await this.loop;
  }

  /** Resolves once the read model has applied the log up to `position` (read-your-writes). */
  waitFor(position: number, timeoutMs = 10_000): Promise<boolean> {
    return this.waitUntil(() => this.checkpoint() >= position, timeoutMs);
  }

  /**
   * The first event `match` accepts among those applied from now on (undefined after `timeoutMs` or
   * cancel()): register before the event can be in the log, e.g. before sending the request that
   * writes it. Resolves once the event's batch is committed to the read model.
   */
  whenApplied(
    match: (event: RecordedEvent) => boolean,
    timeoutMs = 10_000,
  ): { promise: Promise<RecordedEvent | undefined>; cancel(): void } {
    let finish: (event: RecordedEvent | undefined) => void = () => undefined;
    const promise = new Promise<RecordedEvent | undefined>((resolve) => {
      const check = (events: RecordedEvent[]) => {
        const found = events.find(match);
        if (found) finish(found);
      };
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      finish = (event) => {
        clearTimeout(timer);
        this.off('applied', check);
        resolve(event);
      };
      this.on('applied', check);
    });
    return { promise, cancel: () => finish(undefined) };
  }

  /**
   * Resolves true once `predicate` holds on the read model, false after `timeoutMs`. The predicate is
   * checked now and after every batch the projector applies — the one way commands wait for their
   * effect, whether they know its log position or only what the row must show.
   */
  waitUntil(predicate: () => boolean, timeoutMs = 10_000): Promise<boolean> {
    if (predicate()) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const finish = (result: boolean) => {
        clearTimeout(timer);
        this.off('projected', check);
        resolve(result);
      };
      const check = () => {
        if (predicate()) finish(true);
      };
      const timer = setTimeout(() => finish(predicate()), timeoutMs);
      this.on('projected', check);
    });
  }
}
