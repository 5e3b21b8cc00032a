import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine.js';
import { eventually, restartTestEngine, startTestEngine, type TestEngine } from '../support/testEngine.js';

let first: TestEngine;
let second: Engine | undefined;

beforeAll(async () => {
  first = await startTestEngine();
});
afterAll(async () => {
  await second?.stop();
  rmSync(first.dir, { recursive: true, force: true });
});

/** ISO 8601 with a +01:00 offset (not Z), `ms` from now. */
function inOneHourZone(ms: number): string {
  const t = new Date(Date.now() + ms + 3_600_000);
  return t.toISOString().replace('Z', '+01:00');
}

async function api(engine: Engine, method: string, url: string, body?: unknown) {
  const r = await engine.app.request(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, body: (await r.json()) as any };
}

describe('scheduled_at', () => {
  it('waits as scheduled (pause, reprioritize and cancel work meanwhile) and starts on time after a restart of the engine', async () => {
    const at = inOneHourZone(7_000);
    const submit = (extra: Record<string, unknown> = {}) =>
      first.api('POST', '/api/v1/jobs/submit', { name: 's', type: 'noop', scheduled_at: at, ...extra });
    const onTime = (await submit()).body.job_id as string;
    const steered = (await submit()).body.job_id as string;
    const job = await eventually(async () => {
      const j = (await first.api('GET', `/api/v1/jobs/${onTime}`)).body;
      return j.status === 'scheduled' ? j : undefined;
    });
    expect(Date.parse(job.scheduled_at)).toBe(Date.parse(at));
    expect((await first.api('PUT', `/api/v1/jobs/${steered}/priority`, { priority: 4 })).status).toBe(200);
    expect((await first.api('POST', `/api/v1/jobs/${steered}/pause`)).body.job.status).toBe('paused');
    expect((await first.api('POST', `/api/v1/jobs/${steered}/cancel`)).body.job.status).toBe('cancelled');

    // Both bad forms are refused.
    expect((await first.api('POST', '/api/v1/jobs/submit', { name: 'x', scheduled_at: '2026-12-01T09:00:00' })).status).toBe(400);
    expect((await first.api('POST', '/api/v1/jobs/submit', { name: 'x', scheduled_at: at, delay_seconds: 5 })).status).toBe(400);

    // Everything of the engine stops (API, workers, projector); the durable timer lives in Temporal.
    await first.stop();
    await new Promise((r) => setTimeout(r, 1500));
    second = await restartTestEngine(first);
    const done = await eventually(async () => {
      const j = (await api(second!, 'GET', `/api/v1/jobs/${onTime}`)).body;
      return j.status === 'completed' ? j : undefined;
    }, 30_000);
    const lateness = Date.parse(done.started_at) - Date.parse(at);
    console.log(`[scheduled_at] started ${lateness} ms after its time (across an engine restart)`);
    expect(lateness).toBeGreaterThanOrEqual(0);
    const events = second.eventStore.readStream(onTime).map((e) => e.type);
    expect(events.slice(0, 4)).toEqual(['JobSubmitted', 'JobScheduled', 'JobQueued', 'JobStarted']);
    expect(second.eventStore.readStream(steered).map((e) => e.type)).not.toContain('JobStarted');
  });
});
