import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import {
  BATCH_STATUSES,
  JOB_STATUSES,
  JobEvents,
  TERMINAL_JOB_STATUSES,
  jobStatusAfter,
  type JobStatus,
} from '../domain/index.js';

export interface DashboardOptions {
  /** Base URL of the Temporal Web UI (TEMPORAL_UI_URL, or the dev server's UI): a job's page links to
   * its execution there. Omitted: no link. */
  temporalUiUrl?: string;
  /** Temporal namespace of the jobs' workflows (part of the Web UI's links); default `default`. */
  namespace?: string;
}

/** Where the dashboard is served; `/` and `/dashboard` redirect here. */
export const DASHBOARD_PATH = '/ui/';

const STATIC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'static');
const require = createRequire(import.meta.url);

/** The root folder of an installed npm package (found from its entry point: not every package
 * exports its package.json). */
function packageDir(name: string): string {
  let dir = path.dirname(require.resolve(name));
  while (
    !existsSync(path.join(dir, 'package.json')) ||
    JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).name !== name
  ) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the folder of the npm package ${name}`);
    dir = parent;
  }
  return dir;
}

/** The libraries' browser builds, served from node_modules (no CDN, no build step), by the names the
 * import map and the page use. */
function vendorFiles(): Record<string, string> {
  const preact = packageDir('preact');
  const uplot = packageDir('uplot');
  return {
    'vendor/preact.mjs': path.join(preact, 'dist/preact.mjs'),
    'vendor/preact-hooks.mjs': path.join(preact, 'hooks/dist/hooks.mjs'),
    'vendor/htm.mjs': path.join(packageDir('htm'), 'dist/htm.mjs'),
    'vendor/uplot.mjs': path.join(uplot, 'dist/uPlot.esm.js'),
    'vendor/uplot.css': path.join(uplot, 'dist/uPlot.min.css'),
  };
}

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

interface Asset {
  /** The file's bytes, as the Uint8Array the response is made of (read once, never copied per request). */
  body: Uint8Array<ArrayBuffer>;
  type: string;
}

/** Every file the page may load, read once at start, and one version for the set: the hash of their
 * contents. Asset URLs carry it, so they are cached as immutable and a new release changes every URL. */
function loadAssets(): { version: string; assets: Map<string, Asset> } {
  const files: Record<string, string> = { ...vendorFiles() };
  for (const entry of readdirSync(STATIC_DIR, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    files[path.relative(STATIC_DIR, full).split(path.sep).join('/')] = full;
  }
  const hash = createHash('sha256');
  const assets = new Map<string, Asset>();
  for (const name of Object.keys(files).sort()) {
    const body = new Uint8Array(readFileSync(files[name]!));
    hash.update(name).update('\0').update(body);
    assets.set(name, { body, type: CONTENT_TYPES[path.extname(name)] ?? 'application/octet-stream' });
  }
  return { version: hash.digest('hex').slice(0, 16), assets };
}

/** The status each job event leads to (events that change none are left out), from the domain's one
 * mapping, so the page's timeline shows before → after as the projection computes it. JobResumed goes
 * where its data's `to` says. */
function statusAfterEvent(): Record<string, string> {
  const unchanged = '\0unchanged' as JobStatus;
  return Object.fromEntries(
    Object.values(JobEvents)
      .map((type) => [type, jobStatusAfter(type, undefined, unchanged)] as const)
      .filter(([type, status]) => status !== unchanged && type !== JobEvents.resumed),
  );
}

/** JSON that is safe inside a <script> element. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

function page(version: string, options: DashboardOptions) {
  const asset = (name: string) => `/ui/assets/${version}/${name}`;
  const importMap = scriptJson({
    imports: {
      preact: asset('vendor/preact.mjs'),
      'preact/hooks': asset('vendor/preact-hooks.mjs'),
      htm: asset('vendor/htm.mjs'),
      uplot: asset('vendor/uplot.mjs'),
    },
  });
  const config = scriptJson({
    apiBase: '/api/v1',
    temporalUiUrl: options.temporalUiUrl?.replace(/\/+$/, '') ?? null,
    namespace: options.namespace ?? 'default',
    // The domain's statuses, so the page's filters and controls never drift from the engine's.
    jobStatuses: JOB_STATUSES,
    terminalStatuses: TERMINAL_JOB_STATUSES,
    batchStatuses: BATCH_STATUSES,
    statusAfterEvent: statusAfterEvent(),
  });
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Job engine dashboard</title>
<link rel="icon" type="image/svg+xml" href="${asset('favicon.svg')}">
<link rel="stylesheet" href="${asset('vendor/uplot.css')}">
<link rel="stylesheet" href="${asset('dashboard.css')}">
<script type="importmap">${importMap}</script>
<script type="application/json" id="dashboard-config">${config}</script>
<script type="module" src="${asset('app.js')}"></script>
</head>
<body>
<div id="app"><p class="loading">Loading the dashboard…</p></div>
<noscript>The dashboard needs JavaScript. The REST API is described at <a href="/api/v1/docs">/api/v1/docs</a>.</noscript>
</body>
</html>`;
  // The import map is the page's only inline script: the policy allows exactly it, by its hash.
  const importMapHash = createHash('sha256').update(importMap).digest('base64');
  const csp = [
    "default-src 'self'",
    `script-src 'self' 'sha256-${importMapHash}'`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  return { html, csp };
}

/**
 * The dashboard: one HTML page (the app runs in the browser and reads the REST API with the caller's
 * token) and its assets. The page and assets hold no data, so they are public; every number on the
 * page comes from /api/v1, which checks the token.
 */
export function dashboardRoutes(options: DashboardOptions = {}) {
  const { version, assets } = loadAssets();
  const { html, csp } = page(version, options);
  const app = new Hono();
  const toDashboard = (c: { redirect: (url: string, status: 302) => Response }) => c.redirect(DASHBOARD_PATH, 302);
  app.get('/', toDashboard);
  app.get('/dashboard', toDashboard);
  app.get('/ui', toDashboard);
  app.get(DASHBOARD_PATH, (c) => {
    c.header('Cache-Control', 'no-cache');
    c.header('Content-Security-Policy', csp);
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
    return c.html(html);
  });
  app.get('/ui/assets/:version/*', (c) => {
    const name = c.req.path.slice(`/ui/assets/${c.req.param('version')}/`.length);
    const asset = assets.get(name);
    // Another version's URL is a page older or newer than this process: no file under it is served
    // as immutable, or a browser would keep the wrong one for a year.
    if (!asset || c.req.param('version') !== version) return c.notFound();
    c.header('Cache-Control', 'public, max-age=31536000, immutable');
    c.header('Content-Type', asset.type);
    c.header('X-Content-Type-Options', 'nosniff');
    return c.body(asset.body);
  });
  return app;
}
