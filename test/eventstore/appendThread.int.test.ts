import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';

/**
 * The engine with its event store committing in the append thread (EVENTSTORE_APPEND_THREAD=1):
 * jobs submitted at once and one steered while it runs end as they do without it, every event once.
 */
let engine: TestEngine;
beforeAll(async () => {
  engine = await startTestEngine({ eventStoreAppendThread: true });
});
afterAll(async () => {
  await engine?.dispose();
});

describe('the engine with the append thread', () => {
  it('20 concurrent submits and a paused and resumed job all complete, each event recorded once', async () => {
    const submits = await Promise.all(
      Array.from({ length: 20 }, (_, i) => engine.api('POST', '/api/v1/jobs/submit', { name: `t${i}`, type: 'noop', input: {} })),
    );
    expect(submits.map((r) => r.status)).toEqual(Array(20).fill(201));
    const steered = await engine.api('POST', '/api/v1/jobs/submit', {
      name: 'steered',
      type: 'sleep',
      input: { steps: 4, step_ms: 300 },
    });
    expect(steered.status).toBe(201);
    const id = steered.body.job_id as string;
    // Readable at once: the submit answered after its JobSubmitted was committed by the thread.
    for (const r of submits) expect((await engine.api('GET', `/api/v1/jobs/${r.body.job_id}`)).status).toBe(200);
    await eventually(async () => (await engine.api('GET', `/api/v1/jobs/${id}`)).body.status === 'running', 15_000, 'running');
    expect((await engine.api('POST', `/api/v1/jobs/${id}/pause`, { reason: 'thread' })).status).toBe(200);
    expect((await engine.api('GET', `/api/v1/jobs/${id}`)).body.status).toBe('paused');
    expect((await engine.api('POST', `/api/v1/jobs/${id}/resume`, {})).status).toBe(200);

    const ids = [...submits.map((r) => r.body.job_id as string), id];
    await eventually(
      async () => {
        const statuses = await Promise.all(ids.map(async (j) => (await engine.api('GET', `/api/v1/jobs/${j}`)).body.status));
        return statuses.every((s) => s === 'completed');
      },
      30_000,
      'every job completed',
    );
    for (const j of ids) {
      const stream = engine.eventStore.readStream(j);
      expect(new Set(stream.map((e) => e.eventId)).size).toBe(stream.length);
      expect(stream.map((e) => e.streamVersion)).toEqual(stream.map((_, v) => v + 1));
      for (const type of ['JobSubmitted', 'JobQueued', 'JobCompleted'])
        expect(
          stream.filter((e) => e.type === type),
          `${j} ${type}`,
        ).toHaveLength(1);
    }
    const steeredTypes = engine.eventStore.readStream(id).map((e) => e.type);
    expect(steeredTypes).toContain('JobPaused');
    expect(steeredTypes).toContain('JobResumed');
  });
});
