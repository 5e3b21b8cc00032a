import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';

/** Issue: any user could make the server fetch loopback addresses (e.g. the Temporal UI's API). */
let engine: TestEngine;
let server: http.Server;
let hits = 0;

beforeAll(async () => {
  engine = await startTestEngine();
  server = http.createServer((_req, res) => {
    hits++;
    res.end('internal data');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  server.close();
  await engine?.dispose();
});

describe('an http job aimed at a loopback address', () => {
  it('fails permanently after one attempt, says why, and never reaches the server', async () => {
    const url = `http://localhost:${(server.address() as AddressInfo).port}/api/v1/namespaces`;
    const r = await engine.api('POST', '/api/v1/jobs/submit', { name: 'ssrf', type: 'http', input: { url } });
    expect(r.status).toBe(201);
    const job = await eventually(async () => {
      const j = (await engine.api('GET', `/api/v1/jobs/${r.body.job_id}`)).body;
      return j.status === 'failed' ? j : undefined;
    }, 30_000, 'failed');
    expect(job.error_type).toBe('PermanentJobError');
    expect(job.error_message).toMatch(/resolves to (127\.0\.0\.1|::1), a loopback\/private address; set HTTP_JOB_ALLOWED_HOSTS/);
    expect(job.attempts).toBe(1);
    expect(hits).toBe(0);
  });
});
