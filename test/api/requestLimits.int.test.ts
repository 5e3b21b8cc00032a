import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonDepthExceeds } from '../../src/api/limits.js';
import { startTestEngine, type TestEngine } from '../support/testEngine.js';

/**
 * Issue: a 2.5 MB input → 500 (Temporal's blob limit), 10 MB → 500 after 42 s, 100,000-deep arrays → 500.
 * Expected: 413 / 400 in the error format, at once, nothing written.
 */
let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine();
});
afterAll(async () => {
  await engine?.dispose();
});

const post = async (url: string, body: string | ReadableStream, headers: Record<string, string> = {}) => {
  const started = performance.now();
  const response = await engine.app.request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    ...(typeof body === 'string' ? {} : { duplex: 'half' }),
  } as RequestInit);
  const ms = performance.now() - started;
  return { status: response.status, body: (await response.json()) as any, ms };
};
const bigInput = (bytes: number) => JSON.stringify({ name: 'big', type: 'noop', input: { blob: 'x'.repeat(bytes) } });
const deep = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
const expectErrorFormat = (body: any) => expect(Object.keys(body).sort()).toEqual(['details', 'error', 'timestamp']);

describe('request limits', () => {
  it('413 for a body over MAX_REQUEST_BYTES, from Content-Length or while streaming; nothing written', async () => {
    const before = engine.eventStore.lastPosition();
    const r1 = await post('/api/v1/jobs/submit', bigInput(2_500_000));
    const r2 = await post('/api/v1/jobs/submit', bigInput(10_000_000), { 'content-length': String(10_000_100) });
    const chunked = new ReadableStream({
      start(controller) {
        const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
        controller.enqueue(new TextEncoder().encode('{"name":"s","input":{"blob":"'));
        for (let i = 0; i < 40; i++) controller.enqueue(chunk);
        controller.close();
      },
    });
    const r3 = await post('/api/v1/jobs/submit', chunked);
    for (const r of [r1, r2, r3]) {
      expect(r.status).toBe(413);
      expectErrorFormat(r.body);
      expect(r.body.details).toMatch(/larger than 1048576 bytes \(MAX_REQUEST_BYTES\)/);
    }
    console.log(`[limits] 413 in ${[r1, r2, r3].map((r) => r.ms.toFixed(1)).join(' / ')} ms`);
    expect(engine.eventStore.lastPosition()).toBe(before);
  });

  it('413 naming the field for a job input over MAX_JOB_INPUT_BYTES (a Temporal payload cannot carry it)', async () => {
    const r = await post('/api/v1/jobs/submit', bigInput(300_000));
    expect(r.status).toBe(413);
    expect(r.body.details).toMatch(/^input: \d+ bytes of JSON, more than the 262144 allowed \(MAX_JOB_INPUT_BYTES\)$/);
  });

  it('400 for JSON nested deeper than MAX_JSON_DEPTH, on submit, batches and bulk', async () => {
    const before = engine.eventStore.lastPosition();
    const body = `{"name":"deep","input":{"a":${deep(100_000)}}}`;
    for (const url of ['/api/v1/jobs/submit', '/api/v1/batches', '/api/v1/jobs/bulk']) {
      const r = await post(url, body);
      expect(r.status, url).toBe(400);
      expect(r.body.details).toBe('JSON nested deeper than 64 levels (MAX_JSON_DEPTH)');
    }
    expect(engine.eventStore.lastPosition()).toBe(before);
  });

  it('batches: their own larger body limit, and the per-job input limit names the item', async () => {
    const items = [{ steps: 1, step_ms: 0 }, { blob: 'x'.repeat(300_000) }];
    const r = await post('/api/v1/batches', JSON.stringify({ name: 'b', type: 'noop', items }));
    expect(r.status).toBe(413);
    expect(r.body.details).toMatch(/^jobs\[1\]\.input: \d+ bytes of JSON/);
    const many = Array.from({ length: 20 }, () => ({ blob: 'y'.repeat(100_000) })); // 2 MB body, fine for a batch
    const ok = await post('/api/v1/batches', JSON.stringify({ name: 'b2', type: 'noop', items: many }));
    expect(ok.status).toBe(201);
  });

  it('timeout_seconds below 1 is refused instead of meaning "no timeout"', async () => {
    const r = await post('/api/v1/jobs/submit', JSON.stringify({ name: 't', type: 'noop', timeout_seconds: 0.0001 }));
    expect(r.status).toBe(400);
    expect(r.body.details).toBe('timeout_seconds: must be at least 1 second (leave it out for no timeout)');
  });
});

describe('jsonDepthExceeds', () => {
  it('counts nesting outside strings only', () => {
    expect(jsonDepthExceeds(deep(3), 3)).toBe(false);
    expect(jsonDepthExceeds(deep(4), 3)).toBe(true);
    expect(jsonDepthExceeds(JSON.stringify({ s: '[[[[[[[[["\\"[[[' }), 2)).toBe(false);
  });
});
