import { jobStatusAfter, type JobStatus } from '../../src/domain/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobTypeRegistry } from '../../src/jobs/registry.js';
import { statusQuery } from '../../src/workflows/jobWorkflow.js';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { countingJobType } from '../support/counterJobType.js';
import { temporalCli } from '../support/temporalCli.js';

const counting = countingJobType();
let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine({ registry: new JobTypeRegistry().register(counting.type) });
});
afterAll(async () => {
  await engine?.dispose();
});

const submit = async (input: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
  const r = await engine.api('POST', '/api/v1/jobs/submit', { name: 'retry', type: 'counting', input, ...extra });
  expect(r.status).toBe(201);
  return r.body.job_id as string;
};
const job = async (id: string) => (await engine.api('GET', `/api/v1/jobs/${id}`)).body;
const until = (id: string, predicate: (j: any) => boolean, what: string, ms = 30_000) =>
  eventually(
    async () => {
      const j = await job(id);
      return predicate(j) ? j : undefined;
    },
    ms,
    what,
  );
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('retries, failures, terminate and timeouts', () => {
  it('retries a transient error with backoff and then succeeds; each failed attempt is an event', async () => {
    const id = await submit({ steps: 3, step_ms: 20, fail_step: 1, fail_times: 2 });
    const done = await until(id, (j) => j.status === 'completed', 'completed after retries');
    expect(done.attempts).toBe(3);
    const failed = engine.eventStore.readStream(id).filter((e) => e.type === 'JobAttemptFailed');
    expect(failed.map((e) => e.data.attempt)).toEqual([1, 2]);
    for (const e of failed) {
      expect(e.data.error).toMatch(/transient failure/);
      expect(Date.parse(e.data.nextRetryAt)).toBeGreaterThan(Date.parse(e.data.at));
    }
    // Step 0 completed once and never ran again; step 1 ran once per attempt.
    expect(counting.invocations.get(id)).toEqual([1, 3, 1]);
  });

  it('fails at once on a permanent error, and a retry of the failed job completes as a new run of the same id', async () => {
    const id = await submit({ steps: 2, step_ms: 20, fail_step: 1, permanent: true });
    const failed = await until(id, (j) => j.status === 'failed', 'failed');
    expect(failed.attempts).toBe(1);
    expect(failed.error_message).toContain('permanent failure');
    expect(failed.error_type).toBe('PermanentJobError');
    const deadLetter = await engine.api('GET', '/api/v1/jobs/list?status=failed');
    expect(deadLetter.body.map((j: any) => j.id)).toContain(id);

    // The job type still fails permanently on step 1; make this run pass by retrying a job whose
    // failing step was a transient one that is now exhausted instead:
    const id2 = await submit({ steps: 2, step_ms: 20, fail_step: 1, fail_times: 3 });
    const exhausted = await until(id2, (j) => j.status === 'failed', 'failed after max attempts');
    expect(exhausted.attempts).toBe(3);
    const retried = await engine.api('POST', `/api/v1/jobs/${id2}/retry`);
    expect(retried.status).toBe(200);
    const done = await until(id2, (j) => j.status === 'completed', 'retried job completes');
    expect(done.attempts).toBe(4);
    const types = engine.eventStore.readStream(id2).map((e) => e.type);
    expect(types.filter((t) => t === 'JobSubmitted')).toHaveLength(1);
    expect(types).toContain('JobRetried');
    expect(types[types.length - 1]).toBe('JobCompleted');
    expect(counting.invocations.get(id2)![0]).toBe(1); // step 0 not rerun by the retry

    const notFailed = await engine.api('POST', `/api/v1/jobs/${id2}/retry`);
    expect(notFailed.status).toBe(409);
  });

  it('terminate through the CLI and through the API both end terminal in the read model, with the reason', async () => {
    const viaCli = await submit({ steps: 5, step_ms: 2000 });
    await until(viaCli, (j) => j.status === 'running', 'running');
    await temporalCli(['workflow', 'terminate', '--workflow-id', viaCli, '--reason', 'emergency']);
    const t = await until(viaCli, (j) => j.status === 'terminated', 'terminated via CLI', 10_000);
    expect(t.error_message).toContain('emergency');

    const viaApi = await submit({ steps: 5, step_ms: 2000 });
    await until(viaApi, (j) => j.status === 'running', 'running');
    const r = await engine.api('POST', `/api/v1/jobs/${viaApi}/terminate`, { reason: 'stop now' });
    expect(r.status).toBe(200);
    expect(r.body.job.status).toBe('terminated');
    const events = engine.eventStore.readStream(viaApi).filter((e) => e.type === 'JobTerminated');
    expect(events).toHaveLength(1);
    await engine.reconciler.scanOnce();
    expect(engine.eventStore.readStream(viaApi).filter((e) => e.type === 'JobTerminated')).toHaveLength(1);
  });

  it('times out on running time only: paused time does not count', async () => {
    const slow = await submit({ steps: 10, step_ms: 300 }, { timeout_seconds: 1 });
    const timedOut = await until(slow, (j) => j.status === 'failed', 'timed out');
    expect(timedOut.error_type).toBe('JobTimeout');

    // 4 × 250 ms of work under a 3 s limit, with a 3.5 s pause in the middle: completes.
    const paused = await submit({ steps: 4, step_ms: 250 }, { timeout_seconds: 3 });
    await until(paused, (j) => j.completed_steps >= 1, 'one step');
    await engine.api('POST', `/api/v1/jobs/${paused}/pause`);
    await sleep(3500);
    await engine.api('POST', `/api/v1/jobs/${paused}/resume`);
    await until(paused, (j) => j.status === 'completed', 'completed despite the pause');
  });

  it('a storm of 50 pause/resume/reprioritize signals: query and read model agree; one event per accepted change', async () => {
    const id = await submit({ steps: 3, step_ms: 3000 });
    await until(id, (j) => j.status === 'running', 'running');
    const handle = engine.client.workflow.getHandle(id);
    const ops: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      const kind = i % 3;
      if (kind === 0) ops.push(handle.signal('pause', { reason: `storm ${i}` }));
      else if (kind === 1) ops.push(handle.signal('resume', {}));
      else ops.push(handle.signal('reprioritize', { priority: (i % 4) + 1 }));
    }
    await Promise.all(ops);
    const state = await eventually(
      async () => {
        const s = await handle.query(statusQuery);
        const stream = engine.eventStore.readStream(id);
        const changes = stream.filter((e) =>
          ['JobPaused', 'JobResumed', 'JobReprioritized', 'JobSignalIgnored'].includes(e.type),
        );
        return changes.length === 50 ? s : undefined;
      },
      20_000,
      'all 50 signals recorded',
    );
    // The query, the read model and a replay of the log through the domain's one mapping agree (a
    // resumed job queues for its slot and then runs, so wait for the three to settle together).
    const agreed = await eventually(
      async () => {
        const s = await handle.query(statusQuery);
        const row = (await engine.api('GET', `/api/v1/jobs/${id}`)).body;
        let folded: JobStatus = 'pending';
        let foldedPriority = 2;
        for (const e of engine.eventStore.readStream(id)) {
          folded = jobStatusAfter(e.type, e.data, folded);
          if (e.type === 'JobReprioritized') foldedPriority = e.data.to;
        }
        const same =
          [row.status, folded].every((x) => x === s.status) && [row.priority, foldedPriority].every((p) => p === s.priority);
        return same ? s : undefined;
      },
      20_000,
      'query, read model and log agree',
    );
    expect(['paused', 'queued', 'running']).toContain(agreed.status);
    expect(agreed.priority).toBe(state.priority);
    const stream = engine.eventStore.readStream(id);
    const accepted = stream.filter((e) => ['JobPaused', 'JobResumed', 'JobReprioritized'].includes(e.type));
    const ignored = stream.filter((e) => e.type === 'JobSignalIgnored');
    expect(accepted.length + ignored.length).toBe(50);
    await engine.api('POST', `/api/v1/jobs/${id}/cancel`);
  });
});
