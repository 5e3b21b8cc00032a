import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { coreSecondsPer1000, formatPhaseCpu, processCpuSeconds, startPhaseCpu } from '../../bench/support/cpu.js';

// The CPU figures bench:submit and bench:batch print (issue 14's rate goals are read against them).
const busy = (ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end);
};

describe('phase CPU of a benchmark', () => {
  it.runIf(process.platform === 'linux')(
    "counts another process's CPU from /proc, and none for a process that is not there",
    async () => {
      // A child that spins for 400 ms, then waits to be killed: its CPU is read while it lives.
      const child = spawn(process.execPath, [
        '-e',
        'const e = Date.now() + 400; while (Date.now() < e); setInterval(() => {}, 1000);',
      ]);
      try {
        const before = processCpuSeconds(child.pid)!;
        await new Promise((r) => setTimeout(r, 1200));
        const after = processCpuSeconds(child.pid)!;
        expect(after - before).toBeGreaterThanOrEqual(0.2);
      } finally {
        child.kill();
        await once(child, 'exit');
      }
      expect(processCpuSeconds(child.pid)).toBeUndefined();
      expect(processCpuSeconds(undefined)).toBeUndefined();
    },
  );

  it("measures this process's CPU over a phase and per 1,000 jobs", () => {
    const phase = startPhaseCpu(process.platform === 'linux' ? process.pid : undefined);
    busy(300);
    const cpu = phase.stop();
    expect(cpu.benchProcess).toBeGreaterThanOrEqual(0.2);
    if (process.platform === 'linux') expect(cpu.devServer).toBeGreaterThanOrEqual(0.2); // here: this process again
    expect(coreSecondsPer1000({ benchProcess: 1, devServer: 2 }, 500)).toBe(6);
    expect(coreSecondsPer1000({ benchProcess: 1, devServer: undefined }, 500)).toBeNaN();
    expect(formatPhaseCpu({ benchProcess: 1, devServer: 2 }, 500)).toBe('2.0 + 4.0 = 6.0');
    expect(formatPhaseCpu({ benchProcess: 1, devServer: undefined }, 500)).toBe('2.0 + ? = NaN');
  });
});
