import { describe, expect, it } from 'vitest';
import {
  INVALID_ARGUMENT,
  INVALID_TRANSITION,
  JOB_STATUSES,
  JobEvents,
  PRIORITY_RANGE_MESSAGE,
  isTerminalJobStatus,
  jobStatusAfter,
  refuseJobControl,
  toPriorityKey,
  type JobStatus,
} from '../../src/domain/index.js';

/** given a job in `status`, when these events arrive (each delivered twice), then its status is … */
function given(status: JobStatus) {
  return {
    when: (...events: { type: string; data?: Record<string, unknown> }[]) => ({
      then(expected: JobStatus) {
        let s = status;
        for (const e of events) {
          s = jobStatusAfter(e.type, e.data, s);
          s = jobStatusAfter(e.type, e.data, s); // delivered twice: no further change
        }
        expect(s).toBe(expected);
      },
    }),
  };
}

describe('jobStatusAfter: the one event → status mapping', () => {
  it('follows a job from submit to completion', () => {
    given('pending')
      .when({ type: JobEvents.submitted }, { type: JobEvents.started }, { type: JobEvents.progress })
      .then('running');
    given('running').when({ type: JobEvents.completed }).then('completed');
  });
  it('pause and resume return to where the job was', () => {
    given('running')
      .when({ type: JobEvents.paused, data: { from: 'running' } }, { type: JobEvents.resumed, data: { to: 'running' } })
      .then('running');
    given('pending')
      .when({ type: JobEvents.paused, data: { from: 'pending' } }, { type: JobEvents.resumed, data: { to: 'pending' } })
      .then('pending');
  });
  it('ends in each terminal status', () => {
    given('running').when({ type: JobEvents.failed }).then('failed');
    given('paused').when({ type: JobEvents.cancelled }).then('cancelled');
    given('running').when({ type: JobEvents.terminated }).then('terminated');
    given('running').when({ type: JobEvents.timedOut }).then('timed_out');
  });
  it('waiting states: blocked, scheduled, queued; running once admitted; retrying between attempts', () => {
    given('pending').when({ type: JobEvents.blocked }).then('blocked');
    given('blocked').when({ type: JobEvents.dependencyMet }).then('blocked');
    given('blocked').when({ type: JobEvents.scheduled }).then('scheduled');
    given('scheduled').when({ type: JobEvents.queued }).then('queued');
    given('queued').when({ type: JobEvents.started }).then('running');
    given('running').when({ type: JobEvents.attemptFailed }).then('retrying');
    given('retrying').when({ type: JobEvents.queued }, { type: JobEvents.started }).then('running');
    given('paused')
      .when({ type: JobEvents.resumed, data: { to: 'queued' } })
      .then('queued');
    given('paused')
      .when({ type: JobEvents.resumed, data: { to: 'blocked' } })
      .then('blocked');
    given('paused')
      .when({ type: JobEvents.resumed, data: { to: 'nonsense' } })
      .then('running');
  });
  it('a retry makes a failed job pending again', () => {
    given('failed').when({ type: JobEvents.retried }, { type: JobEvents.started }).then('running');
  });
  it('events that change no status keep it, in every status', () => {
    for (const status of JOB_STATUSES) {
      for (const type of [
        JobEvents.progress,
        JobEvents.reprioritized,
        JobEvents.dependencyMet,
        JobEvents.signalIgnored,
        JobEvents.deleted,
        'SomethingNew',
      ]) {
        given(status).when({ type }).then(status);
      }
    }
  });
});

describe('refuseJobControl: what a job allows in each status', () => {
  const job = (status: JobStatus, priority = 2) => ({ status, priority });
  it('pause: anything not final and not already paused', () => {
    for (const status of JOB_STATUSES) {
      const refusal = refuseJobControl('pause', job(status));
      if (isTerminalJobStatus(status) || status === 'paused') expect(refusal?.type).toBe(INVALID_TRANSITION);
      else expect(refusal).toBeUndefined();
    }
    expect(refuseJobControl('pause', job('paused'))?.message).toBe('Job is already paused');
  });
  it('resume: only a paused job', () => {
    for (const status of JOB_STATUSES) expect(refuseJobControl('resume', job(status)) === undefined).toBe(status === 'paused');
  });
  it('cancel: anything not final', () => {
    for (const status of JOB_STATUSES)
      expect(refuseJobControl('cancel', job(status)) === undefined).toBe(!isTerminalJobStatus(status));
    expect(refuseJobControl('cancel', job('completed'))?.message).toBe('Job is already completed; it cannot be cancelled');
  });
  it('reprioritize: a priority 1–4 other than the current one, on a job not final', () => {
    expect(refuseJobControl('reprioritize', job('running'), 4)).toBeUndefined();
    for (const bad of [0, 5, 2.5, '3', null, undefined]) {
      expect(refuseJobControl('reprioritize', job('running'), bad)).toEqual({
        type: INVALID_ARGUMENT,
        message: PRIORITY_RANGE_MESSAGE,
      });
    }
    expect(refuseJobControl('reprioritize', job('running', 3), 3)).toEqual({
      type: INVALID_TRANSITION,
      message: 'Job already has priority 3',
    });
    expect(refuseJobControl('reprioritize', job('failed'), 4)?.type).toBe(INVALID_TRANSITION);
  });
  it('maps priorities onto Temporal priority keys, most urgent first', () => {
    expect([1, 2, 3, 4].map(toPriorityKey)).toEqual([4, 3, 2, 1]);
  });
});
