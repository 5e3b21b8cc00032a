import { randomUUID } from 'node:crypto';
import { renameSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { setImmediate as yieldToRequests } from 'node:timers/promises';
import type { EventStore } from '../eventstore/index.js';
import { Projector } from './projector.js';
import { openReadModelDb, type ReadModelDb } from './readModelDb.js';
import type { ReadModelHolder } from './readModelHolder.js';
import { readModelProjections } from './readModelProjections.js';
import { removeDbFiles } from './rebuildPartition.js';
import { rebuildReadModel } from './rebuildReadModel.js';

export interface OnlineRebuildOptions {
  store: EventStore;
  /** The connection every read model and the live projector read through; swapped at the end. */
  holder: ReadModelHolder;
  /** The live projector: it keeps the current read model up to date meanwhile, then goes on with the new one. */
  projector: Projector;
  /** The live read model's file; the new one is built beside it and moved in its place. */
  readModelPath: string;
  /** Worker threads of the build (at least 1: the build must not block the API); default one per core. */
  threads?: number;
  /** Events the new read model may still lack when the swap starts (they are applied during the pause). */
  swapLag?: number;
  /** Where the rebuild's lines go; default nowhere. */
  log?: (line: string) => void;
}

/** A rebuild as GET /admin/read-model/rebuild/{id} shows it. */
export interface ReadModelRebuildStatus {
  id: string;
  /** building (worker threads fold the log up to `builtTo`), catching-up (the tail after it), completed, failed. */
  state: 'building' | 'catching-up' | 'completed' | 'failed';
  startedAt: string;
  finishedAt: string | null;
  /** The position the build read the log up to (the end of the log when it started). */
  builtTo: number;
  /** Events the build folded, and the jobs it wrote. */
  events: number;
  jobs: number;
  buildMs: number | null;
  /** Events appended meanwhile, applied to the new read model after the build (before and during the swap). */
  tailEvents: number;
  /** The new read model's position when it took over. */
  swappedAt: number | null;
  /** How long the API's reads waited for the swap (the last events of the tail, closing and opening files). */
  swapPauseMs: number | null;
  error: string | null;
}

export class RebuildInProgressError extends Error {
  constructor(readonly current: ReadModelRebuildStatus) {
    super(`a read-model rebuild is already running (${current.id}, ${current.state})`);
  }
}

/**
 * Rebuilds the read model while the engine serves: the new file is built beside the live one up to
 * the log's end P (in worker threads, so requests go on), the events appended since are applied to it
 * a batch at a time between requests, and when it is close to the end the rest is applied and the
 * connection swapped in one synchronous step — no request runs in between, so none sees a half-built
 * model or fails, and no event is lost (the live projector goes on from the new file's checkpoint).
 * One rebuild at a time; the latest one's status is kept.
 */
export class ReadModelRebuilder {
  private current: ReadModelRebuildStatus | undefined;
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();

  constructor(private readonly options: OnlineRebuildOptions) {}

  /** Starts a rebuild; throws RebuildInProgressError while one runs. */
  start(): ReadModelRebuildStatus {
    if (this.running && this.current) throw new RebuildInProgressError({ ...this.current });
    const status: ReadModelRebuildStatus = {
      id: `rebuild_${randomUUID()}`,
      state: 'building',
      startedAt: new Date().toISOString(),
      finishedAt: null,
      builtTo: this.options.store.lastPosition(),
      events: 0,
      jobs: 0,
      buildMs: null,
      tailEvents: 0,
      swappedAt: null,
      swapPauseMs: null,
      error: null,
    };
    this.current = status;
    this.running = this.run(status).finally(() => (this.running = undefined));
    return { ...status };
  }

  /** The rebuild with this id (only the latest is kept), or the latest. */
  status(id?: string): ReadModelRebuildStatus | undefined {
    return this.current && (id === undefined || id === this.current.id) ? { ...this.current } : undefined;
  }

  /** For good (the engine stops): ends a running rebuild, its files removed, the live read model untouched. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private async run(status: ReadModelRebuildStatus): Promise<void> {
    const { store, readModelPath, log = () => {} } = this.options;
    const temp = `${readModelPath}.rebuild`;
    let next: ReadModelDb | undefined;
    try {
      await rm(`${readModelPath}.old`, { force: true }); // a previous rebuild's, if its removal was cut short
      const built = await rebuildReadModel(store, temp, {
        threads: this.options.threads === undefined ? undefined : Math.max(1, this.options.threads),
        toPosition: status.builtTo,
        signal: this.abort.signal,
      });
      Object.assign(status, { events: built.events, jobs: built.jobs, buildMs: built.ms, state: 'catching-up' });
      log(`[rebuild] ${status.id}: built ${built.jobs} jobs from ${built.events} events in ${built.ms} ms; catching up`);

      next = openReadModelDb(temp);
      const tail = new Projector(store, next, readModelProjections());
      const swapLag = this.options.swapLag ?? 200;
      // A batch at a time, yielding between batches: requests keep being served from the live model.
      while (store.lastPosition() - tail.checkpoint() > swapLag) {
        if (this.abort.signal.aborted) throw new Error('rebuild aborted');
        status.tailEvents += tail.applyNext();
        await yieldToRequests();
      }
      // Both WALs merged into their files now, each in a step of its own, so the swap's closes are short.
      next.pragma('wal_checkpoint(TRUNCATE)');
      await yieldToRequests();
      this.options.holder.db.pragma('wal_checkpoint(TRUNCATE)');
      await yieldToRequests();
      this.swap(status, tail, next);
      next = undefined;
      status.state = 'completed';
      log(`[rebuild] ${status.id}: swapped at ${status.swappedAt} after a ${status.swapPauseMs} ms pause`);
    } catch (error) {
      next?.close();
      removeDbFiles(temp);
      Object.assign(status, { state: 'failed', error: (error as Error).message });
      log(`[rebuild] ${status.id}: failed: ${(error as Error).stack ?? error}`);
    } finally {
      status.finishedAt = new Date().toISOString();
    }
  }

  /**
   * One synchronous step (no request, no projector batch runs in between): the rest of the tail, then
   * the new file moved in place of the old one and its connection put in the holder.
   */
  private swap(status: ReadModelRebuildStatus, tail: Projector, next: ReadModelDb): void {
    const { holder, projector, readModelPath } = this.options;
    const temp = `${readModelPath}.rebuild`;
    const started = performance.now();
    status.tailEvents += tail.catchUp();
    // The new file alone, without a WAL, so it can move: its connection closes (and merges its WAL).
    next.close();
    const old = holder.db;
    const retired = `${readModelPath}.old`;
    try {
      old.close(); // also removes its WAL and shared-memory files
      // Moved aside, not replaced: replacing would free the old file's blocks during the pause.
      renameSync(readModelPath, retired);
      try {
        // Left over only if another connection had the file open: they belong to the old file.
        for (const suffix of ['-wal', '-shm']) rmSync(readModelPath + suffix, { force: true });
        renameSync(temp, readModelPath);
      } catch (error) {
        renameSync(retired, readModelPath); // the old read model serves on
        throw error;
      }
    } finally {
      // Whatever happened, the holder gets an open connection on the read model's path.
      holder.swap(openReadModelDb(readModelPath));
    }
    void rm(retired, { force: true }); // in the background, after the pause
    status.swappedAt = projector.checkpoint();
    status.swapPauseMs = Math.round((performance.now() - started) * 1000) / 1000;
    // Commands waiting for a position re-check it against the new read model.
    projector.emit('projected', status.swappedAt);
  }
}
