import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jwtAuthenticator, mintToken } from '../../src/api/auth.js';
import { startTestEngine, type TestEngine } from '../support/testEngine.js';

/** Issue: a non-admin streaming /jobs/events saw only JobSubmitted of their own new job (1 of 4). */
const secret = 'sse-secret';
let engine: TestEngine;
let alice: Record<string, string>;
let bob: Record<string, string>;

beforeAll(async () => {
  engine = await startTestEngine({ appOptions: { authenticate: jwtAuthenticator({ secret }) } });
  alice = { authorization: `Bearer ${await mintToken(secret, 'alice')}` };
  bob = { authorization: `Bearer ${await mintToken(secret, 'bob')}` };
});
afterAll(async () => {
  await engine?.dispose();
});

/** Opens the stream now and collects event types until `until` is seen or `ms` pass. */
async function collect(headers: Record<string, string>, until: string, ms: number) {
  const controller = new AbortController();
  const response = await engine.app.request('/api/v1/jobs/events', { headers, signal: controller.signal });
  const reader = response.body!.getReader();
  let text = '';
  const done = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      text += new TextDecoder().decode(value);
      if (text.includes(`event: ${until}`)) return;
    }
  })();
  return {
    async result() {
      await Promise.race([done, new Promise((r) => setTimeout(r, ms))]);
      controller.abort();
      await reader.cancel().catch(() => {});
      return [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    },
  };
}

describe('SSE for a non-admin user', () => {
  it('delivers every event of their own new job, from submit to completion; other users see none', async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const mine = await collect(alice, 'JobCompleted', 20_000);
      const theirs = await collect(bob, 'JobCompleted', 3_000);
      const r = await engine.api(
        'POST',
        '/api/v1/jobs/submit',
        { name: 'sse', type: 'sleep', input: { steps: 2, step_ms: 50 } },
        alice,
      );
      expect(r.status).toBe(201);
      const types = await mine.result();
      expect(types).toEqual(engine.eventStore.readStream(r.body.job_id).map((e) => e.type));
      expect(types).toEqual(expect.arrayContaining(['JobSubmitted', 'JobStarted', 'JobCompleted']));
      expect(await theirs.result()).toEqual([]);
    }
  });

  it("does not depend on the read model: with the projector behind, every event of the user's job still streams", async () => {
    await engine.projector.stop(); // the read model lags: the job has no row yet
    try {
      const jobId = `job_lagging-${Date.now()}`;
      const at = new Date().toISOString();
      const types = ['JobSubmitted', 'JobStarted', 'JobProgress', 'JobCompleted'];
      engine.eventStore.appendToStream(
        jobId,
        types.map((type, i) => ({
          eventId: `${jobId}:run:${i + 1}`,
          type,
          data:
            i === 0
              ? {
                  jobId,
                  at,
                  name: 'lag',
                  type: 'noop',
                  owner: 'alice',
                  batchId: null,
                  totalSteps: 1,
                  maxAttempts: 1,
                  priority: 2,
                }
              : { jobId, at },
        })),
      );
      const from = engine.eventStore.readStream(jobId)[0]!.globalPosition - 1;
      const mine = await collect({ ...alice, 'last-event-id': String(from) }, 'JobCompleted', 5_000);
      const theirs = await collect({ ...bob, 'last-event-id': String(from) }, 'JobCompleted', 1_000);
      expect(await mine.result()).toEqual(types);
      expect(await theirs.result()).toEqual([]);
    } finally {
      engine.projector.start();
    }
  });
});
