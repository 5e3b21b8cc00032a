/** The dashboard's page and assets as HTTP resources: redirects, cache headers, the content security
 * policy, the page's config, and nothing served outside the asset list. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { dashboardRoutes } from '../../src/ui/dashboard.js';

const app = dashboardRoutes({ temporalUiUrl: 'http://ui.example:8233/', namespace: 'jobs' });

async function page() {
  const response = await app.request('/ui/');
  const html = await response.text();
  const importMap = /<script type="importmap">(.*?)<\/script>/s.exec(html)![1]!;
  const config = JSON.parse(/<script type="application\/json" id="dashboard-config">(.*?)<\/script>/s.exec(html)![1]!);
  return { response, html, importMap, config };
}

describe('dashboard routes', () => {
  it('redirects /, /dashboard and /ui to /ui/', async () => {
    for (const path of ['/', '/dashboard', '/ui']) {
      const response = await app.request(path);
      expect(response.status).toBe(302);
      expect(response.headers.get('location')).toBe('/ui/');
    }
  });

  it('serves the page uncached, with a policy that allows exactly its import map', async () => {
    const { response, importMap } = await page();
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-cache');
    const csp = response.headers.get('content-security-policy')!;
    const hash = createHash('sha256').update(importMap).digest('base64');
    expect(csp).toContain(`script-src 'self' 'sha256-${hash}'`);
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
  });

  it('puts the Web UI link, the namespace and the domain statuses in the page config', async () => {
    const { config } = await page();
    expect(config.temporalUiUrl).toBe('http://ui.example:8233');
    expect(config.namespace).toBe('jobs');
    expect(config.jobStatuses).toContain('timed_out');
    expect(config.terminalStatuses).toEqual(['completed', 'failed', 'cancelled', 'terminated', 'timed_out']);
    expect(config.statusAfterEvent).toMatchObject({ JobPaused: 'paused', JobStarted: 'running', JobCancelled: 'cancelled' });
    // Events that change no status, and JobResumed (its data says where to), are left to the page.
    expect(config.statusAfterEvent.JobStepProgress).toBeUndefined();
    expect(config.statusAfterEvent.JobResumed).toBeUndefined();
  });

  it('serves every asset the page names as immutable under its content version, and nothing else', async () => {
    const { html, importMap } = await page();
    const urls = [...html.matchAll(/(?:href|src)="(\/ui\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    urls.push(...Object.values(JSON.parse(importMap).imports as Record<string, string>));
    expect(urls.length).toBeGreaterThanOrEqual(8);
    const version = /\/ui\/assets\/([0-9a-f]{16})\//.exec(urls[0]!)![1]!;
    for (const url of urls) {
      expect(url.startsWith(`/ui/assets/${version}/`)).toBe(true);
      const response = await app.request(url);
      expect(response.status, url).toBe(200);
      expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(response.headers.get('content-type')).toMatch(/^(text\/javascript|text\/css|image\/svg\+xml)/);
      expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(0);
    }
    // Another version (an older or newer page), a file not in the list, a path out of the folder.
    expect((await app.request(`/ui/assets/0000000000000000/app.js`)).status).toBe(404);
    expect((await app.request(`/ui/assets/${version}/nothing.js`)).status).toBe(404);
    expect((await app.request(`/ui/assets/${version}/../dashboard.ts`)).status).toBe(404);
    expect((await app.request(`/ui/assets/${version}/%2e%2e/dashboard.ts`)).status).toBe(404);
  });
});
