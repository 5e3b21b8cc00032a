/**
 * The dashboard with JWT authentication on, in a real browser: the page asks for a token once, keeps it
 * in the tab's session storage (a reload does not ask again), sends it on every call and on the live
 * stream (never in a URL), and a user sees only their own jobs.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { serveOverHttp } from '../support/http.js';
import { launchChromium } from '../support/browser.js';
import { jwtAppOptions, testUsers, type AuthHeaders } from '../support/users.js';

let engine: TestEngine;
let served: Awaited<ReturnType<typeof serveOverHttp>>;
let browser: Browser;
let page: Page;
let users: { alice: AuthHeaders; bob: AuthHeaders; admin: AuthHeaders };
const requestUrls: string[] = [];
const streamAuthorizations: (string | undefined)[] = [];

beforeAll(async () => {
  const secret = randomUUID();
  engine = await startTestEngine({ appOptions: jwtAppOptions(secret) });
  users = await testUsers(secret);
  served = await serveOverHttp(engine.app);
  browser = await launchChromium();
  page = await browser.newPage();
  page.on('request', (request) => {
    requestUrls.push(request.url());
    if (new URL(request.url()).pathname === '/api/v1/jobs/events') streamAuthorizations.push(request.headers().authorization);
  });
});
afterAll(async () => {
  await browser?.close();
  await served?.close();
  await engine?.dispose();
});

async function submit(name: string, as: AuthHeaders) {
  const { status, body } = await engine.api('POST', '/api/v1/jobs/submit', { name, type: 'noop' }, as);
  expect(status).toBe(201);
  return body.job_id as string;
}

describe('dashboard with JWT', () => {
  it('asks for a token once, keeps it for the tab, and shows the user only their jobs, live', async () => {
    const aliceJob = `alice-${randomUUID().slice(0, 8)}`;
    const bobJob = `bob-${randomUUID().slice(0, 8)}`;
    await submit(aliceJob, users.alice);
    await submit(bobJob, users.bob);

    await page.goto(`${served.url}/ui/#/jobs`);
    const tokenInput = page.getByLabel('API token', { exact: true });
    await expect.poll(() => tokenInput.count(), { timeout: 20_000 }).toBe(1);
    const aliceToken = users.alice.authorization!.replace('Bearer ', '');
    await tokenInput.fill(aliceToken);
    await page.getByRole('button', { name: 'Use token' }).click();

    await expect.poll(() => page.getByRole('link', { name: aliceJob }).count(), { timeout: 20_000 }).toBe(1);
    expect(await page.getByRole('link', { name: bobJob }).count()).toBe(0);
    expect(await page.locator('.user').textContent()).toBe('alice (user)');
    // Admins' owner filter is not offered to a user.
    expect(await page.getByLabel('Owner').count()).toBe(0);
    await expect.poll(() => page.locator('.live').textContent(), { timeout: 20_000 }).toBe('Live');

    // A new job of alice's appears on the open page (the stream carries her token); bob's does not.
    const aliceLater = `alice-later-${randomUUID().slice(0, 8)}`;
    const bobLater = `bob-later-${randomUUID().slice(0, 8)}`;
    await submit(bobLater, users.bob);
    await submit(aliceLater, users.alice);
    await expect.poll(() => page.getByRole('link', { name: aliceLater }).count(), { timeout: 20_000 }).toBe(1);
    expect(await page.getByRole('link', { name: bobLater }).count()).toBe(0);

    // A reload keeps the token (session storage): no second prompt.
    await page.reload();
    await expect.poll(() => page.getByRole('link', { name: aliceLater }).count(), { timeout: 20_000 }).toBe(1);
    expect(await tokenInput.count()).toBe(0);

    expect(streamAuthorizations.length).toBeGreaterThanOrEqual(2);
    expect(streamAuthorizations.filter(Boolean).every((h) => h === `Bearer ${aliceToken}`)).toBe(true);
    expect(requestUrls.filter((url) => url.includes(aliceToken))).toEqual([]);
  });

  it("refuses a job page of another user's job and offers to forget the token", async () => {
    const bobJobId = await submit(`bob-${randomUUID().slice(0, 8)}`, users.bob);
    await page.goto(`${served.url}/ui/#/jobs/${bobJobId}`);
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: 20_000 }).toContain('Access denied');
    await page.getByRole('button', { name: 'Forget token' }).click();
    await eventually(async () => (await page.getByLabel('API token', { exact: true }).count()) === 1, 20_000, 'the token form');
  });
});
