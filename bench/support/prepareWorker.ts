/**
 * Worker thread that fills the event store and rebuilds the read model. A thread of its own so that
 * its heap (generated events, the rebuild's in-memory rows) is gone before the queries are measured on
 * the main thread, as in production where the rebuild and the API server are separate processes.
 */
import fs from 'node:fs';
import { workerData } from 'node:worker_threads';
import { reportFromThread } from './benchThread.js';
import { rebuildReadModel, type RebuildResult } from '../../src/projections/rebuildReadModel.js';
import { fillEventStore, type FillOptions, type FillResult } from './fill.js';
import { GcMonitor, Progress, cpuMsSince, type GcFigures } from './stats.js';
import { measureRebuildFloor, type RebuildFloor } from './rebuildFloor.js';

export interface PrepareInput {
  eventsFile: string;
  readModelFile: string;
  fill: Omit<FillOptions, 'progress'>;
  /** Date.now() when the benchmark started, for the progress lines. */
  startedAt: number;
  /** Worker threads of the rebuild (default: one per core). */
  rebuildThreads?: number;
}

export interface PrepareOutput {
  fill: FillResult;
  eventsBytes: number;
  rebuild: RebuildResult;
  rebuildEventsPerSec: number;
  rebuildGc: GcFigures;
  /**
   * CPU time of the whole process (every thread) during the rebuild and during the floor, ms. The same
   * work has taken 50–68 core-seconds minutes apart on a shared machine: this tells a busy moment
   * from a slower rebuild.
   */
  cpuMs: { rebuild: number; floor: number };
  /** SQLite alone on the same files: the part of the rebuild no code change can remove. */
  rebuildFloor: RebuildFloor;
  readModelBytes: number;
}

export const fileSize = (file: string): number =>
  ['', '-wal'].reduce((sum, suffix) => sum + (fs.statSync(file + suffix, { throwIfNoEntry: false })?.size ?? 0), 0);

async function run(input: PrepareInput): Promise<PrepareOutput> {
  const progress = new Progress(input.startedAt);
  const gc = new GcMonitor();
  progress.line(`fill: ${input.fill.jobs.toLocaleString('en-US')} jobs, mode ${input.fill.mode}`, true);
  const { store, fill } = await fillEventStore(input.eventsFile, { ...input.fill, progress });
  try {
    const eventsBytes = fileSize(input.eventsFile);
    progress.line(
      `fill: done in ${(fill.ms / 1000).toFixed(1)} s (${fill.mode}), ${fill.events.toLocaleString('en-US')} events`,
      true,
    );

    const rebuildStarted = performance.now();
    const rebuildCpu = process.cpuUsage();
    const rebuild = await rebuildReadModel(store, input.readModelFile, {
      threads: input.rebuildThreads,
      onProgress: (position, last) =>
        progress.line(
          `rebuild: ${position.toLocaleString('en-US')}/${last.toLocaleString('en-US')} events (${((position / last) * 100).toFixed(1)}%), ` +
            `${Math.round(position / ((performance.now() - rebuildStarted) / 1000)).toLocaleString('en-US')} events/s`,
        ),
    });
    const rebuildCpuMs = Math.round(cpuMsSince(rebuildCpu));
    const rebuildGc = await gc.between(rebuildStarted, performance.now());
    progress.line(
      `rebuild: ${rebuild.events.toLocaleString('en-US')} events in ${rebuild.ms} ms ${JSON.stringify(rebuild.phases)}`,
      true,
    );
    progress.line('rebuild floor: SQLite alone scanning the log, writing the rows, building the indexes', true);
    const floorCpu = process.cpuUsage();
    const rebuildFloor = measureRebuildFloor(input.eventsFile, input.readModelFile, `${input.readModelFile}.floor`);
    const floorCpuMs = Math.round(cpuMsSince(floorCpu));
    progress.line(`rebuild floor: ${JSON.stringify(rebuildFloor)}`, true);
    return {
      fill,
      eventsBytes,
      rebuild,
      rebuildEventsPerSec: Math.round(rebuild.events / (rebuild.ms / 1000)),
      rebuildGc,
      cpuMs: { rebuild: rebuildCpuMs, floor: floorCpuMs },
      rebuildFloor,
      readModelBytes: fileSize(input.readModelFile),
    };
  } finally {
    store.close();
    gc.stop();
  }
}

reportFromThread(run(workerData as PrepareInput));
