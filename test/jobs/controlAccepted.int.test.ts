import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jwtAuthenticator, mintToken } from '../../src/api/auth.js';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';

/**
 * A submit that answered 202 (Temporal accepted the job; the read model did not show it within the
 * wait) and a control sent right after it: the job is not in the read model yet, but it exists and its
 * owner may steer it (the cluster run saw `POST /jobs/{id}/cancel` answer 404 there). Its projector is
 * stopped to keep the read model behind, as a burst or a restarting store owner does.
 */
const secret = 'accepted-secret';
let engine: TestEngine;
let alice: Record<string, string>;
let bob: Record<string, string>;

beforeAll(async () => {
  engine = await startTestEngine({
    visibilityTimeoutMs: 500,
    appOptions: { authenticate: jwtAuthenticator({ secret }) },
  });
  alice = { authorization: `Bearer ${await mintToken(secret, 'alice')}` };
  bob = { authorization: `Bearer ${await mintToken(secret, 'bob')}` };
});
afterAll(async () => {
  await engine?.dispose();
});

const submit = async (name: string) => {
  const r = await engine.api('POST', '/api/v1/jobs/submit', { name, type: 'sleep', input: { steps: 100, step_ms: 200 } }, alice);
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  expect(r.body.message).toMatch(/not recorded yet/);
  return r.body.job_id as string;
};
const eventsOf = (jobId: string) => engine.eventStore.readStream(jobId);

describe('a control right after a submit answered 202', () => {
  it("reaches the job through Temporal (its owner's only) and is recorded once the read model catches up", async () => {
    await engine.projector.stop();
    let cancelled: string;
    let paused: string;
    let bulkCancelled: string;
    try {
      cancelled = await submit('cancel-me');
      paused = await submit('pause-me');
      bulkCancelled = await submit('bulk-me');

      // Shown only from the read model: a 404 that says why.
      const shown = await engine.api('GET', `/api/v1/jobs/${cancelled}`, undefined, alice);
      expect(shown.status).toBe(404);
      expect(shown.body.details).toMatch(/accepted \(its submit answered 202\) but is not recorded yet/);
      // Someone else's: the plain 404 for GET, 403 for a control (the owner is known from the submit).
      expect((await engine.api('GET', `/api/v1/jobs/${cancelled}`, undefined, bob)).body.details).toMatch(/^Job not found/);
      const foreign = await engine.api('POST', `/api/v1/jobs/${cancelled}/cancel`, { reason: 'not mine' }, bob);
      expect(foreign.status, JSON.stringify(foreign.body)).toBe(403);

      const cancel = await engine.api('POST', `/api/v1/jobs/${cancelled}/cancel`, { reason: 'changed my mind' }, alice);
      expect(cancel.status, JSON.stringify(cancel.body)).toBe(200);
      expect(cancel.body.job.id).toBe(cancelled);
      const pause = await engine.api('POST', `/api/v1/jobs/${paused}/pause`, { reason: 'later' }, alice);
      expect(pause.status, JSON.stringify(pause.body)).toBe(200);
      const priority = await engine.api('PUT', `/api/v1/jobs/${paused}/priority`, { priority: 4 }, alice);
      expect(priority.status, JSON.stringify(priority.body)).toBe(200);
      const bulk = await engine.api('POST', '/api/v1/jobs/bulk', { action: 'cancel', ids: [bulkCancelled] }, alice);
      expect(bulk.status, JSON.stringify(bulk.body)).toBe(200);
      expect(bulk.body.results[0], JSON.stringify(bulk.body)).toMatchObject({ job_id: bulkCancelled, success: true });

      // In the log already (the workflows took them), with who and why.
      const cancelEvent = eventsOf(cancelled).find((e) => e.type === 'JobCancelled');
      expect(cancelEvent?.metadata).toMatchObject({ actor: 'user:alice', reason: 'changed my mind' });
      expect(eventsOf(paused).map((e) => e.type)).toEqual(expect.arrayContaining(['JobPaused', 'JobReprioritized']));
    } finally {
      engine.projector.start();
    }

    // The read model catches up: the jobs as the controls left them, each control recorded once.
    await eventually(
      async () => (await engine.api('GET', `/api/v1/jobs/${cancelled}`, undefined, alice)).body.status === 'cancelled',
    );
    await eventually(
      async () => (await engine.api('GET', `/api/v1/jobs/${bulkCancelled}`, undefined, alice)).body.status === 'cancelled',
    );
    const pausedJob = (await engine.api('GET', `/api/v1/jobs/${paused}`, undefined, alice)).body;
    expect(pausedJob).toMatchObject({ status: 'paused', priority: 4 });
    for (const [jobId, type] of [
      [cancelled, 'JobCancelled'],
      [bulkCancelled, 'JobCancelled'],
      [paused, 'JobPaused'],
      [paused, 'JobReprioritized'],
    ] as const)
      expect(
        eventsOf(jobId).filter((e) => e.type === type),
        `${type} of ${jobId}`,
      ).toHaveLength(1);
    // Once shown, the read model is what controls use again: resume answers with the recorded job.
    const resume = await engine.api('POST', `/api/v1/jobs/${paused}/resume`, undefined, alice);
    expect(resume.status, JSON.stringify(resume.body)).toBe(200);
    expect(resume.body.job.status).not.toBe('paused');
    await engine.api('POST', `/api/v1/jobs/${paused}/cancel`, undefined, alice);
  });
});
