/**
 * `npm start`: Temporal (a dev server persisted under data/, unless TEMPORAL_ADDRESS names one),
 * workers, projector, reconciler and the HTTP API, in one process. Ctrl-C stops everything.
 */
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { serve } from '@hono/node-server';
import { loadConfigOrExit } from './config.js';
import { connectOrStartTemporal } from './temporal/devServer.js';
import { engineOptionsFromConfig, startEngine } from './engine.js';
import { loadJobTypeRegistry } from './jobs/loadJobTypes.js';
import { jwtAuthenticator } from './api/auth.js';
import { installClientErrorHandler } from './api/clientErrors.js';

const config = loadConfigOrExit();
if (config.production && !config.jwtSecret) {
  console.error('NODE_ENV=production needs JWT_SECRET: refusing to start an API without authentication.');
  process.exit(2);
}
mkdirSync(config.dataDir, { recursive: true });
const log = (line: string) => console.log(line);

const temporal = await connectOrStartTemporal({
  dbFilename: path.join(config.dataDir, 'temporal.db'),
  port: config.temporalPort,
  uiPort: config.temporalUiPort,
  namespace: config.namespace,
  external: config.temporalAddress ? { address: config.temporalAddress, uiUrl: config.temporalUiUrl } : undefined,
  log,
});
log(`Temporal: ${temporal.address} (${temporal.source})`);

const engine = await startEngine({
  ...engineOptionsFromConfig(config),
  registry: await loadJobTypeRegistry(config.jobTypeModules),
  temporalAddress: temporal.address,
  appOptions: {
    ...(config.jwtSecret
      ? { authenticate: jwtAuthenticator({ secret: config.jwtSecret, maxTtlSeconds: config.jwtMaxTtlSeconds }) }
      : {}),
    dashboard: { temporalUiUrl: config.temporalUiUrl ?? temporal.uiUrl, namespace: config.namespace },
  },
  log,
});
if (!config.jwtSecret)
  log(
    'Auth:         off (no JWT_SECRET): every caller is the local admin. Set JWT_SECRET and use `npm run token -- --user alice`.',
  );

const server = serve({ fetch: engine.app.fetch, port: config.port, hostname: config.host });
const httpServer = server as unknown as import('node:http').Server;
installClientErrorHandler(httpServer);
// The API line below tells users (and scripts) the API answers: print it once the port is bound. With
// a host name, Node binds after a lookup on libuv's thread pool, which a busy start can delay.
await new Promise<void>((resolve, reject) => {
  if (httpServer.listening) return resolve();
  server.once('listening', () => resolve());
  server.once('error', (error: Error) =>
    reject(new Error(`API: cannot listen on ${config.host}:${config.port}: ${error.message}`)),
  );
});
const apiUrl = `http://${config.host}:${config.port}/api/v1`;
log(
  `API:          ${apiUrl}  (try: curl -s -X POST ${apiUrl}/jobs/submit -H 'content-type: application/json' -d '{"name":"demo","type":"sleep","input":{"steps":5,"step_ms":1000}}')`,
);
log(`Dashboard:    http://${config.host}:${config.port}/ui/`);
log(`Temporal UI:  ${temporal.uiUrl ?? '(not started by us)'}`);
log(`Data:         ${path.relative(process.cwd(), config.dataDir) || '.'}  task queue: ${config.taskQueue}`);
// The SDK says so in its own words at start ("createHook is not available"): this is why.
log(
  `Workflows:    stack traces ${config.workflowStackTraces ? 'on' : 'off (WORKFLOW_STACK_TRACES=1 turns them on; see the README)'}`,
);
if (config.retention)
  log(
    `Retention:    jobs finished more than ${config.retention.maxAgeMs / 3_600_000} h ago are deleted every ${config.retention.intervalMs / 60_000} min (schedule ${config.taskQueue}-retention)`,
  );

// Stop in order: the API stops taking requests, the workers drain (running steps hand back their
// checkpoint and resume after the next start), then the store, then Temporal. A second signal, or a
// stop that takes longer than SHUTDOWN_TIMEOUT_MS, exits at once.
let stopping = false;
let started = 0;
async function shutdown(signal: string) {
  if (stopping) {
    // A signal to the whole process group can reach us twice (directly, and relayed by a wrapper
    // such as npm): only a second signal a moment later (Ctrl-C again) means "stop now".
    if (Date.now() - started < 1000) return;
    log(`${signal} again: exiting now.`);
    process.exit(1);
  }
  stopping = true;
  started = Date.now();
  log(`\n${signal}: stopping (API, then workers, then Temporal)…`);
  setTimeout(() => {
    console.error(`shutdown still not done after ${config.shutdownTimeoutMs} ms: exiting anyway.`);
    process.exit(1);
  }, config.shutdownTimeoutMs).unref();
  const phase = (what: string) => log(`  ${what} (${Date.now() - started} ms)`);
  await closeHttpServer(server, 2000);
  phase('API closed');
  await engine.stop(phase);
  phase('workers drained, store closed');
  await temporal.stop();
  log(`stopped in ${Date.now() - started} ms.`);
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

/** Stops accepting connections, lets requests in flight finish for up to `graceMs`, then cuts the rest
 * (open SSE streams would otherwise keep the server open forever). */
async function closeHttpServer(httpServer: typeof server, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
  const http = httpServer as unknown as { closeIdleConnections?: () => void; closeAllConnections?: () => void };
  http.closeIdleConnections?.();
  const timer = setTimeout(() => http.closeAllConnections?.(), graceMs);
  await closed;
  clearTimeout(timer);
}
