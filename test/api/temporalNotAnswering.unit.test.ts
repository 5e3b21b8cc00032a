import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Client, Connection, makeGrpcRetryInterceptor } from '@temporalio/client';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onError, temporalNotAnswering } from '../../src/api/errors.js';

/**
 * A Temporal server that is down or restarting answers the API's calls with gRPC errors: the API
 * answers 503 (try again), not 500. Real errors from a real client, against a port nobody listens on.
 */
let client: Client;
let connection: Connection;

beforeAll(async () => {
  // A port that was free a moment ago: connections to it are refused.
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  connection = Connection.lazy({
    address: `127.0.0.1:${port}`,
    // One try: the default retries UNAVAILABLE for about 20 s.
    interceptors: [makeGrpcRetryInterceptor({ delayFunction: () => 0, retryableDecider: () => false })],
  });
  client = new Client({ connection });
});
afterAll(async () => {
  await connection?.close();
});

const appThrowing = (call: () => Promise<unknown>) => {
  const app = new Hono();
  app.onError(onError);
  app.post('/control', async (c) => c.json(await call()));
  return app;
};

describe('Temporal not answering', () => {
  it('an Update to an unreachable server answers 503 in the error format, with Retry-After', async () => {
    let thrown: unknown;
    const app = appThrowing(() =>
      client.workflow
        .getHandle('job_x')
        .executeUpdate('pause', { args: [{}] })
        .catch((error: unknown) => {
          thrown = error;
          throw error;
        }),
    );
    const response = await app.request('/control', { method: 'POST' });
    expect(temporalNotAnswering(thrown), String(thrown)).toBe(true);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    const body = (await response.json()) as { error: string; details: string };
    expect(Object.keys(body).sort()).toEqual(['details', 'error', 'timestamp']);
    expect(body.error).toBe('Service Unavailable');
    expect(body.details).toMatch(/Temporal did not answer/);
  });

  it('a start refused the same way too; any other error stays a 500', async () => {
    const start = appThrowing(() => client.workflow.start('jobWorkflow', { workflowId: 'job_y', taskQueue: 'q', args: [] }));
    expect((await start.request('/control', { method: 'POST' })).status).toBe(503);
    const other = appThrowing(async () => {
      throw new Error('a bug');
    });
    expect((await other.request('/control', { method: 'POST' })).status).toBe(500);
    expect(temporalNotAnswering(new Error('14 UNAVAILABLE'))).toBe(false); // a message alone is not a gRPC status
  });
});
