import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { jobControl } from '../../src/workflows/jobWorkflow.js';

const { signals, updates } = jobControl;

/**
 * A control is taken once per id: the API sends it as an Update and, when no worker took it in time,
 * again as a signal whose `requestId` is the Update's id. Whichever of the two the workflow gets second
 * changes nothing and records nothing; an Update whose signal came first answers as if it had been
 * taken itself (not refused as "already paused"). Here both orders are forced on a live job.
 */
let engine: TestEngine;
beforeAll(async () => {
  engine = await startTestEngine();
}, 120_000);
afterAll(() => engine?.dispose());

const types = (id: string) => engine.eventStore.readStream(id).map((e) => e.type);
const count = (id: string, type: string) => types(id).filter((t) => t === type).length;

describe('one control sent twice (Update and signal with its id)', () => {
  it('is taken once, in either order', async () => {
    // A job that waits an hour for its start time: alive, its workflow answering, nothing else moving.
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const submitted = await engine.api('POST', '/api/v1/jobs/submit', { name: 'once', type: 'noop', scheduled_at: at });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(201);
    const jobId = submitted.body.job_id as string;
    await eventually(() => types(jobId).includes('JobScheduled'), 20_000, 'scheduled');
    const handle = engine.client.workflow.getHandle(jobId);
    const who = { actor: 'user:tester', reason: 'twice' };

    // The Update first, then its signal: the signal is not taken (nor recorded as ignored).
    const pauseId = randomUUID();
    const paused = await handle.executeUpdate(updates.pause, { args: [who], updateId: pauseId });
    expect(paused.state.status).toBe('paused');
    await handle.signal(signals.pause, { ...who, requestId: pauseId });
    // A later control on the same workflow: once it is recorded, the signal before it was handled.
    await handle.executeUpdate(updates.reprioritize, { args: [{ ...who, priority: 3 }] });
    expect(count(jobId, 'JobPaused')).toBe(1);
    expect(count(jobId, 'JobSignalIgnored')).toBe(0);

    // The signal first, then the Update with its id: the Update answers with the state, not refused.
    const resumeId = randomUUID();
    await handle.signal(signals.resume, { ...who, requestId: resumeId });
    await eventually(() => count(jobId, 'JobResumed') === 1, 20_000, 'resumed by the signal');
    const resumed = await handle.executeUpdate(updates.resume, { args: [who], updateId: resumeId });
    expect(resumed.state.status).toBe('scheduled');
    expect(count(jobId, 'JobResumed')).toBe(1);
    const resumedEvent = engine.eventStore.readStream(jobId).find((e) => e.type === 'JobResumed')!;
    expect(resumedEvent.metadata).toMatchObject({ actor: 'user:tester', reason: 'twice', requestId: resumeId });

    // Twice the same signal (a resend): one change.
    const priorityId = randomUUID();
    await handle.signal(signals.reprioritize, { ...who, priority: 4, requestId: priorityId });
    await handle.signal(signals.reprioritize, { ...who, priority: 4, requestId: priorityId });
    const after = await handle.executeUpdate(updates.reprioritize, { args: [{ ...who, priority: 1 }] });
    expect(after.state.priority).toBe(1);
    expect(count(jobId, 'JobReprioritized')).toBe(3); // to 3, to 4 (once), to 1
    expect(count(jobId, 'JobSignalIgnored')).toBe(0);

    // A control a user signals twice without an id is still taken as two (the second refused: recorded).
    await handle.signal(signals.pause, who);
    await handle.signal(signals.pause, who);
    await eventually(() => count(jobId, 'JobSignalIgnored') === 1, 20_000, 'the second pause ignored');
    expect(count(jobId, 'JobPaused')).toBe(2);
  }, 120_000);
});
