/**
 * Throughput of the SQLite event store on a temp file.
 *
 *   npx tsx bench/eventstore.bench.ts          BENCH_SCALE=0.2 for a quick look, 5 for a long run
 *
 * Prints a table, then one `BENCH_JSON {...}` line for machines. Progress goes to stderr.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openEventStore, type EventStore, type NewEvent } from '../src/eventstore/index.js';

const scale = Number(process.env.BENCH_SCALE ?? '1');
if (!(scale > 0)) throw new Error(`BENCH_SCALE must be a positive number, got ${process.env.BENCH_SCALE}`);
const rounds = 5;
const scaled = (n: number) => Math.max(1, Math.round(n * scale));

interface ScenarioResult {
  name: string;
  eventsPerCall: number;
  callsPerRound: number;
  rounds: number;
  /** Median over rounds of each round's throughput. */
  eventsPerSec: number;
  /** Per-call latency over every call of every round. */
  medianMs: number;
  p99Ms: number;
  maxMs: number;
}

const percentile = (sorted: Float64Array, p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

// A payload shaped like the job engine's: a few scalars and a small nested object.
const payload = (i: number) => ({ jobId: `job-${i % 997}`, step: i % 17, status: 'running', progress: (i % 100) / 100, detail: { attempt: 1, worker: 'w-1' } });

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
  latencies.sort();
  return {
    name,
    eventsPerCall,
    callsPerRound,
    rounds,
    eventsPerSec: Math.round(median(throughputs)),
    medianMs: round3(percentile(latencies, 50)),
    p99Ms: round3(percentile(latencies, 99)),
    maxMs: round3(latencies[latencies.length - 1] ?? 0),
  };
};

const round3 = (x: number) => Math.round(x * 1000) / 1000;

const batch = (prefix: string, size: number, first: number): NewEvent[] =>
  Array.from({ length: size }, (_, i) => ({
    eventId: `${prefix}:${first + i}`,
    type: 'JobProgressed',
    data: payload(first + i),
    metadata: { actor: 'bench', correlationId: prefix },
  }));

const main = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'es-bench-'));
  let store: EventStore | undefined;
  try {
    store = openEventStore(path.join(dir, 'events.db'));
    const s = store;
    const results: ScenarioResult[] = [];

    // (1) One event per call, spread over many streams: the per-transaction cost.
    const singleCalls = scaled(4000);
    results.push(
      runScenario('single event / call', 1, singleCalls, (round, call) => {
        const streamId = `single-${call % 500}`;
        return s.appendToStream(streamId, batch(`single:${round}`, 1, call)).appended;
      }),
    );

    // (2) Batches, as a workflow flushing several step events at once.
    for (const size of [10, 100]) {
      const calls = scaled(size === 10 ? 2000 : 400);
      results.push(
        runScenario(`batch of ${size} / call`, size, calls, (round, call) => {
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
      runScenario(`duplicate re-send of ${duplicateSize}`, duplicateSize, duplicateCalls, (_, call) => {
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
      runScenario(`readAll page of ${pageSize}`, pageSize, pagesPerRound, (_, call) => {
        if (call === 0) readFrom = 0;
        const page = s.readAll({ fromPosition: readFrom, limit: pageSize });
        readFrom = page[page.length - 1]?.globalPosition ?? readFrom;
        return page.length;
      }),
    );

    const fileBytes = fs.statSync(path.join(dir, 'events.db')).size + (fs.statSync(path.join(dir, 'events.db-wal'), { throwIfNoEntry: false })?.size ?? 0);
    printTable(results);
    const summary = {
      scale,
      rounds,
      node: process.version,
      cpus: os.availableParallelism?.() ?? os.cpus().length,
      totalEvents: s.lastPosition(),
      fileBytes,
      elapsedSec: round3((Date.now() - startedAt) / 1000),
      scenarios: results,
    };
    process.stdout.write(`BENCH_JSON ${JSON.stringify(summary)}\n`);
  } finally {
    store?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
};

const printTable = (results: ScenarioResult[]) => {
  const header = ['scenario', 'events/call', 'calls x rounds', 'events/s (median round)', 'median ms/call', 'p99 ms/call', 'max ms/call'];
  const rows = results.map((r) => [
    r.name,
    String(r.eventsPerCall),
    `${r.callsPerRound} x ${r.rounds}`,
    r.eventsPerSec.toLocaleString('en-US'),
    r.medianMs.toFixed(3),
    r.p99Ms.toFixed(3),
    r.maxMs.toFixed(3),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  process.stdout.write(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}\n\n`);
};

main();
