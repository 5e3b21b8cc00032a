/**
 * Throughput of the SQLite event store on a temp file.
 *
 *   npx tsx bench/eventstore.bench.ts          BENCH_SCALE=0.2 for a quick look, 5 for a long run
 *
 * The store writes with synchronous = FULL (a returned append survives a power cut). The durable
 * scenarios run next to the same scenarios on a store opened with synchronous = NORMAL, in the same
 * run, as the baseline: 1 writer appending one event per call, and 64 concurrent writers (as many
 * append activities awaiting at once) through appendToStreamGrouped (group commit) and, to show what
 * grouping buys, through the plain appendToStream (one commit and one fsync each). The grouped
 * scenarios run once more on a durable store that commits in its append thread (EVENTSTORE_APPEND_THREAD=1),
 * and every concurrent scenario reports how busy the calling thread's event loop was (a commit on that
 * thread blocks it for the inserts and the fsync; in the append thread it does not).
 *
 * Prints a table, then one `BENCH_JSON {...}` line for machines. Progress goes to stderr.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  openEventStore,
  type AppendResult,
  type EventStore,
  type NewEvent,
  type SynchronousMode,
} from '../src/eventstore/index.js';

const scale = Number(process.env.BENCH_SCALE ?? '1');
if (!(scale > 0)) throw new Error(`BENCH_SCALE must be a positive number, got ${process.env.BENCH_SCALE}`);
const rounds = 5;
const scaled = (n: number) => Math.max(1, Math.round(n * scale));

interface ScenarioResult {
  name: string;
  synchronous: SynchronousMode;
  /** Callers appending at once (each awaits its call before making the next). */
  writers: number;
  eventsPerCall: number;
  callsPerRound: number;
  rounds: number;
  /** Median over rounds of each round's throughput. */
  eventsPerSec: number;
  /** Per-call latency over every call of every round. */
  medianMs: number;
  p99Ms: number;
  maxMs: number;
  /** Median over rounds of the calling thread's event-loop utilization (0–1); concurrent scenarios only. */
  callerBusy?: number;
}

const percentile = (sorted: Float64Array, p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

// A payload shaped like the job engine's: a few scalars and a small nested object.
const payload = (i: number) => ({
  jobId: `job-${i % 997}`,
  step: i % 17,
  status: 'running',
  progress: (i % 100) / 100,
  detail: { attempt: 1, worker: 'w-1' },
});

let lastProgressAt = 0;
const progress = (line: string, force = false) => {
  const now = Date.now();
  if (!force && now - lastProgressAt < 1000) return;
  lastProgressAt = now;
  process.stderr.write(`[bench ${((now - startedAt) / 1000).toFixed(1)}s] ${line}\n`);
};
const startedAt = Date.now();

/**
 * Runs `rounds` rounds of `callsPerRound` calls, timing each call. `makeCall(round, call)` must do
 * exactly one store operation and return how many events it handled.
 */
const runScenario = (
  name: string,
  synchronous: SynchronousMode,
  eventsPerCall: number,
  callsPerRound: number,
  makeCall: (round: number, call: number) => number,
): ScenarioResult => {
  const latencies = new Float64Array(rounds * callsPerRound);
  const throughputs: number[] = [];
  let n = 0;
  for (let round = 0; round < rounds; round++) {
    let events = 0;
    const roundStart = process.hrtime.bigint();
    for (let call = 0; call < callsPerRound; call++) {
      const t0 = process.hrtime.bigint();
      events += makeCall(round, call);
      latencies[n++] = Number(process.hrtime.bigint() - t0) / 1e6;
      if ((call & 255) === 0) progress(`${name}: round ${round + 1}/${rounds}, call ${call}/${callsPerRound}`);
    }
    const seconds = Number(process.hrtime.bigint() - roundStart) / 1e9;
    throughputs.push(events / seconds);
    progress(`${name}: round ${round + 1}/${rounds} done, ${Math.round(events / seconds)} events/s`, true);
  }
  return summarize({ name, synchronous, writers: 1, eventsPerCall, callsPerRound }, throughputs, latencies);
};

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** A scenario's row: median throughput over the rounds, latency percentiles over every call. */
const summarize = (
  scenario: Pick<ScenarioResult, 'name' | 'synchronous' | 'writers' | 'eventsPerCall' | 'callsPerRound'>,
  throughputs: number[],
  latencies: Float64Array,
  callerBusy?: number[],
): ScenarioResult => {
  latencies.sort();
  return {
    ...scenario,
    ...(callerBusy ? { callerBusy: round3(median(callerBusy)) } : {}),
    rounds,
    eventsPerSec: Math.round(median(throughputs)),
    medianMs: round3(percentile(latencies, 50)),
    p99Ms: round3(percentile(latencies, 99)),
    maxMs: round3(latencies[latencies.length - 1] ?? 0),
  };
};

/**
 * `writers` callers at once, each awaiting its call before taking the next, until `callsPerRound`
 * calls are done; a call's latency includes its wait for the group it joins.
 */
const runConcurrentScenario = async (
  name: string,
  synchronous: SynchronousMode,
  writers: number,
  eventsPerCall: number,
  callsPerRound: number,
  makeCall: (round: number, call: number) => Promise<AppendResult> | AppendResult,
): Promise<ScenarioResult> => {
  const latencies = new Float64Array(rounds * callsPerRound);
  const throughputs: number[] = [];
  const callerBusy: number[] = [];
  let n = 0;
  for (let round = 0; round < rounds; round++) {
    let events = 0;
    let nextCall = 0;
    const roundStart = process.hrtime.bigint();
    const loopAtStart = performance.eventLoopUtilization();
    const writer = async () => {
      while (nextCall < callsPerRound) {
        const call = nextCall++;
        const t0 = process.hrtime.bigint();
        // Awaited first: `events += await …` would read `events` before the await and lose the other writers' counts.
        const { appended } = await makeCall(round, call);
        events += appended;
        latencies[n++] = Number(process.hrtime.bigint() - t0) / 1e6;
        if ((call & 1023) === 0) progress(`${name}: round ${round + 1}/${rounds}, call ${call}/${callsPerRound}`);
      }
    };
    await Promise.all(Array.from({ length: writers }, writer));
    const seconds = Number(process.hrtime.bigint() - roundStart) / 1e9;
    callerBusy.push(performance.eventLoopUtilization(loopAtStart).utilization);
    throughputs.push(events / seconds);
    progress(`${name}: round ${round + 1}/${rounds} done, ${Math.round(events / seconds)} events/s`, true);
  }
  return summarize({ name, synchronous, writers, eventsPerCall, callsPerRound }, throughputs, latencies, callerBusy);
};

const batch = (prefix: string, size: number, first: number): NewEvent[] =>
  Array.from({ length: size }, (_, i) => ({
    eventId: `${prefix}:${first + i}`,
    type: 'JobProgressed',
    data: payload(first + i),
    metadata: { actor: 'bench', correlationId: prefix },
  }));

const concurrentWriters = 64;

const main = async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'es-bench-'));
  const durablePath = path.join(dir, 'events.db');
  let store: EventStore | undefined;
  let normal: EventStore | undefined;
  let threaded: EventStore | undefined;
  try {
    store = openEventStore(durablePath);
    normal = openEventStore(path.join(dir, 'events-normal.db'), { synchronous: 'NORMAL' });
    threaded = openEventStore(path.join(dir, 'events-thread.db'), { appendThread: true });
    const s = store;
    const results: ScenarioResult[] = [];

    // (1) Durability: one event per call, spread over many streams. 1 writer is the per-transaction
    // cost (one fsync per call under FULL); 64 writers are as many append activities awaiting at once.
    const stores: [SynchronousMode, EventStore][] = [
      ['NORMAL', normal],
      ['FULL', store],
    ];
    const singleCalls = scaled(4000);
    const concurrentCalls = scaled(20000);
    for (const [synchronous, target] of stores) {
      results.push(
        runScenario(
          `1 event / call, 1 writer`,
          synchronous,
          1,
          singleCalls,
          (round, call) => target.appendToStream(`single-${call % 500}`, batch(`single:${round}`, 1, call)).appended,
        ),
      );
      // What the appendEvents activity pays when it is alone: the grouped path with nobody to group with.
      results.push(
        await runConcurrentScenario(`1 event / call, 1 writer, grouped`, synchronous, 1, 1, singleCalls, (round, call) =>
          target.appendToStreamGrouped(`alone-${call % 500}`, batch(`alone:${round}`, 1, call)),
        ),
      );
      results.push(
        await runConcurrentScenario(
          `1 event / call, ${concurrentWriters} writers, grouped`,
          synchronous,
          concurrentWriters,
          1,
          concurrentCalls,
          (round, call) => target.appendToStreamGrouped(`grouped-${call % 500}`, batch(`grouped:${round}`, 1, call)),
        ),
      );
      results.push(
        await runConcurrentScenario(
          `1 event / call, ${concurrentWriters} writers, one commit each`,
          synchronous,
          concurrentWriters,
          1,
          scaled(synchronous === 'FULL' ? 4000 : 20000),
          async (round, call) => target.appendToStream(`ungrouped-${call % 500}`, batch(`ungrouped:${round}`, 1, call)),
        ),
      );
    }

    // The grouped scenarios again, committed in the append thread (EVENTSTORE_APPEND_THREAD=1).
    const t = threaded;
    results.push(
      await runConcurrentScenario(`1 event / call, 1 writer, grouped, append thread`, 'FULL', 1, 1, singleCalls, (round, call) =>
        t.appendToStreamGrouped(`alone-${call % 500}`, batch(`alone:${round}`, 1, call)),
      ),
    );
    results.push(
      await runConcurrentScenario(
        `1 event / call, ${concurrentWriters} writers, grouped, append thread`,
        'FULL',
        concurrentWriters,
        1,
        concurrentCalls,
        (round, call) => t.appendToStreamGrouped(`grouped-${call % 500}`, batch(`grouped:${round}`, 1, call)),
      ),
    );

    // (2) Batches, as a workflow flushing several step events at once (durable store).
    for (const size of [10, 100]) {
      const calls = scaled(size === 10 ? 2000 : 400);
      results.push(
        runScenario(`batch of ${size} / call, 1 writer`, 'FULL', size, calls, (round, call) => {
          const streamId = `batch${size}-${round}-${call % 200}`;
          return s.appendToStream(streamId, batch(`batch${size}:${round}`, size, call * size)).appended;
        }),
      );
    }

    // (3) Re-sending calls that already went through (activity retries): must write nothing.
    const duplicateSize = 10;
    const duplicateCalls = scaled(2000);
    const originals = Array.from({ length: duplicateCalls }, (_, call) => batch('dup', duplicateSize, call * duplicateSize));
    originals.forEach((events, call) => s.appendToStream(`dup-${call % 200}`, events));
    results.push(
      runScenario(`duplicate re-send of ${duplicateSize}`, 'FULL', duplicateSize, duplicateCalls, (_, call) => {
        const result = s.appendToStream(`dup-${call % 200}`, originals[call]!, { expectedVersion: 0 });
        if (result.appended !== 0) throw new Error('a duplicate was written');
        return duplicateSize;
      }),
    );

    // (4) Catch-up reads of the whole log in pages, as a projection does.
    const pageSize = 1000;
    const total = s.lastPosition();
    const pagesPerRound = Math.max(1, Math.floor(total / pageSize));
    let readFrom = 0;
    results.push(
      runScenario(`readAll page of ${pageSize}`, 'FULL', pageSize, pagesPerRound, (_, call) => {
        if (call === 0) readFrom = 0;
        const page = s.readAll({ fromPosition: readFrom, limit: pageSize });
        readFrom = page[page.length - 1]?.globalPosition ?? readFrom;
        return page.length;
      }),
    );

    const fileBytes = fs.statSync(durablePath).size + (fs.statSync(`${durablePath}-wal`, { throwIfNoEntry: false })?.size ?? 0);
    printTable(results);
    const eventsPerSec = (name: string, synchronous: SynchronousMode) =>
      results.find((r) => r.name === name && r.synchronous === synchronous)!.eventsPerSec;
    const grouped = `1 event / call, ${concurrentWriters} writers, grouped`;
    const durability = {
      fullOneWriter: eventsPerSec('1 event / call, 1 writer', 'FULL'),
      fullOneWriterGrouped: eventsPerSec('1 event / call, 1 writer, grouped', 'FULL'),
      normalOneWriter: eventsPerSec('1 event / call, 1 writer', 'NORMAL'),
      fullGrouped64: eventsPerSec(grouped, 'FULL'),
      normalGrouped64: eventsPerSec(grouped, 'NORMAL'),
      fullUngrouped64: eventsPerSec(`1 event / call, ${concurrentWriters} writers, one commit each`, 'FULL'),
      fullGrouped64AppendThread: eventsPerSec(`${grouped}, append thread`, 'FULL'),
    };
    const busy = (name: string) => results.find((r) => r.name === name && r.synchronous === 'FULL')!.callerBusy ?? 0;
    process.stdout.write(
      `durable (FULL) appends/s: ${durability.fullOneWriter.toLocaleString('en-US')} with 1 writer ` +
        `(NORMAL ${durability.normalOneWriter.toLocaleString('en-US')}), ` +
        `${durability.fullGrouped64.toLocaleString('en-US')} with ${concurrentWriters} writers grouped ` +
        `(NORMAL ${durability.normalGrouped64.toLocaleString('en-US')}; ungrouped FULL ${durability.fullUngrouped64.toLocaleString('en-US')}); ` +
        `in the append thread ${durability.fullGrouped64AppendThread.toLocaleString('en-US')}, the calling thread busy ` +
        `${(100 * busy(`${grouped}, append thread`)).toFixed(0)} % of the time against ${(100 * busy(grouped)).toFixed(0)} %\n\n`,
    );
    const summary = {
      scale,
      rounds,
      node: process.version,
      cpus: os.availableParallelism?.() ?? os.cpus().length,
      totalEvents: s.lastPosition(),
      fileBytes,
      elapsedSec: round3((Date.now() - startedAt) / 1000),
      durability,
      scenarios: results,
    };
    process.stdout.write(`BENCH_JSON ${JSON.stringify(summary)}\n`);
  } finally {
    store?.close();
    normal?.close();
    threaded?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
};

const printTable = (results: ScenarioResult[]) => {
  const header = [
    'scenario',
    'synchronous',
    'events/call',
    'calls x rounds',
    'events/s (median round)',
    'median ms/call',
    'p99 ms/call',
    'max ms/call',
    'caller busy',
  ];
  const rows = results.map((r) => [
    r.name,
    r.synchronous,
    String(r.eventsPerCall),
    `${r.callsPerRound} x ${r.rounds}`,
    r.eventsPerSec.toLocaleString('en-US'),
    r.medianMs.toFixed(3),
    r.p99Ms.toFixed(3),
    r.maxMs.toFixed(3),
    r.callerBusy === undefined ? '—' : `${(100 * r.callerBusy).toFixed(0)} %`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  process.stdout.write(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}\n\n`);
};

await main();
