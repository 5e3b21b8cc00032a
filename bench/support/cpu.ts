import { readFileSync } from 'node:fs';

/**
 * CPU seconds (user + system, every thread) a process has used so far, read from /proc; undefined
 * where there is no /proc or the process is gone.
 */
export function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // The command name (field 2) may hold spaces: the fields that follow start after its ')'.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100/s on Linux)
  } catch {
    return undefined;
  }
}

/** Core-seconds of one phase of a benchmark: this process (every thread) and the dev server. */
export interface PhaseCpu {
  /** This process: the engine, or the bare worker and its client, and the bench's own clients. */
  benchProcess: number;
  /** The Temporal dev server's process; undefined when it is not this machine's child (or no /proc). */
  devServer: number | undefined;
}

/**
 * Measures the CPU of a phase. On a machine whose cores are all busy during the phase (the dev server
 * and the engine share them), jobs/s is bounded by the core-seconds each job costs both processes
 * together: comparing a phase's core-seconds per job with its baseline's says how far that bound lets
 * a ratio of rates go.
 */
export function startPhaseCpu(devServerPid: number | undefined): { stop(): PhaseCpu } {
  const self = process.cpuUsage();
  const server = processCpuSeconds(devServerPid);
  return {
    stop() {
      const { user, system } = process.cpuUsage(self);
      const serverNow = processCpuSeconds(devServerPid);
      return {
        benchProcess: (user + system) / 1e6,
        devServer: server === undefined || serverNow === undefined ? undefined : serverNow - server,
      };
    },
  };
}

/** Core-seconds per 1,000 jobs of a phase, both processes together (NaN without the server's figure). */
export const coreSecondsPer1000 = (cpu: PhaseCpu, jobs: number): number =>
  ((cpu.benchProcess + (cpu.devServer ?? NaN)) * 1000) / jobs;

/** A phase's core-seconds per 1,000 jobs as "process + server = total" ("?" for a figure not read). */
export function formatPhaseCpu(cpu: PhaseCpu, jobs: number): string {
  const per = (x: number | undefined) => (x === undefined ? '?' : ((x * 1000) / jobs).toFixed(1));
  return `${per(cpu.benchProcess)} + ${per(cpu.devServer)} = ${coreSecondsPer1000(cpu, jobs).toFixed(1)}`;
}
