import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { temporalCli } from '../support/temporalCli.js';
import { defaultPayloadConverter } from '@temporalio/common';
import { firstEventId, jobSubmittedData, type JobWorkflowInput } from '../../src/workflows/jobContract.js';

let engine: TestEngine;
beforeAll(async () => {
  engine = await startTestEngine();
});
afterAll(async () => {
  await engine?.dispose();
});

describe('a job submitted over HTTP', () => {
  it('runs as a Temporal workflow, records its events and shows completed in list and stats', async () => {
    const submit = await engine.api('POST', '/api/v1/jobs/submit', {
      name: 'e2e',
      type: 'sleep',
      input: { steps: 3, step_ms: 50 },
    });
    expect(submit.status).toBe(201);
    expect(submit.body.message).toBe('Job submitted successfully');
    const jobId: string = submit.body.job_id;
    expect(jobId).toMatch(/^job_[0-9a-f-]{36}$/);

    // Readable right after submit returns: no 404 window.
    const first = await engine.api('GET', `/api/v1/jobs/${jobId}`);
    expect(first.status).toBe(200);
    expect(['pending', 'queued', 'running', 'completed']).toContain(first.body.status);

    const done = await eventually(async () => {
      const r = await engine.api('GET', `/api/v1/jobs/${jobId}`);
      return r.body.status === 'completed' ? r.body : undefined;
    });
    expect(done.progress).toBe(100);
    expect(done.completed_steps).toBe(3);
    expect(done.started_at).not.toBeNull();
    expect(done.completed_at).not.toBeNull();
    expect(done.duration).toBeGreaterThanOrEqual(0);
    expect(done.estimated_remaining).toBe(0);
    expect(done.user_id).toBe('local');

    // The workflow is a real one, and it closes as Completed (just after its last event is recorded),
    // with its search attributes set, so `temporal workflow list --query` finds it.
    await eventually(
      async () => (await engine.client.workflow.getHandle(jobId).describe()).status.name === 'COMPLETED',
      10_000,
      'workflow closed',
    );
    const listed = await eventually(
      async () => {
        const out = await temporalCli([
          'workflow',
          'list',
          '--query',
          `JobStatus="completed" AND JobType="sleep" AND WorkflowId="${jobId}"`,
          '-o',
          'json',
        ]);
        return out.includes(jobId) ? out : undefined;
      },
      15_000,
      'visible through temporal workflow list',
    );
    expect(listed).toContain('jobWorkflow');

    const list = await engine.api('GET', '/api/v1/jobs/list?status=completed&limit=10');
    expect(list.status).toBe(200);
    expect(Array.isArray(list.body)).toBe(true);
    expect(list.body.map((j: { id: string }) => j.id)).toContain(jobId);

    const stats = await engine.api('GET', '/api/v1/jobs/stats');
    expect(stats.status).toBe(200);
    expect(stats.body.completed).toBeGreaterThanOrEqual(1);
    expect(stats.body.total_jobs).toBe(
      stats.body.pending +
        stats.body.running +
        stats.body.paused +
        stats.body.completed +
        stats.body.failed +
        stats.body.cancelled +
        stats.body.terminated +
        stats.body.timed_out,
    );
    expect(stats.body.total_workers).toBeGreaterThanOrEqual(1);

    const events = engine.eventStore.readStream(jobId);
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('JobSubmitted');
    expect(types).toContain('JobStarted');
    expect(types[types.length - 1]).toBe('JobCompleted');
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
    expect(events.map((e) => e.streamVersion)).toEqual(events.map((_, i) => i + 1));
    expect(events[0]!.metadata.actor).toBe('user:local');
  });

  it('records JobSubmitted once: the command side writes the event the workflow computes from its own input', async () => {
    const submit = await engine.api('POST', '/api/v1/jobs/submit', {
      name: 'recorded by the command side',
      type: 'noop',
      priority: 3,
      input: { note: 'ünïcode', nested: { list: [1, 2.5, null], empty: {} } },
      tags: ['b', 'a'],
      metadata: { customer: 42 },
    });
    expect(submit.status, JSON.stringify(submit.body)).toBe(201);
    const jobId: string = submit.body.job_id;
    await eventually(async () => (await engine.api('GET', `/api/v1/jobs/${jobId}`)).body.status === 'completed');

    // The workflow's input as Temporal delivered it (after its JSON round trip).
    const history = await engine.client.workflow.getHandle(jobId).fetchHistory();
    const started = history.events![0]!.workflowExecutionStartedEventAttributes!;
    const wfInput = defaultPayloadConverter.fromPayload<JobWorkflowInput>(started.input!.payloads![0]!);
    expect(wfInput.submittedAt).toBeDefined();

    const submitted = engine.eventStore.readStream(jobId).filter((e) => e.type === 'JobSubmitted');
    expect(submitted).toHaveLength(1);
    expect(submitted[0]!.eventId).toBe(firstEventId(jobId, started.originalExecutionRunId!));
    expect(submitted[0]!.data).toEqual(jobSubmittedData(wfInput, wfInput.submittedAt!));
    expect(submitted[0]!.data.createdAt).toBe(wfInput.submittedAt);
  });

  it('rejects an unknown type, invalid input and a bad priority with 400 and starts nothing', async () => {
    const before = engine.eventStore.lastPosition();
    const unknown = await engine.api('POST', '/api/v1/jobs/submit', { name: 'x', type: 'nope' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('Bad Request');
    expect(unknown.body.details).toContain('Unknown job type: nope');
    expect(Date.parse(unknown.body.timestamp)).not.toBeNaN();

    const badInput = await engine.api('POST', '/api/v1/jobs/submit', { name: 'x', type: 'sleep', input: { steps: 'many' } });
    expect(badInput.status).toBe(400);
    expect(badInput.body.details).toContain('input.steps');

    const badPriority = await engine.api('POST', '/api/v1/jobs/submit', { name: 'x', type: 'sleep', priority: 7 });
    expect(badPriority.status).toBe(400);
    expect(badPriority.body.details).toContain('Priority must be between 1 (low) and 4 (urgent)');

    const malformed = await engine.api('POST', '/api/v1/jobs/submit', '{"name":');
    expect(malformed.status).toBe(400);

    expect(engine.eventStore.lastPosition()).toBe(before);
  });

  it('answers 404 in the error format for a job that does not exist', async () => {
    const r = await engine.api('GET', '/api/v1/jobs/job_does-not-exist');
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ error: 'Not Found', details: 'Job not found: job_does-not-exist' });
  });

  it('runs the default job type when the submit names none, and lists result files of a report job', async () => {
    const submit = await engine.api('POST', '/api/v1/jobs/submit', {
      name: 'report',
      type: 'report',
      input: { rows: 10, chunks: 2 },
    });
    expect(submit.status).toBe(201);
    const done = await eventually(async () => {
      const r = await engine.api('GET', `/api/v1/jobs/${submit.body.job_id}`);
      return r.body.status === 'completed' ? r.body : undefined;
    });
    expect(done.result_files).toEqual(['part-000.csv', 'part-001.csv']);

    const untyped = await engine.api('POST', '/api/v1/jobs/submit', { name: 'untyped', input: { steps: 1, step_ms: 1 } });
    expect(untyped.status).toBe(201);
    const job = await engine.api('GET', `/api/v1/jobs/${untyped.body.job_id}`);
    expect(job.body.type).toBe('sleep');
  });
});
