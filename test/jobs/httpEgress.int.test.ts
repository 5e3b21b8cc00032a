import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configureHttpEgress } from '../../src/jobs/egressGuard.js';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';

/** Issue 16: any user could make the server fetch loopback addresses (e.g. the Temporal UI's API). */
let engine: TestEngine;
let server: http.Server;
let port: number;
let hits = 0;

beforeAll(async () => {
  engine = await startTestEngine();
  server = http.createServer((_req, res) => {
    hits++;
    res.end('internal data');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterEach(() => configureHttpEgress(undefined));
afterAll(async () => {
  server.close();
  await engine?.dispose();
});

async function runToEnd(input: unknown): Promise<any> {
  const r = await engine.api('POST', '/api/v1/jobs/submit', { name: 'egress', type: 'http', input });
  expect(r.status).toBe(201);
  return eventually(
    async () => {
      const j = (await engine.api('GET', `/api/v1/jobs/${r.body.job_id}`)).body;
      return ['failed', 'completed'].includes(j.status) ? j : undefined;
    },
    30_000,
    'a final status',
  );
}

describe('an http job aimed at a loopback address', () => {
  it('fails permanently after one attempt, says why, and never reaches the server', async () => {
    hits = 0;
    const job = await runToEnd({ url: `http://localhost:${port}/api/v1/namespaces` });
    expect(job.status).toBe('failed');
    expect(job.error_type).toBe('PermanentJobError');
    expect(job.error_message).toMatch(
      new RegExp(
        `^http job: localhost:${port} resolves to (127\\.0\\.0\\.1|::1), a loopback/private address; set HTTP_JOB_ALLOWED_HOSTS to allow it$`,
      ),
    );
    expect(job.attempts).toBe(1);
    expect(hits).toBe(0);
  });

  it('runs when the operator allows that address and port', async () => {
    hits = 0;
    configureHttpEgress(`127.0.0.1:${port}`);
    const job = await runToEnd({ url: `http://127.0.0.1:${port}/` });
    expect(job.status).toBe('completed');
    expect(job.result).toEqual({ status: 200, bytes: 'internal data'.length });
    expect(hits).toBe(1);
  });

  it('cannot be widened from the job input', async () => {
    const r = await engine.api('POST', '/api/v1/jobs/submit', {
      name: 'egress',
      type: 'http',
      input: { url: `http://127.0.0.1:${port}/`, allowed_hosts: `127.0.0.1:${port}` },
    });
    expect(r.status).toBe(400);
  });
});
