import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { Connection } from '@temporalio/client';
import { CUSTOM_SEARCH_ATTRIBUTES } from './searchAttributes.js';
import { resolveTemporalCli } from './cliBinary.js';

export interface DevServerOptions {
  /** Persist to this SQLite file (restarts keep workflows); in memory when omitted. */
  dbFilename?: string;
  /** Frontend gRPC port; a free one when omitted. */
  port?: number;
  /** Web UI port; a free one when omitted (ignored when headless). */
  uiPort?: number;
  /** Interface to bind. */
  ip?: string;
  /** No Web UI (tests). */
  headless?: boolean;
  /** Namespace to create besides `default`. */
  namespace?: string;
  /** Where progress lines go. */
  log?: (line: string) => void;
}

export interface TemporalServer {
  address: string;
  uiUrl?: string;
  namespace: string;
  /** Which binary: `env`, `path`, `pip`, `sdk` (the SDK's download) or `external` (TEMPORAL_ADDRESS). */
  source: string;
  cliPath?: string;
  stop(): Promise<void>;
}

export async function freePort(ip = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, ip, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Dev-server flags the engine needs: its search attributes, and the matcher that honours priority. */
export function devServerArgs(options: { ip: string; port: number; uiPort?: number; headless?: boolean; namespace: string; dbFilename?: string }): string[] {
  const args = ['server', 'start-dev', '--ip', options.ip, '--port', String(options.port), '--log-level', 'warn'];
  if (options.headless) args.push('--headless');
  else if (options.uiPort) args.push('--ui-port', String(options.uiPort));
  if (options.namespace !== 'default') args.push('--namespace', options.namespace);
  if (options.dbFilename) args.push('--db-filename', options.dbFilename);
  for (const { name, type } of CUSTOM_SEARCH_ATTRIBUTES) args.push('--search-attribute', `${name}=${type}`);
  args.push('--dynamic-config-value', 'matching.useNewMatcher=true');
  return args;
}

/** Starts `temporal server start-dev` and waits until it answers with our search attributes. */
export async function startDevServer(options: DevServerOptions = {}): Promise<TemporalServer> {
  const log = options.log ?? (() => {});
  const ip = options.ip ?? '127.0.0.1';
  const namespace = options.namespace ?? 'default';
  const cli = resolveTemporalCli();
  if (!cli) return startSdkServer(options, ip, namespace);

  const port = options.port ?? (await freePort(ip));
  const uiPort = options.headless ? undefined : (options.uiPort ?? (await freePort(ip)));
  const args = devServerArgs({ ip, port, uiPort, headless: options.headless, namespace, dbFilename: options.dbFilename });
  log(`Temporal dev server: ${cli.path} (from ${cli.source})`);
  const child = spawn(cli.path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const address = `${ip}:${port}`;
  try {
    await waitUntilReady(address, namespace, child, () => output);
  } catch (error) {
    child.kill('SIGKILL');
    process.off('exit', killOnExit);
    throw error;
  }
  return {
    address,
    uiUrl: uiPort ? `http://${ip}:${uiPort}` : undefined,
    namespace,
    source: cli.source,
    cliPath: cli.path,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      process.off('exit', killOnExit);
    },
  };
}

async function waitUntilReady(address: string, namespace: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`temporal dev server exited (${child.exitCode}): ${output().slice(-2000)}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        const { customAttributes: keys } = await connection.operatorService.listSearchAttributes({ namespace });
        const missing = CUSTOM_SEARCH_ATTRIBUTES.filter((a) => !(keys ?? {})[a.name]);
        if (missing.length === 0) return;
        lastError = new Error(`search attributes not registered yet: ${missing.map((m) => m.name).join(', ')}`);
      } finally {
        await connection.close();
      }
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`temporal dev server not ready at ${address}: ${(lastError as Error)?.message}\n${output().slice(-2000)}`);
}

/** Last fallback: the SDK downloads a dev server (needs internet). */
async function startSdkServer(options: DevServerOptions, ip: string, namespace: string): Promise<TemporalServer> {
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  options.log?.('Temporal dev server: none installed; asking the SDK to download one (run `node scripts/install-temporal.mjs`)');
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      ip,
      port: options.port,
      uiPort: options.uiPort,
      ui: !options.headless,
      namespace,
      dbFilename: options.dbFilename,
      searchAttributes: [],
      extraArgs: [
        ...CUSTOM_SEARCH_ATTRIBUTES.flatMap((a) => ['--search-attribute', `${a.name}=${a.type}`]),
        '--dynamic-config-value',
        'matching.useNewMatcher=true',
      ],
    },
  });
  return {
    address: env.address,
    namespace,
    source: 'sdk',
    stop: () => env.teardown(),
  };
}

/** TEMPORAL_ADDRESS set: use that server and start none; else a dev server. */
export async function connectOrStartTemporal(options: DevServerOptions = {}): Promise<TemporalServer> {
  const external = process.env.TEMPORAL_ADDRESS;
  if (external) {
    return {
      address: external,
      uiUrl: process.env.TEMPORAL_UI_URL,
      namespace: options.namespace ?? 'default',
      source: 'external',
      stop: async () => {},
    };
  }
  return startDevServer(options);
}
