/**
 * The dashboard in a real browser: Debian's Chromium (playwright-core) against a real engine on a real
 * Temporal dev server, served over HTTP on a free port. Submit from the page, watch the progress bar
 * move on the live stream, pause/resume/cancel from the page, read the event timeline; a bulk action;
 * the views of APIs an engine may not have yet.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { serveOverHttp } from '../support/http.js';
import { launchChromium } from '../support/browser.js';

let engine: TestEngine;
let served: Awaited<ReturnType<typeof serveOverHttp>>;
let browser: Browser;
let page: Page;
const streamRequests: string[] = [];
/** Script errors and console errors (a blocked script, a CSP violation, a failed module import). */
const pageErrors: string[] = [];

beforeAll(async () => {
  engine = await startTestEngine({
    appOptions: { dashboard: { temporalUiUrl: 'http://temporal-ui.test:8233', namespace: 'default' } },
  });
  served = await serveOverHttp(engine.app);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  // (The 404s of the APIs this engine may not have yet are the browser's own log line, not an error.)
  const optionalApi = /\/api\/v1\/(stats\/timeseries|workers|jobs\/dead)\b/;
  page.on('console', (message) => {
    if (message.type() === 'error' && !optionalApi.test(message.location().url))
      pageErrors.push(`${message.text()} ${message.location().url}`);
  });
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/api/v1/jobs/events') streamRequests.push(request.url());
  });
});
afterAll(async () => {
  // Every page above ran without a script error.
  expect(pageErrors).toEqual([]);
  await browser?.close();
  await served?.close();
  await engine?.dispose();
});

const progressOf = async (bar: ReturnType<Page['getByRole']>) => Number(await bar.getAttribute('aria-valuenow'));
const statusBadge = () => page.locator('h1 .badge');

describe('dashboard', () => {
  it('redirects / to /ui/ and shows the overview with live job counts', async () => {
    await page.goto(`${served.url}/`);
    expect(new URL(page.url()).pathname).toBe('/ui/');
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Overview');
    await expect.poll(() => page.locator('.live').textContent(), { timeout: 20_000 }).toBe('Live');
    const before = Number(await page.locator('[data-status="completed"]').textContent());
    const { body } = await engine.api('POST', '/api/v1/jobs/submit', { name: 'quick', type: 'noop' });
    await eventually(async () => (await engine.api('GET', `/api/v1/jobs/${body.job_id}`)).body.status === 'completed', 60_000);
    // The count moves without a reload: the page heard the job's events on its stream.
    await expect
      .poll(async () => Number(await page.locator('[data-status="completed"]').textContent()), { timeout: 20_000 })
      .toBe(before + 1);
  });

  it('shows the time series, workers and failed jobs, or says they are not available', async () => {
    const series = await engine.api('GET', '/api/v1/stats/timeseries?minutes=60&bucket_seconds=60');
    const chart = page.getByRole('region', { name: 'Throughput and failure rate' });
    if (series.status === 404) await expect.poll(() => chart.textContent()).toContain('Not available');
    else await expect.poll(() => chart.locator('canvas').count()).toBeGreaterThan(0);
    const workers = await engine.api('GET', '/api/v1/workers');
    const workersSection = page.getByRole('region', { name: 'Workers' });
    if (workers.status === 404) await expect.poll(() => workersSection.textContent()).toContain('Not available');
    else await expect.poll(() => workersSection.locator('tbody tr').count()).toBeGreaterThan(0);
    const dead = await engine.api('GET', '/api/v1/jobs/dead');
    await page.getByRole('link', { name: 'Failed jobs' }).click();
    if (dead.status === 404) await expect.poll(() => page.locator('main').textContent()).toContain('Not available');
    else await expect.poll(() => page.getByRole('table').count()).toBe(1);
  });

  it('submits a job from the page, shows its progress moving, pauses, resumes and cancels it, and shows the timeline', async () => {
    const name = `ui-${randomUUID().slice(0, 8)}`;
    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    await page.getByText('Submit a job').click();
    await page.getByLabel('Job name').fill(name);
    await page.getByLabel('Job type').fill('sleep');
    await page.getByLabel('Input (JSON)').fill('{"steps": 40, "step_ms": 500}');
    await page.getByRole('button', { name: 'Submit', exact: true }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Submitted' }).count()).toBe(1);
    await page.getByRole('link', { name, exact: true }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toContain(name);
    const jobId = decodeURIComponent(new URL(page.url()).hash.replace('#/jobs/', ''));
    expect(jobId).toMatch(/^job_/);
    expect(await page.getByRole('link', { name: 'Open in Temporal Web UI' }).getAttribute('href')).toBe(
      `http://temporal-ui.test:8233/namespaces/default/workflows/${jobId}`,
    );

    // The bar moves while the job runs: at least two different values between 0 and 100, rising.
    const bar = page.getByRole('progressbar', { name: 'Job progress' });
    const seen: number[] = [];
    await eventually(
      async () => {
        const value = await progressOf(bar);
        if (value !== seen[seen.length - 1]) seen.push(value);
        return seen.filter((v) => v > 0 && v < 100).length >= 2;
      },
      90_000,
      'the progress bar to move twice',
    );
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);

    await page.getByLabel('Reason (recorded with the action)').fill('ui pause');
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await expect.poll(() => statusBadge().textContent(), { timeout: 30_000 }).toBe('paused');
    const pausedAt = await progressOf(bar);

    await page.getByLabel('Reason (recorded with the action)').fill('ui resume');
    await page.getByRole('button', { name: 'Resume', exact: true }).click();
    await expect.poll(() => statusBadge().textContent(), { timeout: 30_000 }).not.toBe('paused');
    await expect.poll(() => progressOf(bar), { timeout: 90_000 }).toBeGreaterThan(pausedAt);

    await page.getByLabel('Reason (recorded with the action)').fill('ui cancel');
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await expect.poll(() => statusBadge().textContent(), { timeout: 60_000 }).toBe('cancelled');

    // The timeline: who did what, why, and what changed.
    const timeline = page.getByRole('table', { name: /Event timeline/ });
    const row = (type: string) => timeline.locator(`tr[data-event-type="${type}"]`);
    await expect.poll(() => row('JobCancelled').count(), { timeout: 20_000 }).toBe(1);
    for (const [type, reason] of [
      ['JobPaused', 'ui pause'],
      ['JobResumed', 'ui resume'],
      ['JobCancelled', 'ui cancel'],
    ]) {
      const text = await row(type!).first().textContent();
      expect(text).toContain('user:local');
      expect(text).toContain(reason);
    }
    expect(await row('JobPaused').textContent()).toMatch(/(running|queued) → paused/);
    expect(await row('JobSubmitted').count()).toBe(1);
    // Everything above came over one stream opened once per page load: no polling.
    expect(streamRequests.length).toBe(1);
  });

  it('cancels the selected jobs with a reason in one bulk action', async () => {
    const tag = `bulk-${randomUUID().slice(0, 8)}`;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { status, body } = await engine.api('POST', '/api/v1/jobs/submit', {
        name: `${tag}-${i}`,
        type: 'sleep',
        tags: [tag],
        input: { steps: 100, step_ms: 500 },
      });
      expect(status).toBe(201);
      ids.push(body.job_id);
    }
    await page.goto(`${served.url}/ui/#/jobs?tag=${tag}`);
    const rows = page.locator('table.jobs tbody tr');
    await expect.poll(() => rows.count(), { timeout: 20_000 }).toBe(3);
    await page.getByLabel('Select all jobs on this page').check();
    await page.getByLabel('Reason (recorded with the action)').fill('bulk stop');
    await page.getByRole('button', { name: 'Cancel selected' }).click();
    await expect
      .poll(() => page.getByRole('status').filter({ hasText: 'Bulk cancel' }).textContent(), { timeout: 60_000 })
      .toContain('Bulk cancel: 3 of 3 succeeded');
    // The rows turn cancelled on the live stream.
    await expect.poll(() => page.locator('table.jobs tbody .badge.status-cancelled').count(), { timeout: 30_000 }).toBe(3);
    for (const id of ids) {
      const events = (await engine.api('GET', `/api/v1/jobs/${id}/events`)).body as {
        type: string;
        metadata: { reason?: string };
      }[];
      expect(events.find((e) => e.type === 'JobCancelled')?.metadata.reason).toBe('bulk stop');
    }
  });
});

describe('failed jobs (dead letter)', () => {
  it('lists a failed job with its last error and attempts, and retries it from the page', async () => {
    const tag = `dead-${randomUUID().slice(0, 8)}`;
    const { body } = await engine.api('POST', '/api/v1/jobs/submit', {
      name: `${tag}-job`,
      type: 'flaky',
      tags: [tag],
      input: { steps: 1, step_ms: 10, fail_on_step: 0, fail_times: 1, permanent: true },
    });
    const jobId = body.job_id as string;
    await eventually(
      async () => (await engine.api('GET', `/api/v1/jobs/${jobId}`)).body.status === 'failed',
      60_000,
      'the job to fail',
    );

    await page.goto(`${served.url}/ui/#/failed?tag=${tag}`);
    const row = page.locator(`tr[data-job-id="${jobId}"]`);
    await expect.poll(() => row.count(), { timeout: 20_000 }).toBe(1);
    const { body: dead } = await engine.api('GET', `/api/v1/jobs/dead?tag=${tag}`);
    expect(dead.jobs[0].last_error).toBeTruthy();
    expect(await row.textContent()).toContain(dead.jobs[0].last_error);

    await page.getByLabel('Reason (recorded with the action)').fill('fixed upstream');
    await page.getByRole('button', { name: `retry ${tag}-job` }).click();
    await expect
      .poll(() => page.getByRole('status').filter({ hasText: 'Retried' }).textContent(), { timeout: 30_000 })
      .toContain('Retried 1 job(s)');
    const events = (await engine.api('GET', `/api/v1/jobs/${jobId}/events`)).body as {
      type: string;
      metadata: { reason?: string };
    }[];
    expect(events.find((e) => e.type === 'JobRetried')?.metadata.reason).toBe('fixed upstream');
    // It fails again (permanent), and is listed again: the list follows the live stream.
    await eventually(
      async () => (await engine.api('GET', `/api/v1/jobs/${jobId}`)).body.status === 'failed',
      60_000,
      'the job to fail again',
    );
    await expect.poll(() => row.locator('td').nth(3).textContent(), { timeout: 20_000 }).toBe('2');
  });
});
