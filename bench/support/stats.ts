/** Latency figures, GC pauses and plain-text tables for the benchmarks. */
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';

export interface LatencySummary {
  n: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
}

export const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Nearest-rank percentile of an ascending array. */
export const percentile = (sorted: ArrayLike<number>, p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;

export function summarize(latenciesMs: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(latenciesMs).sort();
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i]!;
  return {
    n: sorted.length,
    p50Ms: round3(percentile(sorted, 50)),
    p99Ms: round3(percentile(sorted, 99)),
    meanMs: round3(sorted.length ? sum / sorted.length : 0),
    maxMs: round3(sorted.length ? sorted[sorted.length - 1]! : 0),
  };
}

/** Left-aligns the first column, right-aligns the others. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** User + system CPU time of this process (every thread) since `since` (a `process.cpuUsage()`), ms. */
export function cpuMsSince(since: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(since);
  return (user + system) / 1000;
}

export const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
export const fmtMs = (n: number): string => n.toFixed(3);

/** A progress line on stderr, at most once a second unless forced. */
export class Progress {
  private last = 0;
  /** `startedAt` is a Date.now() time, so a worker thread can share the main thread's clock. */
  constructor(private readonly startedAt = Date.now()) {}
  line(text: string, force = false): void {
    const now = Date.now();
    if (!force && now - this.last < 1000) return;
    this.last = now;
    process.stderr.write(`[bench ${((now - this.startedAt) / 1000).toFixed(1)}s] ${text}\n`);
  }
}

export interface GcFigures {
  pauses: number;
  /** Of which mark-compact (full) collections. */
  major: number;
  totalMs: number;
  maxMs: number;
}

/** Garbage-collection pauses of the current thread, to tell GC from the measured work in latency tails. */
export class GcMonitor {
  private readonly pauses: { start: number; duration: number; major: boolean }[] = [];
  private readonly observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as { detail?: { kind?: number } }).detail?.kind;
      this.pauses.push({ start: e.startTime, duration: e.duration, major: kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR });
    }
  });

  constructor() {
    this.observer.observe({ entryTypes: ['gc'] });
  }

  /** Pauses that started in [from, to] (this thread's performance.now()). Node delivers GC entries late, on a timer. */
  async between(from: number, to: number): Promise<GcFigures> {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const inWindow = this.pauses.filter((g) => g.start >= from && g.start <= to);
    return {
      pauses: inWindow.length,
      major: inWindow.filter((g) => g.major).length,
      totalMs: round3(inWindow.reduce((sum, g) => sum + g.duration, 0)),
      maxMs: round3(inWindow.reduce((max, g) => Math.max(max, g.duration), 0)),
    };
  }

  stop(): void {
    this.observer.disconnect();
  }
}
