import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowNotFoundError } from '@temporalio/client';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { jwtAppOptions, testUsers, type AuthHeaders } from '../support/users.js';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from '../support/webhookReceiver.js';
import { freePort } from '../../src/temporal/devServer.js';
import { generateWebhookSecret, verifyWebhook } from '../../src/webhooks/signature.js';

/**
 * Webhooks end to end on the dev server: subscriptions through the API, deliveries as workflows
 * started by the dispatcher, POSTed to a local receiver that checks the Standard Webhooks signature.
 * Retry delays are short through the engine's options (not its defaults).
 */
const jwtSecret = 'webhooks-test-secret';
const callbackSecret = generateWebhookSecret();
let engine: TestEngine;
let receiver: WebhookReceiver;
let users: { alice: AuthHeaders; bob: AuthHeaders; admin: AuthHeaders };

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  engine = await startTestEngine({
    appOptions: jwtAppOptions(jwtSecret),
    httpJobAllowedHosts: '127.0.0.1',
    webhooks: {
      callbackSecret,
      retry: { initialIntervalMs: 300, backoffCoefficient: 2, maxIntervalMs: 1500, jitter: 0.5, maxDurationMs: 120_000 },
      requestTimeoutMs: 5_000,
    },
  });
  users = await testUsers(jwtSecret);
});
afterAll(async () => {
  await engine?.dispose();
  await receiver?.close();
});

const subscribe = async (user: AuthHeaders, body: Record<string, unknown>) => {
  const res = await engine.api('POST', '/api/v1/webhooks', body, user);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; secret: string };
};
const submit = async (user: AuthHeaders, body: Record<string, unknown>) => {
  const res = await engine.api('POST', '/api/v1/jobs/submit', { name: 'hooked', type: 'noop', ...body }, user);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.job_id as string;
};
const jobEnded = (jobId: string) =>
  eventually(
    () => ['completed', 'failed', 'cancelled'].includes(engine.readModel.getJob(jobId)?.status ?? ''),
    60_000,
    `${jobId} to end`,
  );
const receivedAt = (path: string) => receiver.received.filter((r) => r.path === path);
const payloadOf = (r: ReceivedWebhook) => JSON.parse(r.body);
const firstAt = (path: string) => eventually(() => receivedAt(path)[0], 60_000, `a delivery to ${path}`);
/** The position of the job's last event: once the dispatcher is past it, every delivery it makes has started. */
const dispatchedPast = async (jobId: string) => {
  const last = engine.eventStore.readStream(jobId).at(-1)!.globalPosition;
  await eventually(() => engine.webhookDispatcher.checkpoint() >= last, 30_000, 'the dispatcher');
  return last;
};

describe('webhooks', () => {
  it("delivers a job's end to a subscription, signed with its secret, and logs the delivery", async () => {
    const hook = await subscribe(users.alice, { url: receiver.url('/basic'), event_types: ['JobCompleted'] });
    expect(hook.secret).toMatch(/^whsec_/);
    const jobId = await submit(users.alice, {});
    const delivery = await firstAt('/basic');
    expect(verifyWebhook(hook.secret, delivery.headers, delivery.body)).toBe(true);
    expect(verifyWebhook(generateWebhookSecret(), delivery.headers, delivery.body)).toBe(false);
    expect(Math.abs(Number(delivery.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(600);
    const payload = payloadOf(delivery);
    expect(payload.type).toBe('JobCompleted');
    expect(payload.data.job).toMatchObject({ id: jobId, status: 'completed', user_id: 'alice', type: 'noop' });
    expect(payload.data.event.stream_id).toBe(jobId);
    expect(delivery.headers['webhook-id']).toBe(`webhook-${hook.id}-${payload.data.event.position}`);

    const log = await eventually(async () => {
      const res = await engine.api('GET', `/api/v1/webhooks/${hook.id}/deliveries`, undefined, users.alice);
      return res.body[0]?.status === 'delivered' && res.body;
    });
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ id: delivery.headers['webhook-id'], attempts: 1, last_status_code: 200, job_id: jobId });
    // The subscription is alice's: bob cannot see it; the secret is not shown again.
    expect((await engine.api('GET', `/api/v1/webhooks/${hook.id}`, undefined, users.bob)).status).toBe(403);
    const shown = await engine.api('GET', `/api/v1/webhooks/${hook.id}`, undefined, users.alice);
    expect(shown.body).toMatchObject({ id: hook.id, event_types: ['JobCompleted'], user_id: 'alice' });
    expect(shown.body.secret).toBeUndefined();

    // Redelivery on demand: the same delivery id and body again.
    const redeliver = await engine.api(
      'POST',
      `/api/v1/webhooks/${hook.id}/deliveries/${log[0].id}/redeliver`,
      undefined,
      users.alice,
    );
    expect(redeliver.status, JSON.stringify(redeliver.body)).toBe(202);
    await eventually(() => receivedAt('/basic').length === 2, 30_000, 'the redelivery');
    expect(receivedAt('/basic')[1]!.body).toBe(delivery.body);
    expect(receivedAt('/basic')[1]!.headers['webhook-id']).toBe(delivery.headers['webhook-id']);
    await eventually(async () => {
      const res = await engine.api('GET', `/api/v1/webhooks/${hook.id}/deliveries/${log[0].id}`, undefined, users.alice);
      return res.body.status === 'delivered' && res.body.redeliveries === 1 && res.body.attempt_log.length === 2;
    });
  });

  it('retries through an outage (connection refused, then 503) until the receiver answers, every attempt in the log', async () => {
    const port = await freePort();
    const hook = await subscribe(users.alice, { url: `http://127.0.0.1:${port}/outage`, event_types: ['JobCompleted'] });
    await submit(users.alice, {});
    // Nobody listens on the port yet: connection refused, attempt after attempt.
    const deliveries = () => engine.api('GET', `/api/v1/webhooks/${hook.id}/deliveries`, undefined, users.alice);
    await eventually(async () => (await deliveries()).body[0]?.attempts >= 2, 60_000, 'two refused attempts');
    const late = await startWebhookReceiver(port);
    try {
      late.failNext('/outage', 503, 503);
      await eventually(async () => (await deliveries()).body[0]?.status === 'delivered', 60_000, 'the delivery');
      const [row] = (await deliveries()).body;
      const detail = (await engine.api('GET', `/api/v1/webhooks/${hook.id}/deliveries/${row.id}`, undefined, users.alice)).body;
      const codes = detail.attempt_log.map((a: { status_code: number | null }) => a.status_code);
      expect(codes.slice(0, 2)).toEqual([null, null]); // refused
      expect(codes.slice(-3)).toEqual([503, 503, 200]);
      expect(detail.attempt_log[0].error).toMatch(/ECONNREFUSED/);
      expect(detail.attempts).toBe(codes.length);
      expect(late.successesById()).toEqual(new Map([[row.id, 1]]));
      expect(late.received.every((r) => verifyWebhook(hook.secret, r.headers, r.body))).toBe(true);
    } finally {
      await late.close();
    }
  });

  it('filters by owner, job type and tag; an admin subscription hears every owner', async () => {
    const byType = await subscribe(users.alice, { url: receiver.url('/type'), event_types: ['JobCompleted'], job_type: 'sleep' });
    const byTag = await subscribe(users.alice, { url: receiver.url('/tag'), event_types: ['*'], tag: 'urgent' });
    const all = await subscribe(users.admin, { url: receiver.url('/admin'), event_types: ['JobCompleted'] });
    const sleepJob = await submit(users.alice, { type: 'sleep', input: { steps: 1, step_ms: 10 } });
    const taggedNoop = await submit(users.alice, { tags: ['urgent'] });
    const bobsTagged = await submit(users.bob, { tags: ['urgent'], type: 'sleep', input: { steps: 1, step_ms: 10 } });
    for (const job of [sleepJob, taggedNoop, bobsTagged]) {
      await jobEnded(job);
      await dispatchedPast(job);
    }
    const jobsAt = (path: string) => new Set(receivedAt(path).map((r) => payloadOf(r).data.job.id));
    await eventually(
      () => jobsAt('/admin').size === 3 && jobsAt('/type').size === 1 && jobsAt('/tag').size === 1,
      60_000,
      'deliveries',
    );
    expect([...jobsAt('/type')]).toEqual([sleepJob]);
    expect([...jobsAt('/tag')]).toEqual([taggedNoop]); // bob's tagged job is not alice's
    expect(jobsAt('/admin')).toEqual(new Set([sleepJob, taggedNoop, bobsTagged]));
    // `*`: every event of the tagged job, in the order of the log, each delivery signed.
    await eventually(() => receivedAt('/tag').some((r) => payloadOf(r).type === 'JobCompleted'), 30_000, 'its JobCompleted');
    const types = receivedAt('/tag').map((r) => payloadOf(r).type);
    expect(types).toContain('JobSubmitted');
    expect(types).toContain('JobStarted');
    expect(receivedAt('/tag').every((r) => verifyWebhook(byTag.secret, r.headers, r.body))).toBe(true);
    expect(receivedAt('/type').every((r) => verifyWebhook(byType.secret, r.headers, r.body))).toBe(true);
    expect(receivedAt('/admin').every((r) => verifyWebhook(all.secret, r.headers, r.body))).toBe(true);
  });

  it("POSTs a job's end to its callback_url (submit and batch item), signed with the engine's callback secret", async () => {
    const jobId = await submit(users.bob, {
      callback_url: receiver.url('/callback'),
      type: 'flaky',
      input: { steps: 1, step_ms: 1, fail_on_step: 0, permanent: true },
    });
    const batch = await engine.api(
      'POST',
      '/api/v1/batches',
      {
        name: 'hooked batch',
        jobs: [
          { name: 'item', type: 'noop', callback_url: receiver.url('/batch-callback') },
          { name: 'silent', type: 'noop' },
        ],
      },
      users.bob,
    );
    expect(batch.status, JSON.stringify(batch.body)).toBe(201);
    const callback = await firstAt('/callback');
    expect(verifyWebhook(callbackSecret, callback.headers, callback.body)).toBe(true);
    expect(payloadOf(callback)).toMatchObject({ type: 'JobFailed', data: { job: { id: jobId, status: 'failed' } } });
    expect(callback.headers['webhook-id']).toMatch(new RegExp(`^callback-${jobId}-\\d+$`));
    const item = await firstAt('/batch-callback');
    expect(verifyWebhook(callbackSecret, item.headers, item.body)).toBe(true);
    expect(payloadOf(item)).toMatchObject({
      type: 'JobCompleted',
      data: { job: { batch_id: batch.body.batch_id, name: 'item' } },
    });
    // The URL is part of the job's record: JobSubmitted carries it (a rebuild keeps it).
    expect(engine.eventStore.readStream(jobId)[0]!.data.callbackUrl).toBe(receiver.url('/callback'));
    await eventually(
      async () =>
        (await engine.api('GET', `/api/v1/batches/${batch.body.batch_id}`, undefined, users.bob)).body.status === 'completed',
    );
    for (const job of engine.readModel.listJobs({ batchId: batch.body.batch_id, limit: 10 }).jobs) await dispatchedPast(job.id);
    expect(receivedAt('/batch-callback')).toHaveLength(1); // the other item has no callback_url
  });

  it('a deleted subscription starts no new deliveries', async () => {
    const hook = await subscribe(users.alice, { url: receiver.url('/deleted'), event_types: ['*'] });
    const del = await engine.api('DELETE', `/api/v1/webhooks/${hook.id}`, undefined, users.alice);
    expect(del.status).toBe(200);
    expect((await engine.api('GET', `/api/v1/webhooks/${hook.id}`, undefined, users.alice)).status).toBe(404);
    expect(
      (await engine.api('GET', '/api/v1/webhooks', undefined, users.alice)).body.map((w: { id: string }) => w.id),
    ).not.toContain(hook.id);
    const jobId = await submit(users.alice, {});
    await jobEnded(jobId);
    const last = await dispatchedPast(jobId);
    const handle = engine.client.workflow.getHandle(`webhook-${hook.id}-${last}`);
    await expect(handle.describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    expect(receivedAt('/deleted')).toHaveLength(0);
  });

  it('refuses bad input with a 400 that says why', async () => {
    const bad = async (body: Record<string, unknown>, pattern: RegExp) => {
      const res = await engine.api('POST', '/api/v1/webhooks', body, users.alice);
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.details).toMatch(pattern);
    };
    const url = receiver.url('/never');
    await bad(
      { url, event_types: ['JobDone'] },
      /event_types: unknown JobDone; valid: \*, JobSubmitted, .*JobCompleted.*BatchCompleted/,
    );
    await bad({ url: 'http://10.1.2.3/hook', event_types: ['*'] }, /url: .*loopback\/private.*HTTP_JOB_ALLOWED_HOSTS/);
    await bad({ url: 'http://localhost:9/hook', event_types: ['*'] }, /url: .*loopback\/private/);
    await bad({ url: 'file:///etc/passwd', event_types: ['*'] }, /url/);
    await bad({ url, event_types: [] }, /event_types/);
    await bad({ url, event_types: ['*'], secret: 'not-a-secret' }, /secret: a secret starts with whsec_/);
    await bad({ url, event_types: ['*'], colour: 'red' }, /colour|Unrecognized/i);
    const submitRes = await engine.api(
      'POST',
      '/api/v1/jobs/submit',
      { name: 'x', type: 'noop', callback_url: 'http://169.254.169.254/latest' },
      users.alice,
    );
    expect(submitRes.status).toBe(400);
    expect(submitRes.body.details).toMatch(/^callback_url: .*loopback\/private/);
    const batchRes = await engine.api(
      'POST',
      '/api/v1/batches',
      { name: 'b', jobs: [{ name: 'a', type: 'noop', callback_url: 'http://192.168.1.1/x' }] },
      users.alice,
    );
    expect(batchRes.status).toBe(400);
    expect(batchRes.body.details).toMatch(/jobs\[0\]\.callback_url/);
    expect((await engine.api('GET', '/api/v1/webhooks/wh_nope', undefined, users.alice)).status).toBe(404);
  });

  it('never reports a delivery id as succeeded twice except on demand', () => {
    const redelivered = new Set(
      receivedAt('/basic').map((r) => r.headers['webhook-id']), // redelivered on purpose above
    );
    for (const [id, count] of receiver.successesById()) if (!redelivered.has(id)) expect(count, id).toBe(1);
    expect(receiver.successesById().size).toBeGreaterThan(5);
  });
});
