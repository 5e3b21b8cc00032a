#!/usr/bin/env node
// Makes a Chromium available to the dashboard's browser tests (test/ui, Playwright's `playwright-core`,
// which downloads no browser of its own) and to `npm run screenshot`.
//
// First match wins (test/support/browser.ts resolves in the same order, keep them in step):
//   1. env CHROMIUM_PATH                        used as is, nothing installed
//   2. chromium / chromium-browser / google-chrome on PATH
//   3. Debian's package: `apt-get install -y --no-install-recommends chromium` when run as root
//      (`apt-get update` first when the package lists do not know it yet)
// Prints where the browser is; exits 1 with what to do when there is none (the browser tests need it).
// Idempotent and quick when a browser is there (no apt, no network). Plain Node ESM, no dependencies.
import { spawnSync } from 'node:child_process';
import { findOnPath, isExecutable } from './lib/executables.mjs';

const NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];
const say = (line) => console.log(`[install-chromium] ${line}`);
const fail = (line) => {
  console.error(`[install-chromium] ERROR: ${line}`);
  process.exit(1);
};

/** CHROMIUM_PATH, then the usual names on PATH. */
function findChromium() {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) fail(`CHROMIUM_PATH=${fromEnv} is not an executable file.`);
    return { path: fromEnv, source: 'CHROMIUM_PATH' };
  }
  for (const name of NAMES) {
    const onPath = findOnPath(name);
    if (onPath) return { path: onPath, source: 'PATH' };
  }
  return undefined;
}

function version(file) {
  const r = spawnSync(file, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 ? r.stdout.trim().split('\n')[0] : undefined;
}

function apt(args) {
  return spawnSync('apt-get', args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 15 * 60_000,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/** Does apt know a `chromium` package (the lists may be empty on a fresh machine)? */
function aptKnowsChromium() {
  const r = spawnSync('apt-cache', ['policy', 'chromium'], { encoding: 'utf8' });
  return r.status === 0 && /Candidate:\s*(?!\(none\))\S+/.test(r.stdout);
}

function installWithApt() {
  if (process.platform !== 'linux' || !findOnPath('apt-get'))
    fail('no Chromium found and no apt-get here: install Chromium (or Chrome) and set CHROMIUM_PATH to its executable.');
  if (process.getuid?.() !== 0)
    fail('no Chromium found: run `sudo apt-get install -y --no-install-recommends chromium`, or set CHROMIUM_PATH.');
  if (!aptKnowsChromium()) {
    say('apt-get update (the package lists do not know chromium yet)…');
    if (apt(['update', '-q']).status !== 0) fail('`apt-get update` failed: cannot install chromium.');
  }
  say('installing Debian package chromium (apt-get install -y --no-install-recommends chromium; a few minutes)…');
  const r = apt(['install', '-y', '-q', '--no-install-recommends', 'chromium']);
  if (r.status !== 0) fail(`\`apt-get install chromium\` failed (exit ${r.status ?? r.error?.message}).`);
}

let chromium = findChromium();
if (!chromium) {
  installWithApt();
  chromium = findChromium();
  if (!chromium) fail('chromium was installed but is not on PATH: set CHROMIUM_PATH.');
  chromium.source = 'apt-get';
}
const shown = version(chromium.path);
if (!shown) fail(`${chromium.path} (from ${chromium.source}) does not run (\`--version\` failed).`);
say(`chromium: ${chromium.path} (${chromium.source}) — ${shown}`);
