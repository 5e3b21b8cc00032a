import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jwtAuthenticator, mintToken } from '../../src/api/auth.js';
import { startTestEngine, type TestEngine } from '../support/testEngine.js';

/**
 * Every status an operation answers must be in its OpenAPI responses. Drives each operation of the
 * document with what a client gets wrong most: no token, a wrong content type, malformed JSON, an
 * unknown id, an invalid query value — and each path with a method it does not have (405).
 */
const secret = 'openapi-secret';
let engine: TestEngine;
let admin: Record<string, string>;
let doc: any;

beforeAll(async () => {
  engine = await startTestEngine({ appOptions: { authenticate: jwtAuthenticator({ secret }) } });
  admin = { authorization: `Bearer ${await mintToken(secret, 'root', { role: 'admin' })}` };
  doc = (await engine.api('GET', '/api/v1/openapi.json')).body;
});
afterAll(async () => {
  await engine?.dispose();
});

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const operations = () =>
  Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ path, method, op })),
  );
const urlOf = (path: string) => `/api/v1${path.replace(/\{[^}]+\}/g, 'no_such_id_123')}`;
const call = async (method: string, url: string, headers: Record<string, string>, body?: string) => {
  const response = await engine.app.request(url, { method: method.toUpperCase(), headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text };
};

describe('the OpenAPI document tells the truth', () => {
  it('names the server prefix, so tools call /api/v1/jobs/...', () => {
    expect(doc.servers).toEqual([{ url: '/api/v1' }]);
    expect(operations().length).toBeGreaterThanOrEqual(20);
  });

  it('documents every status each operation answers to common mistakes', async () => {
    const undocumented: string[] = [];
    const check = (label: string, op: any, status: number) => {
      if (!(String(status) in op.responses)) undocumented.push(`${label} → ${status}`);
    };
    for (const { path, method, op } of operations()) {
      const label = `${method.toUpperCase()} ${path}`;
      const url = urlOf(path);
      if (path === '/jobs/events') {
        check(`${label} (no token)`, op, (await call(method, url, {})).status);
        check(`${label} (bad query)`, op, (await call(method, `${url}?after=-1`, admin)).status);
        continue;
      }
      const noToken = await call(method, url, {});
      expect(noToken.status, label).toBe(401);
      check(`${label} (no token)`, op, noToken.status);
      if (op.requestBody) {
        check(`${label} (text/plain)`, op, (await call(method, url, { ...admin, 'content-type': 'text/plain' }, 'hello')).status);
        check(
          `${label} (malformed JSON)`,
          op,
          (await call(method, url, { ...admin, 'content-type': 'application/json' }, '{"a":')).status,
        );
        const tooBig = JSON.stringify({ x: 'y'.repeat(2_000_000) });
        check(
          `${label} (too large)`,
          op,
          (await call(method, url, { ...admin, 'content-type': 'application/json' }, tooBig)).status,
        );
      }
      if (path.includes('{'))
        check(`${label} (unknown id)`, op, (await call(method, url, admin, op.requestBody ? '{}' : undefined)).status);
      for (const param of (op.parameters ?? []).filter(
        (p: any) => p.in === 'query' && ['integer', 'number'].includes(p.schema?.type),
      )) {
        check(`${label} (?${param.name}=abc)`, op, (await call(method, `${url}?${param.name}=abc`, admin)).status);
      }
    }
    expect(undocumented).toEqual([]);
  });

  it('answers 405 with Allow for a method a path does not have, in the error format', async () => {
    let checked = 0;
    const paths = Object.entries(doc.paths as Record<string, Record<string, any>>);
    const pattern = (p: string) => new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    for (const [path, item] of paths) {
      // Methods routed for this URL by any path (e.g. GET /jobs/bulk is GET /jobs/{job_id}).
      const url = path.replace(/\{[^}]+\}/g, 'no_such_id_123');
      const routed = new Set(paths.filter(([p]) => pattern(p).test(url)).flatMap(([, i]) => Object.keys(i)));
      const missing = METHODS.find((m) => !routed.has(m));
      if (!missing) continue;
      const r = await call(missing, urlOf(path), admin);
      expect(r.status, `${missing} ${path}`).toBe(405);
      // Allow lists every method routed for this URL (a sibling like /jobs/{job_id} may add one).
      const allow = (r.headers.get('allow') ?? '').split(', ');
      for (const m of Object.keys(item).filter((k) => METHODS.includes(k))) expect(allow).toContain(m.toUpperCase());
      expect(allow).not.toContain(missing.toUpperCase());
      expect(Object.keys(JSON.parse(r.body)).sort()).toEqual(['details', 'error', 'timestamp']);
      checked++;
    }
    expect(checked).toBeGreaterThan(10);
    expect((await call('get', '/api/v1/nothing/here', admin)).status).toBe(404);
  });

  it('an invalid control body is a 400 for batches as for jobs (it used to be ignored)', async () => {
    const created = await call(
      'post',
      '/api/v1/batches',
      { ...admin, 'content-type': 'application/json' },
      JSON.stringify({ name: 'b', type: 'noop', items: [{}] }),
    );
    expect(created.status).toBe(201);
    const batchId = JSON.parse(created.body).batch_id;
    const r = await call(
      'post',
      `/api/v1/batches/${batchId}/pause`,
      { ...admin, 'content-type': 'application/json' },
      '{"reason": 5}',
    );
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).details).toMatch(/^reason: /);
  });
});
