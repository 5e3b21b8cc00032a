import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface NodeProcess {
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code / signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs a TypeScript entry point of this repo (through tsx) in its own OS process, so a test can kill
 * it for real. Resolves once it printed `readyText`; rejects if it exits first.
 */
export function startNodeProcess(options: {
  entry: string;
  env: Record<string, string | undefined>;
  readyText: string;
  readyTimeoutMs?: number;
  /** Gets each chunk of output as it arrives (e.g. to collect logs of every run). */
  onOutput?: (text: string) => void;
}): Promise<NodeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', options.entry], {
    cwd: repoRoot,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const onData = (chunk: Buffer) => {
    const text = chunk.toString();
    output += text;
    options.onOutput?.(text);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const handle: NodeProcess = { child, output: () => output, exited };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${options.entry} not ready after ${options.readyTimeoutMs ?? 60_000} ms:\n${output.slice(-3000)}`));
    }, options.readyTimeoutMs ?? 60_000);
    const check = () => {
      if (output.includes(options.readyText)) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(handle);
      }
    };
    child.stdout!.on('data', check);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${options.entry} exited before ready (code ${code}, ${signal}):\n${output.slice(-3000)}`));
    });
  });
}
