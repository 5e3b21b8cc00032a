/**
 * `npm run screenshot`: the README's pictures of the dashboard, taken from a real engine. Starts a dev
 * server and an engine in a temporary folder, gives it some work (jobs of each kind of outcome, a batch,
 * a paused job), opens the dashboard in headless Chromium and writes docs/dashboard-overview.png and
 * docs/dashboard-jobs.png. Everything it started is stopped and removed at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { startDevServer } from '../src/temporal/devServer.js';
import { startEngine } from '../src/engine.js';
import { launchChromium } from '../test/support/browser.js';

const outDir = path.resolve('docs');
const dir = mkdtempSync(path.join(os.tmpdir(), 'job-engine-screenshot-'));
const log = (line: string) => console.log(`[screenshot] ${line}`);

const temporal = await startDevServer({ headless: true, log });
const engine = await startEngine({
  temporalAddress: temporal.address,
  taskQueue: `screenshot-${randomUUID().slice(0, 8)}`,
  eventStorePath: path.join(dir, 'events.db'),
  readModelPath: path.join(dir, 'readmodel.db'),
  resultsDir: path.join(dir, 'results'),
  pools: { default: 4 },
  appOptions: { dashboard: { temporalUiUrl: 'http://127.0.0.1:8233' } },
});
const server = serve({ fetch: engine.app.fetch, port: 0, hostname: '127.0.0.1' });
await new Promise((resolve) => server.once('listening', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

async function api(method: string, url: string, body?: unknown): Promise<any> {
  const response = await fetch(`${base}/api/v1${url}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  return response.json();
}
const sleepFor = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

try {
  log('submitting work…');
  for (let i = 0; i < 6; i++) await api('POST', '/jobs/submit', { name: `quick-${i}`, type: 'noop' });
  for (let i = 0; i < 2; i++)
    await api('POST', '/jobs/submit', {
      name: `import-${i}`,
      type: 'flaky',
      tags: ['nightly'],
      input: { steps: 1, step_ms: 50, fail_on_step: 0, fail_times: 1, permanent: true },
    });
  const names = ['export invoices', 'resize images', 'train model', 'reindex search', 'send digests', 'match customers'];
  const long: string[] = [];
  for (const [i, name] of names.entries()) {
    const { job_id } = await api('POST', '/jobs/submit', {
      name,
      type: 'sleep',
      priority: (i % 4) + 1,
      input: { steps: 20 + i * 5, step_ms: 600 },
    });
    long.push(job_id);
  }
  await api('POST', '/batches', {
    name: 'nightly thumbnails',
    type: 'sleep',
    concurrency: 2,
    items: Array(8).fill({ steps: 3, step_ms: 700 }),
  });
  await sleepFor(4000);
  await api('POST', `/jobs/${long[3]}/pause`, { reason: 'waiting for the index snapshot' });
  await sleepFor(4000);

  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(`${base}/ui/#/`);
  await page.waitForSelector('.live-live');
  await page.waitForSelector('.chart canvas');
  await sleepFor(1000);
  await page.screenshot({ path: path.join(outDir, 'dashboard-overview.png') });
  await page.goto(`${base}/ui/#/jobs`);
  await page.waitForSelector('table.jobs tbody tr');
  await sleepFor(1500);
  await page.screenshot({ path: path.join(outDir, 'dashboard-jobs.png') });
  await browser.close();
  log(`wrote ${path.relative(process.cwd(), outDir)}/dashboard-overview.png and dashboard-jobs.png`);
} finally {
  server.close();
  await engine.stop();
  await temporal.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
