import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { inject } from 'vitest';

const run = promisify(execFile);

/** Runs the real `temporal` CLI against the test server, as a person would. */
export async function temporalCli(args: string[]): Promise<string> {
  const cli = inject('temporalCliPath');
  const address = inject('temporalAddress');
  const { stdout } = await run(cli, [...args, '--address', address], { timeout: 30_000 });
  return stdout;
}

export const cliSignal = (workflowId: string, name: string, input?: unknown) =>
  temporalCli([
    'workflow',
    'signal',
    '--workflow-id',
    workflowId,
    '--name',
    name,
    ...(input === undefined ? [] : ['--input', JSON.stringify(input)]),
  ]);
