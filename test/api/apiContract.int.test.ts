import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/api/auth.js';
import { rebuildReadModel } from '../../src/projections/rebuildReadModel.js';
import { openReadModelDb } from '../../src/projections/readModelDb.js';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { jwtAppOptions, testUsers, type AuthHeaders } from '../support/users.js';

const secret = 'test-secret-not-for-production';
let engine: TestEngine;
let alice: AuthHeaders;
let bob: AuthHeaders;
let admin: AuthHeaders;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

beforeAll(async () => {
  engine = await startTestEngine({ appOptions: jwtAppOptions(secret) });
  ({ alice, bob, admin } = await testUsers(secret));
});
afterAll(async () => {
  await engine?.dispose();
});

const submit = async (who: Record<string, string>, body: Record<string, unknown> = {}, headers: Record<string, string> = {}) => {
  const r = await engine.api(
    'POST',
    '/api/v1/jobs/submit',
    { name: 'api', type: 'sleep', input: { steps: 1, step_ms: 10 }, ...body },
    { ...who, ...headers },
  );
  expect([200, 201]).toContain(r.status);
  return r.body.job_id as string;
};
const completed = (id: string, who: Record<string, string>) =>
  eventually(
    async () => {
      const r = await engine.api('GET', `/api/v1/jobs/${id}`, undefined, who);
      return r.body.status === 'completed' ? r.body : undefined;
    },
    30_000,
    `${id} completed`,
  );

describe('auth', () => {
  it('refuses a missing, expired or tampered token with 401 in the error format', async () => {
    const none = await engine.api('GET', '/api/v1/jobs/list');
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ error: 'Unauthorized' });
    const expired = await engine.api(
      'GET',
      '/api/v1/jobs/list',
      undefined,
      bearer(await mintToken(secret, 'alice', { expiresInSeconds: -10 })),
    );
    expect(expired.status).toBe(401);
    expect(expired.body.details).toBe('Token expired');
    const token = await mintToken(secret, 'alice');
    const tampered = token.slice(0, -2) + (token.endsWith('A') ? 'BB' : 'AA');
    expect((await engine.api('GET', '/api/v1/jobs/list', undefined, bearer(tampered))).status).toBe(401);
    const otherSecret = await mintToken('another-secret', 'alice');
    expect((await engine.api('GET', '/api/v1/jobs/list', undefined, bearer(otherSecret))).status).toBe(401);
    // health, metrics and the docs are public
    expect((await engine.api('GET', '/healthz')).status).toBe(200);
    expect((await engine.api('GET', '/metrics')).status).toBe(200);
    expect((await engine.api('GET', '/api/v1/docs')).status).toBe(200);
  });

  it('isolates users: bob cannot read, list, control or delete alice’s jobs; admin can', async () => {
    const id = await submit(alice, { input: { steps: 2, step_ms: 3000 } });
    const read = await engine.api('GET', `/api/v1/jobs/${id}`, undefined, bob);
    expect(read.status).toBe(403);
    expect(read.body).toMatchObject({ error: 'Forbidden', details: 'Access denied to this job' });
    const bobsList = await engine.api('GET', '/api/v1/jobs/list', undefined, bob);
    expect(bobsList.body.map((j: any) => j.id)).not.toContain(id);
    for (const op of ['pause', 'cancel', 'terminate', 'retry']) {
      expect((await engine.api('POST', `/api/v1/jobs/${id}/${op}`, undefined, bob)).status).toBe(403);
    }
    expect((await engine.api('PUT', `/api/v1/jobs/${id}/priority`, { priority: 3 }, bob)).status).toBe(403);
    expect((await engine.api('DELETE', `/api/v1/jobs/${id}`, undefined, bob)).status).toBe(403);
    expect((await engine.api('GET', `/api/v1/jobs/${id}/events`, undefined, bob)).status).toBe(403);

    const bobStats = await engine.api('GET', '/api/v1/jobs/stats', undefined, bob);
    expect(bobStats.body.total_jobs).toBe(0);
    const aliceStats = await engine.api('GET', '/api/v1/jobs/stats', undefined, alice);
    expect(aliceStats.body.total_jobs).toBeGreaterThanOrEqual(1);

    const adminRead = await engine.api('GET', `/api/v1/jobs/${id}`, undefined, admin);
    expect(adminRead.status).toBe(200);
    expect(adminRead.body.user_id).toBe('alice');
    const cancelled = await engine.api('POST', `/api/v1/jobs/${id}/cancel`, undefined, admin);
    expect(cancelled.status).toBe(200);
    expect(engine.eventStore.readStream(id).find((e) => e.type === 'JobCancelled')!.metadata.actor).toBe('user:root');
  });
});

describe('contract', () => {
  it('Idempotency-Key: the same key and body give the same job; another body is a 409', async () => {
    const key = { 'idempotency-key': `k-${Date.now()}` };
    const first = await engine.api(
      'POST',
      '/api/v1/jobs/submit',
      { name: 'idem', type: 'sleep', input: { steps: 1, step_ms: 5 } },
      { ...alice, ...key },
    );
    expect(first.status).toBe(201);
    const again = await engine.api(
      'POST',
      '/api/v1/jobs/submit',
      { name: 'idem', type: 'sleep', input: { steps: 1, step_ms: 5 } },
      { ...alice, ...key },
    );
    expect(again.status).toBe(200);
    expect(again.body.job_id).toBe(first.body.job_id);
    await completed(first.body.job_id, alice);
    const afterDone = await engine.api(
      'POST',
      '/api/v1/jobs/submit',
      { name: 'idem', type: 'sleep', input: { steps: 1, step_ms: 5 } },
      { ...alice, ...key },
    );
    expect(afterDone.body.job_id).toBe(first.body.job_id);
    const other = await engine.api(
      'POST',
      '/api/v1/jobs/submit',
      { name: 'idem', type: 'sleep', input: { steps: 2, step_ms: 5 } },
      { ...alice, ...key },
    );
    expect(other.status).toBe(409);
    // Another user with the same key gets a job of their own.
    const bobs = await engine.api(
      'POST',
      '/api/v1/jobs/submit',
      { name: 'idem', type: 'sleep', input: { steps: 1, step_ms: 5 } },
      { ...bob, ...key },
    );
    expect(bobs.body.job_id).not.toBe(first.body.job_id);
    expect(engine.eventStore.readStream(first.body.job_id).filter((e) => e.type === 'JobSubmitted')).toHaveLength(1);
  });

  it('pages the list with a cursor (X-Next-Cursor, Link) and keeps the plain array; filters by type, priority, name', async () => {
    const carol = bearer(await mintToken(secret, 'carol'));
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await submit(carol, { name: `page-${i}`, priority: (i % 4) + 1 }));
    const seen: string[] = [];
    let url: string | undefined = '/api/v1/jobs/list?limit=2';
    while (url) {
      const r = await engine.api('GET', url, undefined, carol);
      expect(r.status).toBe(200);
      expect(Array.isArray(r.body)).toBe(true);
      seen.push(...r.body.map((j: any) => j.id));
      const next = r.headers.get('x-next-cursor');
      if (next) expect(r.headers.get('link')).toContain('rel="next"');
      url = next ? `/api/v1/jobs/list?limit=2&cursor=${encodeURIComponent(next)}` : undefined;
    }
    expect([...seen].sort()).toEqual([...ids].sort());
    expect(seen).toEqual([...ids].reverse()); // newest first
    const byPriority = await engine.api('GET', '/api/v1/jobs/list?priority=4', undefined, carol);
    expect(byPriority.body.map((j: any) => j.name)).toEqual(['page-3']);
    const byName = await engine.api('GET', '/api/v1/jobs/list?name=page-1', undefined, carol);
    expect(byName.body.map((j: any) => j.id)).toEqual([ids[1]]);
    expect((await engine.api('GET', '/api/v1/jobs/list?cursor=garbage', undefined, carol)).status).toBe(400);
    expect((await engine.api('GET', '/api/v1/jobs/list?status=weird', undefined, carol)).status).toBe(400);
    expect((await engine.api('GET', '/api/v1/jobs/list?limit=0', undefined, carol)).status).toBe(400);
  });

  it('DELETE removes a finished job and its result files and leaves a tombstone; a running job is a 409', async () => {
    const id = await submit(alice, { type: 'report', input: { rows: 5, chunks: 1 } });
    await completed(id, alice);
    const dir = path.join(engine.dir, 'results', id);
    expect(readdirSync(dir)).toEqual(['part-000.csv']);
    const running = await submit(alice, { input: { steps: 2, step_ms: 2000 } });
    const conflict = await engine.api('DELETE', `/api/v1/jobs/${running}`, undefined, alice);
    expect(conflict.status).toBe(409);
    const del = await engine.api('DELETE', `/api/v1/jobs/${id}`, undefined, alice);
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ success: true, message: 'Job deleted successfully' });
    expect((await engine.api('GET', `/api/v1/jobs/${id}`, undefined, alice)).status).toBe(404);
    expect(existsSync(dir)).toBe(false);
    expect(engine.eventStore.readStream(id).at(-1)!.type).toBe('JobDeleted');
    await engine.api('POST', `/api/v1/jobs/${running}/cancel`, undefined, alice);
  });

  it('cleanup validates max_age_hours (1-168) and answers in its format', async () => {
    for (const bad of ['0', '169', 'abc']) {
      const r = await engine.api('POST', `/api/v1/jobs/cleanup?max_age_hours=${bad}`, undefined, admin);
      expect(r.status).toBe(400);
      expect(r.body.details).toContain('max_age_hours');
    }
    const ok = await engine.api('POST', '/api/v1/jobs/cleanup?max_age_hours=1', undefined, admin);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ success: true, cleaned_jobs: 0, freed_space_mb: 0 });
  });

  it('bulk: one action, per-job outcomes, never touching another user’s job', async () => {
    const a1 = await submit(alice, { input: { steps: 3, step_ms: 2000 } });
    const a2 = await submit(alice, { input: { steps: 3, step_ms: 2000 } });
    const b1 = await submit(bob, { input: { steps: 3, step_ms: 2000 } });
    const r = await engine.api('POST', '/api/v1/jobs/bulk', { action: 'cancel', ids: [a1, a2, b1, 'job_missing'] }, alice);
    expect(r.status).toBe(200);
    expect(r.body.results.map((x: any) => [x.job_id, x.success])).toEqual([
      [a1, true],
      [a2, true],
      [b1, false],
      ['job_missing', false],
    ]);
    expect(r.body.results[2].error).toBe('Access denied to this job');
    expect((await engine.api('GET', `/api/v1/jobs/${b1}`, undefined, bob)).body.status).not.toBe('cancelled');
    // b1 runs once the default pool admits it (a moment after submit).
    await eventually(async () => (await engine.api('GET', `/api/v1/jobs/${b1}`, undefined, bob)).body.status === 'running');
    const byFilter = await engine.api(
      'POST',
      '/api/v1/jobs/bulk',
      { action: 'reprioritize', priority: 4, filter: { status: 'running' } },
      bob,
    );
    expect(byFilter.body.results.map((x: any) => x.job_id)).toEqual([b1]);
    expect((await engine.api('POST', '/api/v1/jobs/bulk', { action: 'pause' }, bob)).status).toBe(400);
    await engine.api('POST', `/api/v1/jobs/${b1}/cancel`, undefined, bob);
  });

  it('SSE: streams job changes and resumes after Last-Event-ID without gaps or repeats', async () => {
    const id = await submit(alice, { input: { steps: 2, step_ms: 10 } });
    await completed(id, alice);
    const stream = engine.eventStore.readStream(id);
    const from = stream[1]!.globalPosition; // resume after the second event of the job
    const controller = new AbortController();
    const response = await engine.app.request(`/api/v1/jobs/events?job_id=${id}`, {
      headers: { ...alice, 'last-event-id': String(from) },
      signal: controller.signal,
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    let text = '';
    const expected = stream.filter((e) => e.globalPosition > from).length;
    while ((text.match(/^id: /gm) ?? []).length < expected) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    controller.abort();
    await reader.cancel().catch(() => {});
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids).toEqual(stream.filter((e) => e.globalPosition > from).map((e) => e.globalPosition));
    expect(text).toContain('event: JobCompleted');
  });

  it('serves OpenAPI 3.1 generated from the schemas, readiness and Prometheus metrics', async () => {
    const doc = await engine.api('GET', '/api/v1/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    for (const p of [
      '/jobs/submit',
      '/jobs/list',
      '/jobs/stats',
      '/jobs/{job_id}',
      '/jobs/{job_id}/pause',
      '/jobs/bulk',
      '/jobs/cleanup',
      '/jobs/events',
    ]) {
      expect(Object.keys(doc.body.paths)).toContain(p);
    }
    expect(doc.body.components.schemas.SubmitJobRequest.properties.priority).toMatchObject({ minimum: 1, maximum: 4 });
    const ready = await engine.api('GET', '/readyz');
    // The checks first: a failure then names the one that failed.
    expect(ready.body.checks).toMatchObject({ temporal: { ok: true }, store: { ok: true }, projector: { ok: true } });
    expect(ready.status).toBe(200);
    const metrics = await engine.api('GET', '/metrics');
    expect(metrics.body).toMatch(/jobs_by_status\{status="completed"\} \d+/);
    expect(metrics.body).toContain('http_request_duration_seconds_bucket');
    expect(metrics.body).toContain('projector_lag_events');
  });

  it('a rebuild of the read model from the log equals the live read model, row by row', async () => {
    // The jobs above are a mixed workload: completed, cancelled, deleted, reprioritized, failed…
    const failing = await submit(alice, { type: 'flaky', input: { steps: 1, step_ms: 1, permanent: true, fail_on_step: 0 } });
    await eventually(
      async () => (await engine.api('GET', `/api/v1/jobs/${failing}`, undefined, alice)).body.status === 'failed',
      30_000,
      'failed',
    );
    // Let every running job of this file settle, then compare.
    await eventually(
      async () => {
        const stats = (await engine.api('GET', '/api/v1/jobs/stats', undefined, admin)).body;
        return stats.running + stats.pending + stats.paused === 0;
      },
      60_000,
      'all jobs finished',
    );
    await eventually(() => engine.projector.checkpoint() === engine.eventStore.lastPosition(), 10_000, 'projector caught up');
    const target = path.join(engine.dir, 'rebuilt.db');
    const result = await rebuildReadModel(engine.eventStore, target);
    expect(result.events).toBe(engine.eventStore.lastPosition());
    const rebuilt = openReadModelDb(target);
    const dump = (db: typeof rebuilt, table: string, order: string) =>
      db.prepare(`SELECT * FROM ${table} ORDER BY ${order}`).all();
    const live = dump(engine.readModelDb, 'jobs', 'id');
    expect(live.length).toBeGreaterThan(10);
    expect(dump(rebuilt, 'jobs', 'id')).toEqual(live);
    expect(dump(rebuilt, 'job_counts', 'owner, status')).toEqual(dump(engine.readModelDb, 'job_counts', 'owner, status'));
    expect(dump(rebuilt, 'job_throughput', 'minute, owner')).toEqual(dump(engine.readModelDb, 'job_throughput', 'minute, owner'));
    rebuilt.close();
  });
});
