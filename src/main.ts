/**
 * `npm start`: Temporal (a dev server persisted under data/, unless TEMPORAL_ADDRESS names one),
 * workers, projector, reconciler and the HTTP API, in one process. Ctrl-C stops everything.
 */
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { serve } from '@hono/node-server';
import { loadConfig } from './config.js';
import { connectOrStartTemporal } from './temporal/devServer.js';
import { startEngine } from './engine.js';
import { jwtAuthenticator } from './api/auth.js';

const config = loadConfig();
if (config.production && !config.jwtSecret) {
  console.error('NODE_ENV=production needs JWT_SECRET: refusing to start an API without authentication.');
  process.exit(2);
}
mkdirSync(config.dataDir, { recursive: true });
const log = (line: string) => console.log(line);

const temporal = await connectOrStartTemporal({
  dbFilename: path.join(config.dataDir, 'temporal.db'),
  port: config.temporalAddress ? undefined : Number(process.env.TEMPORAL_PORT ?? 7233),
  uiPort: process.env.TEMPORAL_UI_PORT ? Number(process.env.TEMPORAL_UI_PORT) : undefined,
  namespace: config.namespace,
  log,
});
log(`Temporal: ${temporal.address} (${temporal.source})`);

const engine = await startEngine({
  temporalAddress: temporal.address,
  namespace: config.namespace,
  taskQueue: config.taskQueue,
  eventStorePath: config.eventStorePath,
  readModelPath: config.readModelPath,
  batchItemsPath: config.batchItemsPath,
  storeAccess: config.storeAccess,
  resultsDir: config.resultsDir,
  defaultJobType: config.defaultJobType,
  maxConcurrentSteps: config.maxConcurrentSteps,
  reconcileIntervalMs: config.reconcileIntervalMs,
  appOptions: config.jwtSecret ? { authenticate: jwtAuthenticator({ secret: config.jwtSecret }) } : {},
  log,
});
if (!config.jwtSecret) log('Auth:         off (no JWT_SECRET): every caller is the local admin. Set JWT_SECRET and use `npm run token -- --user alice`.');

const server = serve({ fetch: engine.app.fetch, port: config.port, hostname: config.host });
const apiUrl = `http://${config.host}:${config.port}/api/v1`;
log(`API:          ${apiUrl}  (try: curl -s -X POST ${apiUrl}/jobs/submit -H 'content-type: application/json' -d '{"name":"demo","type":"sleep","input":{"steps":5,"step_ms":1000}}')`);
log(`Temporal UI:  ${temporal.uiUrl ?? '(not started by us)'}`);
log(`Data:         ${path.relative(process.cwd(), config.dataDir) || '.'}  task queue: ${config.taskQueue}`);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log(`\n${signal}: stopping…`);
  server.close();
  await engine.stop();
  await temporal.stop();
  log('stopped.');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
