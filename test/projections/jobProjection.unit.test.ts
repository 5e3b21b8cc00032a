import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/eventstore/index.js';
import { openReadModelDb } from '../../src/projections/readModelDb.js';
import { jobProjection } from '../../src/projections/jobProjection.js';
import { JobReadModel } from '../../src/projections/jobReadModel.js';

/** given events / when projected (each delivered twice) / then the read model. */
function given(...events: Array<Pick<RecordedEvent, 'type' | 'data'> & { streamId?: string; actor?: string; reason?: string }>) {
  const db = openReadModelDb(':memory:');
  const projection = jobProjection();
  const versions = new Map<string, number>();
  const recorded: RecordedEvent[] = events.map((e, i) => {
    const streamId = e.streamId ?? 'job_1';
    const version = (versions.get(streamId) ?? 0) + 1;
    versions.set(streamId, version);
    return {
      globalPosition: i + 1,
      streamId,
      streamVersion: version,
      eventId: `${streamId}:${version}`,
      type: e.type,
      data: { at: `2026-01-01T00:00:0${Math.min(i, 9)}.000Z`, ...e.data },
      metadata: { actor: e.actor ?? 'system', ...(e.reason ? { reason: e.reason } : {}) },
      recordedAt: '2026-01-01T00:00:00.000Z',
    };
  });
  for (const event of recorded) {
    // Every event is delivered twice: the second delivery must change nothing.
    db.transaction(() => projection.apply(db, event))();
    db.transaction(() => projection.apply(db, event))();
  }
  return { readModel: new JobReadModel(db), db };
}

const submitted = (streamId = 'job_1', owner = 'alice') => ({
  streamId,
  type: 'JobSubmitted',
  data: {
    name: 'n',
    type: 'sleep',
    input: { steps: 4 },
    priority: 2,
    owner,
    batchId: null,
    totalSteps: 4,
    maxAttempts: 3,
    createdAt: '2026-01-01T00:00:00.000Z',
  },
});

describe('jobProjection', () => {
  it('JobSubmitted creates a pending job and counts it once', () => {
    const { readModel } = given(submitted());
    expect(readModel.getJob('job_1')).toMatchObject({
      status: 'pending',
      priority: 2,
      owner: 'alice',
      total_steps: 4,
      progress: 0,
    });
    expect(readModel.countByStatus()).toEqual({ pending: 1 });
  });

  it('a JobProgress saying fewer completed steps than the row shows changes nothing (two writers, either order)', () => {
    const progress = (completedSteps: number) => ({
      type: 'JobProgress',
      data: {
        completedSteps,
        totalSteps: 4,
        progress: completedSteps * 25,
        currentStep: completedSteps,
        estimatedRemainingS: 1,
        resultFiles: [],
      },
    });
    const { readModel } = given(
      submitted(),
      { type: 'JobStarted', data: { attempt: 1, startedAt: '2026-01-01T00:00:01.000Z' } },
      progress(3), // the step's own, at its end
      progress(2), // the workflow's, at a pause that met that end
      { type: 'JobPaused', data: { from: 'running' } },
    );
    expect(readModel.getJob('job_1')).toMatchObject({ status: 'paused', completed_steps: 3, progress: 75, current_step: 3 });
  });

  it('follows started → progress → paused → resumed → reprioritized → completed', () => {
    const { readModel } = given(
      submitted(),
      { type: 'JobStarted', data: { attempt: 1, startedAt: '2026-01-01T00:00:01.000Z' } },
      {
        type: 'JobProgress',
        data: { completedSteps: 2, totalSteps: 4, progress: 50, currentStep: 2, estimatedRemainingS: 3, resultFiles: [] },
      },
      { type: 'JobPaused', data: { from: 'running' }, reason: 'disk full' },
      { type: 'JobResumed', data: { to: 'running' } },
      { type: 'JobReprioritized', data: { from: 2, to: 4 } },
      { type: 'JobCompleted', data: { completedSteps: 4, totalSteps: 4, result: { ok: 1 }, resultFiles: ['a.csv'], attempt: 1 } },
    );
    const job = readModel.getJob('job_1')!;
    expect(job).toMatchObject({
      status: 'completed',
      progress: 100,
      priority: 4,
      completed_steps: 4,
      attempts: 1,
      estimated_remaining: 0,
    });
    expect(JSON.parse(job.result_files)).toEqual(['a.csv']);
    expect(job.started_at).toBe('2026-01-01T00:00:01.000Z');
    expect(readModel.countByStatus()).toEqual({ completed: 1 }); // counters at zero are removed
  });

  it('scheduling: blocked with its dependencies, each one met, then queued in its pool, then running', () => {
    const base = submitted();
    const { readModel } = given(
      {
        ...base,
        data: {
          ...base.data,
          pool: 'gpu',
          weight: 2,
          dependsOn: [
            { jobId: 'job_a', condition: 'succeeded' },
            { jobId: 'job_b', condition: 'finished' },
          ],
        },
      },
      { type: 'JobBlocked', data: { waitingFor: [{ jobId: 'job_a' }, { jobId: 'job_b' }] } },
      { type: 'JobDependencyMet', data: { dependency: 'job_a', dependencyStatus: 'completed' } },
    );
    expect(readModel.getJob('job_1')).toMatchObject({ status: 'blocked', pool: 'gpu', pool_weight: 2 });
    expect(JSON.parse(readModel.getJob('job_1')!.depends_on)).toEqual([
      { job_id: 'job_a', condition: 'succeeded', state: 'met' },
      { job_id: 'job_b', condition: 'finished', state: 'waiting' },
    ]);
    const later = given(
      { ...base, data: { ...base.data, pool: 'gpu', weight: 2 } },
      { type: 'JobQueued', data: { pool: 'gpu', weight: 2, priority: 2 } },
    );
    // Straight from its submit into line: its place is the submit's (position 1), not the JobQueued's.
    expect(later.readModel.getJob('job_1')).toMatchObject({ status: 'queued', queued_seq: 1 });
    expect(later.readModel.queuedCounts()).toEqual({ byPool: { gpu: 1 }, byPriority: { 2: 1 } });
    // After waiting for something else (here: its time), its place is where it joined the line.
    const waited = given(
      { ...base, data: { ...base.data, pool: 'gpu', weight: 2 } },
      { type: 'JobScheduled', data: { runAt: '2030-01-01T00:00:00.000Z' } },
      { type: 'JobQueued', data: { pool: 'gpu', weight: 2, priority: 2 } },
    );
    expect(waited.readModel.getJob('job_1')).toMatchObject({ status: 'queued', queued_seq: 3 });
  });

  it('a dependency that can no longer be met cancels the job with the reason', () => {
    const base = submitted();
    const { readModel } = given(
      { ...base, data: { ...base.data, dependsOn: [{ jobId: 'job_a', condition: 'succeeded' }] } },
      { type: 'JobBlocked', data: { waitingFor: [{ jobId: 'job_a' }] } },
      {
        type: 'JobCancelled',
        data: { from: 'blocked', errorType: 'DependencyFailed', dependency: 'job_a' },
        reason: 'dependency job_a ended failed',
      },
    );
    expect(readModel.getJob('job_1')).toMatchObject({
      status: 'cancelled',
      error_type: 'DependencyFailed',
      error_message: 'dependency job_a ended failed',
    });
    expect(JSON.parse(readModel.getJob('job_1')!.depends_on)[0].state).toBe('impossible');
    expect(readModel.dependentsCancelledBy('job_a').map((r) => r.id)).toEqual(['job_1']);
  });

  it('records attempts, the error and the next retry time; then failed', () => {
    const { readModel } = given(
      submitted(),
      { type: 'JobStarted', data: { attempt: 1 } },
      {
        type: 'JobAttemptFailed',
        data: { attempt: 1, error: 'boom', errorType: 'Error', nextRetryAt: '2026-01-01T00:01:00.000Z' },
      },
    );
    expect(readModel.getJob('job_1')).toMatchObject({
      status: 'retrying',
      attempts: 2,
      error_message: 'boom',
      next_retry_at: '2026-01-01T00:01:00.000Z',
    });

    const after = given(
      submitted(),
      { type: 'JobStarted', data: { attempt: 1 } },
      { type: 'JobFailed', data: { error: 'bad', errorType: 'PermanentJobError', attempt: 1, completedSteps: 1 } },
    );
    expect(after.readModel.getJob('job_1')).toMatchObject({
      status: 'failed',
      error_message: 'bad',
      error_type: 'PermanentJobError',
      next_retry_at: null,
    });
    expect(after.readModel.countByStatus().failed).toBe(1);
  });

  it('terminated by the reconciler shows the reason; a retry brings the job back to pending', () => {
    const { readModel } = given(
      submitted(),
      { type: 'JobStarted', data: { attempt: 1 } },
      { type: 'JobTerminated', data: { reason: 'emergency' }, actor: 'system:reconciler', reason: 'emergency' },
    );
    expect(readModel.getJob('job_1')).toMatchObject({ status: 'terminated', error_message: 'emergency' });
    const retried = given(
      submitted(),
      { type: 'JobFailed', data: { error: 'x', errorType: 'E', attempt: 3, completedSteps: 1 } },
      { type: 'JobRetried', data: { attempt: 4, maxAttempts: 6, completedSteps: 1 } },
    );
    expect(retried.readModel.getJob('job_1')).toMatchObject({
      status: 'pending',
      attempts: 4,
      max_attempts: 6,
      completed_at: null,
      error_message: null,
    });
    expect(retried.readModel.countByStatus()).toEqual({ pending: 1 });
  });

  it('JobReset re-bases the row on the new run (what the replaced run did after the reset point is undone); the new run carries on from it', () => {
    const progress = (completedSteps: number) => ({
      type: 'JobProgress',
      data: { completedSteps, totalSteps: 4, progress: completedSteps * 25, currentStep: completedSteps, resultFiles: [] },
    });
    const reset = {
      type: 'JobReset',
      actor: 'temporal:reset',
      data: {
        runId: 'run-2',
        status: 'queued',
        attempt: 1,
        completedSteps: 0,
        progress: 0,
        currentStep: 0,
        startedAt: null,
        completedAt: null,
      },
    };
    const { readModel } = given(
      submitted(),
      { type: 'JobQueued', data: { pool: 'default', weight: 1 } },
      { type: 'JobStarted', data: { attempt: 1, startedAt: '2026-01-01T00:00:02.000Z' } },
      progress(3),
      { type: 'JobCompleted', data: { completedSteps: 4, result: { ok: 1 }, attempt: 1 } },
      reset, // position 6
    );
    expect(readModel.getJob('job_1')).toMatchObject({
      status: 'queued',
      completed_steps: 0,
      progress: 0,
      completed_at: null,
      started_at: null,
      message: 'reset through Temporal',
    });
    expect(readModel.countByStatus()).toEqual({ queued: 1 });
    // In its pool's line from the reset on (the pool picks by this place).
    expect((readModel.getJob('job_1') as { queued_seq: number }).queued_seq).toBe(6);

    // The new run's progress counts from the reset, not from the replaced run's 3 steps.
    const after = given(
      submitted(),
      { type: 'JobStarted', data: { attempt: 1, startedAt: '2026-01-01T00:00:02.000Z' } },
      progress(3),
      { ...reset, data: { ...reset.data, status: 'running', startedAt: '2026-01-01T00:00:04.000Z' } },
      progress(1),
    );
    expect(after.readModel.getJob('job_1')).toMatchObject({ status: 'running', completed_steps: 1, progress: 25 });
  });

  it('keeps counts per owner; JobDeleted removes the row and its count', () => {
    const { readModel } = given(
      submitted('job_a', 'alice'),
      submitted('job_b', 'bob'),
      { streamId: 'job_b', type: 'JobCancelled', data: { from: 'pending' } },
      { streamId: 'job_b', type: 'JobDeleted', data: {} },
    );
    expect(readModel.countByStatus('alice')).toEqual({ pending: 1 });
    expect(readModel.countByStatus('bob')).toEqual({});
    expect(readModel.getJob('job_b')).toBeUndefined();
  });

  it('lists newest first with filters and a cursor that pages without gaps or repeats', () => {
    const events = Array.from({ length: 7 }, (_, i) => ({
      ...submitted(`job_${i}`, i % 2 ? 'bob' : 'alice'),
      data: { ...submitted().data, owner: i % 2 ? 'bob' : 'alice', name: `n${i}`, createdAt: `2026-01-01T00:00:0${i}.000Z` },
    }));
    const { readModel } = given(...events);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = readModel.listJobs({ limit: 3, cursor });
      seen.push(...page.jobs.map((j) => j.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(['job_6', 'job_5', 'job_4', 'job_3', 'job_2', 'job_1', 'job_0']);
    expect(readModel.listJobs({ limit: 10, owner: 'bob' }).jobs.map((j) => j.id)).toEqual(['job_5', 'job_3', 'job_1']);
    expect(readModel.listJobs({ limit: 10, nameContains: 'n4' }).jobs.map((j) => j.id)).toEqual(['job_4']);
  });
});
