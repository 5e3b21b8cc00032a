#!/usr/bin/env node
// Makes a production-like Temporal available to `npm run test:cluster` and `npm run bench:cluster`:
// the Temporal server and its SQL schema tool built from their Go modules at the version
// docker-compose.yml pins (temporalio/server and admin-tools 1.32.0), and the PostgreSQL schema files
// of that same module version, all cached in .tools/temporal-server-<version>/ (git-ignored):
//
//   bin/temporal-server      go install go.temporal.io/server/cmd/server@v<version>       (the image's binary)
//   bin/temporal-sql-tool    go install go.temporal.io/server/cmd/tools/sql@v<version>    (admin-tools' binary)
//   schema/postgresql/v12/   copied from the module source in the Go module cache (`go env GOMODCACHE`),
//                            the layout admin-tools has under /etc/temporal/schema
//
// Needs `go` (PATH, or GO=/path/to/go) and the Go module proxy; the first build takes several minutes
// on 2 cores, later runs are instant (the binaries and the schema folder are the stamp). PostgreSQL is
// not installed here: src/cluster/postgres.ts looks for initdb/pg_ctl/postgres (PG_BIN, PATH,
// `pg_config --bindir`, /usr/lib/postgresql/*/bin) and this script only says what it found.
// Exits 1 when it cannot provide the server (unlike install-temporal.mjs, nothing can fall back).
// Plain Node ESM, no dependencies.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findOnPath, findPostgresBin, isExecutable } from './lib/executables.mjs';

/** Keep in step with docker-compose.yml's image tags (test/temporal/composeTopology.unit.test.ts checks). */
const TEMPORAL_SERVER_VERSION = '1.32.0';
const MODULE = 'go.temporal.io/server';
const PACKAGES = [
  { pkg: `${MODULE}/cmd/server`, built: 'server', bin: 'temporal-server' },
  { pkg: `${MODULE}/cmd/tools/sql`, built: 'sql', bin: 'temporal-sql-tool' },
];
const SCHEMA = 'schema/postgresql/v12';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const target = path.join(root, '.tools', `temporal-server-${TEMPORAL_SERVER_VERSION}`);
const say = (line) => console.log(`[install-cluster] ${line}`);
let scratch; // the folder being built, removed when the build fails
const fail = (line) => {
  console.error(`[install-cluster] ERROR: ${line}`);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  process.exit(1);
};
const shown = (file) => (file.startsWith(root + path.sep) ? path.relative(root, file) : file);

/** Installed: both binaries executable and both versioned schema folders present. */
function installed(dir = target) {
  return (
    PACKAGES.every((p) => isExecutable(path.join(dir, 'bin', p.bin))) &&
    existsSync(path.join(dir, SCHEMA, 'temporal', 'versioned')) &&
    existsSync(path.join(dir, SCHEMA, 'visibility', 'versioned'))
  );
}

function findGo() {
  const go = process.env.GO || findOnPath('go') || ['/usr/local/go/bin/go', '/usr/lib/go/bin/go'].find(isExecutable);
  if (!go) fail('`go` not found (PATH, GO=…, /usr/local/go/bin): it builds the Temporal server. Install Go ≥ 1.24.');
  return go;
}

function goRun(go, args, env = {}, inherit = false) {
  const r = spawnSync(go, args, {
    encoding: 'utf8',
    stdio: ['ignore', inherit ? 'inherit' : 'pipe', inherit ? 'inherit' : 'pipe'],
    env: { ...process.env, ...env },
    timeout: 30 * 60_000,
  });
  if (r.status !== 0) fail(`${go} ${args.join(' ')} failed${r.error ? `: ${r.error.message}` : ''}\n${r.stderr ?? ''}`);
  return (r.stdout ?? '').trim();
}

function main() {
  if (installed()) {
    say(`Temporal server ${TEMPORAL_SERVER_VERSION}: ${shown(target)} (installed)`);
  } else {
    const go = findGo();
    say(`Temporal server ${TEMPORAL_SERVER_VERSION}: building with ${goRun(go, ['version'])} into ${shown(target)}`);
    scratch = `${target}.tmp-${process.pid}`;
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(path.join(scratch, 'bin'), { recursive: true });
    const env = { GOBIN: path.join(scratch, 'bin'), GOFLAGS: '-buildvcs=false' };
    for (const p of PACKAGES) {
      const started = Date.now();
      say(`go install ${p.pkg}@v${TEMPORAL_SERVER_VERSION} … (the first build takes minutes)`);
      goRun(go, ['install', '-ldflags=-s -w', `${p.pkg}@v${TEMPORAL_SERVER_VERSION}`], env, true);
      renameSync(path.join(scratch, 'bin', p.built), path.join(scratch, 'bin', p.bin));
      say(`  built ${p.bin} in ${Math.round((Date.now() - started) / 1000)} s`);
    }
    // `go install pkg@version` left the module's source in the module cache: take its schema files.
    const modCache = goRun(go, ['env', 'GOMODCACHE']);
    const moduleDir = path.join(modCache, `${MODULE}@v${TEMPORAL_SERVER_VERSION}`);
    if (!existsSync(path.join(moduleDir, SCHEMA))) fail(`no ${SCHEMA} in ${moduleDir}`);
    cpSync(path.join(moduleDir, SCHEMA), path.join(scratch, SCHEMA), { recursive: true });
    if (!installed(scratch)) fail(`incomplete install in ${scratch}`);
    rmSync(target, { recursive: true, force: true });
    renameSync(scratch, target);
    scratch = undefined;
    say(`Temporal server ${TEMPORAL_SERVER_VERSION}: ${shown(target)} ready`);
  }
  const pg = findPostgresBin();
  if (pg) {
    const version = spawnSync(path.join(pg, 'postgres'), ['--version'], { encoding: 'utf8' }).stdout?.trim();
    say(`PostgreSQL: ${pg} (${version})`);
  } else {
    fail(
      'PostgreSQL binaries (initdb, pg_ctl, postgres) not found: set PG_BIN, or install them (Debian: apt-get install postgresql).',
    );
  }
}

main();
