import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('./fixtures/concurrentWriter.ts', import.meta.url));
const projectRoot = path.resolve(path.dirname(fixture), '../../..');

export interface WriterSummary {
  writer: string;
  written: number;
  sharedEvents: number;
  ownEvents: number;
  calls: number;
  resentCalls: number;
  resentEvents: number;
}

/** Runs fixtures/concurrentWriter.ts in its own OS process; rejects if it exits non-zero. */
export const spawnWriter = (dbPath: string, writer: string, count: number, startAtEpochMs?: number): Promise<WriterSummary> =>
  new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', fixture, dbPath, writer, String(count)];
    if (startAtEpochMs !== undefined) args.push(String(startAtEpochMs));
    // cwd = project root so that `--import tsx` resolves from this project's node_modules.
    const child = spawn(process.execPath, args, { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`writer ${writer} exited with ${code}: ${stderr}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop()!) as WriterSummary);
      } catch {
        reject(new Error(`writer ${writer} printed no summary: ${stdout} ${stderr}`));
      }
    });
  });
