import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateWebhookSecret, signWebhook, verifyWebhook, webhookSecretKey } from '../../src/webhooks/signature.js';
import { DEFAULT_WEBHOOK_RETRY, webhookRetryDelayMs } from '../../src/webhooks/retryPolicy.js';
import { configureHttpEgress, staticEgressRefusal } from '../../src/jobs/egressGuard.js';
import { openEventStore } from '../../src/eventstore/index.js';
import { openReadModelDb } from '../../src/projections/readModelDb.js';
import { Projector } from '../../src/projections/projector.js';
import { readModelProjections } from '../../src/projections/readModelProjections.js';
import { rebuildReadModel } from '../../src/projections/rebuildReadModel.js';
import { WebhookEvents } from '../../src/webhooks/webhookEvents.js';

describe('Standard Webhooks signatures', () => {
  it("match the specification's reference vector", () => {
    // From the Standard Webhooks reference libraries' tests.
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const signature = signWebhook(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
    expect(signature).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('verify only the message signed, with its id, timestamp and secret', () => {
    const secret = generateWebhookSecret();
    const headers = {
      'webhook-id': 'd1',
      'webhook-timestamp': '1700000000',
      'webhook-signature': signWebhook(secret, 'd1', 1700000000, '{}'),
    };
    expect(verifyWebhook(secret, headers, '{}')).toBe(true);
    expect(verifyWebhook(secret, headers, '{ }')).toBe(false);
    expect(verifyWebhook(secret, { ...headers, 'webhook-id': 'd2' }, '{}')).toBe(false);
    expect(verifyWebhook(secret, { ...headers, 'webhook-timestamp': '1700000001' }, '{}')).toBe(false);
    expect(verifyWebhook(generateWebhookSecret(), headers, '{}')).toBe(false);
    expect(verifyWebhook(secret, { ...headers, 'webhook-signature': `v1,bm9wZQ== ${headers['webhook-signature']}` }, '{}')).toBe(
      true,
    );
  });

  it('secrets are whsec_ and 24-64 bytes of base64', () => {
    expect(Buffer.isBuffer(webhookSecretKey(generateWebhookSecret()))).toBe(true);
    expect(webhookSecretKey('abc')).toMatch(/starts with whsec_/);
    expect(webhookSecretKey('whsec_!!!')).toMatch(/base64/);
    expect(webhookSecretKey(`whsec_${Buffer.alloc(8).toString('base64')}`)).toMatch(/24 to 64 bytes/);
  });
});

describe('retry delays', () => {
  it('double from the initial interval up to the maximum, each shortened by at most the jitter', () => {
    const policy = { ...DEFAULT_WEBHOOK_RETRY, initialIntervalMs: 1000, maxIntervalMs: 10_000, jitter: 0.5 };
    expect([1, 2, 3, 4, 5, 6].map((n) => webhookRetryDelayMs(policy, n, 0))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
    expect(webhookRetryDelayMs(policy, 3, 0.999)).toBe(2002);
    // Default schedule: attempts until 24 h have gone by, about 30 of them.
    let elapsed = 0;
    let attempts = 1;
    while (elapsed + webhookRetryDelayMs(DEFAULT_WEBHOOK_RETRY, attempts, 0) <= DEFAULT_WEBHOOK_RETRY.maxDurationMs) {
      elapsed += webhookRetryDelayMs(DEFAULT_WEBHOOK_RETRY, attempts, 0);
      attempts++;
    }
    expect(attempts).toBeGreaterThan(25);
    expect(attempts).toBeLessThan(35);
  });
});

describe('URLs refused at subscription time', () => {
  afterEach(() => configureHttpEgress(undefined));

  it('are the ones that can be told unsafe without connecting', () => {
    configureHttpEgress(undefined);
    expect(staticEgressRefusal('https://hooks.example.com/x')).toBeNull();
    expect(staticEgressRefusal('http://127.0.0.1:8080/x')).toMatch(/loopback\/private/);
    expect(staticEgressRefusal('http://[::1]/x')).toMatch(/loopback\/private/);
    expect(staticEgressRefusal('http://169.254.169.254/latest')).toMatch(/loopback\/private/);
    expect(staticEgressRefusal('http://LOCALHOST./x')).toMatch(/loopback\/private/);
    expect(staticEgressRefusal('http://api.localhost/x')).toMatch(/loopback\/private/);
    expect(staticEgressRefusal('ftp://example.com/x')).toMatch(/http or https/);
    expect(staticEgressRefusal('http://user:pw@example.com/x')).toMatch(/credentials/);
    expect(staticEgressRefusal('not a url')).toBe('not a URL');
    configureHttpEgress('127.0.0.1:8080, localhost');
    expect(staticEgressRefusal('http://127.0.0.1:8080/x')).toBeNull();
    expect(staticEgressRefusal('http://127.0.0.1:8081/x')).toMatch(/loopback\/private/);
    expect(staticEgressRefusal('http://localhost:9/x')).toBeNull();
  });
});

describe('the webhook read model', () => {
  it('is the same rebuilt from the log as projected live', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webhooks-rebuild-'));
    const store = openEventStore(path.join(dir, 'events.db'));
    const live = openReadModelDb(path.join(dir, 'live.db'));
    try {
      const hook = (id: string) => ({
        webhookId: id,
        owner: 'alice',
        scope: 'owner',
        url: 'https://hooks.example.com/x',
        eventTypes: ['JobCompleted'],
        filter: { jobType: null, batchId: null, tag: 'a' },
        secret: generateWebhookSecret(),
        description: null,
        at: '2026-01-01T00:00:00.000Z',
      });
      const append = (stream: string, type: string, data: Record<string, unknown>) =>
        store.appendToStream(stream, [
          { eventId: `${stream}:${store.streamVersion(stream) + 1}`, type, data, metadata: { actor: 't' } },
        ]);
      append('webhook-wh_1', WebhookEvents.created, hook('wh_1'));
      append('webhook-wh_2', WebhookEvents.created, hook('wh_2'));
      append('webhook-wh_2', WebhookEvents.deleted, { webhookId: 'wh_2', at: '2026-01-01T00:00:01.000Z' });
      const d = 'webhook-wh_1-9';
      const base = {
        deliveryId: d,
        webhookId: 'wh_1',
        jobId: 'job_1',
        batchId: null,
        eventType: 'JobCompleted',
        eventPosition: 9,
        url: 'https://hooks.example.com/x',
        body: '{}',
      };
      append(d, WebhookEvents.deliveryRequested, { ...base, redelivery: 0, at: '2026-01-01T00:00:02.000Z' });
      const attempt = (n: number, statusCode: number, next: string | null) => ({
        deliveryId: d,
        attempt: n,
        statusCode,
        durationMs: 3,
        error: statusCode === 200 ? null : `HTTP ${statusCode}`,
        response: 'r',
        nextAttemptAt: next,
        at: '2026-01-01T00:00:03.000Z',
      });
      append(d, WebhookEvents.deliveryAttempted, attempt(1, 503, '2026-01-01T00:00:04.000Z'));
      append(d, WebhookEvents.deliveryAttempted, attempt(2, 200, null));
      append(d, WebhookEvents.delivered, { deliveryId: d, attempts: 2, at: '2026-01-01T00:00:05.000Z' });
      append(d, WebhookEvents.deliveryRequested, { ...base, redelivery: 1, at: '2026-01-01T00:00:06.000Z' });

      const projector = new Projector(store, live, readModelProjections());
      projector.catchUp();
      const rows = (db: ReturnType<typeof openReadModelDb>) => ({
        webhooks: db.prepare('SELECT * FROM webhooks ORDER BY id').all(),
        deliveries: db.prepare('SELECT * FROM webhook_deliveries ORDER BY id').all(),
      });
      const liveRows = rows(live);
      expect(liveRows.webhooks).toHaveLength(2);
      expect(liveRows.webhooks[1]).toMatchObject({ id: 'wh_2', deleted_at: '2026-01-01T00:00:01.000Z' });
      expect(liveRows.deliveries).toEqual([
        expect.objectContaining({
          id: d,
          status: 'pending',
          attempts: 2,
          redeliveries: 1,
          last_status_code: 200,
          delivered_at: null,
        }),
      ]);
      await rebuildReadModel(store, path.join(dir, 'rebuilt.db'));
      const rebuilt = openReadModelDb(path.join(dir, 'rebuilt.db'));
      expect(rows(rebuilt)).toEqual(liveRows);
      rebuilt.close();
    } finally {
      store.close();
      live.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
