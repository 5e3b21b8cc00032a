import { describe, expect, it } from 'vitest';
import { JobCommands, MAX_ACCEPTED_NOT_RECORDED, type JobCommandsDeps } from '../../src/commands/jobCommands.js';
import { JobTypeRegistry } from '../../src/jobs/registry.js';
import type { JobRow } from '../../src/projections/jobReadModel.js';

/**
 * JobCommands keeps the jobs whose submit answered 202 (accepted by Temporal, not in the read model
 * yet) so that a control finds them (test/jobs/controlAccepted.int.test.ts runs it against Temporal).
 */
function commandsWith(options: { visible: boolean }) {
  const shown = new Map<string, JobRow>();
  let starts = 0;
  const commands = new JobCommands({
    client: {
      workflow: { start: async () => ({ firstExecutionRunId: `run-${++starts}` }) },
    } as unknown as JobCommandsDeps['client'],
    taskQueue: 'q',
    registry: new JobTypeRegistry(),
    readModel: { getJob: (id: string) => shown.get(id) } as unknown as JobCommandsDeps['readModel'],
    projection: { waitFor: async () => options.visible, waitUntil: async () => options.visible },
    defaultJobType: 'noop',
    visibilityTimeoutMs: 1,
  });
  const submit = (name: string, owner = 'alice') =>
    commands.submit({ name, type: 'noop', priority: 3, owner, actor: `user:${owner}` });
  return { commands, shown, submit };
}

describe('jobs accepted but not recorded yet', () => {
  it('are found as their JobSubmitted makes them, until the read model has them', async () => {
    const { commands, shown, submit } = commandsWith({ visible: false });
    const { jobId, visible } = await submit('late', 'alice');
    expect(visible).toBe(false);
    expect(commands.isAcceptedNotRecorded(jobId)).toBe(true);
    expect(commands.jobOrAccepted(jobId)).toMatchObject({
      id: jobId,
      owner: 'alice',
      name: 'late',
      type: 'noop',
      status: 'pending',
    });
    expect(commands.jobOrAccepted('job_unknown')).toBeUndefined();

    // The read model's row wins, and the kept one is dropped.
    const recorded = { ...commands.jobOrAccepted(jobId)!, status: 'running' } as JobRow;
    shown.set(jobId, recorded);
    expect(commands.jobOrAccepted(jobId)).toBe(recorded);
    expect(commands.isAcceptedNotRecorded(jobId)).toBe(false);
    shown.delete(jobId); // (deleted later: no longer kept either)
    expect(commands.jobOrAccepted(jobId)).toBeUndefined();
  });

  it('are not kept when the submit was shown in time', async () => {
    const { commands, submit } = commandsWith({ visible: true });
    const { jobId } = await submit('on-time');
    expect(commands.isAcceptedNotRecorded(jobId)).toBe(false);
    expect(commands.jobOrAccepted(jobId)).toBeUndefined();
  });

  it(`keep the newest ${MAX_ACCEPTED_NOT_RECORDED}`, async () => {
    const { commands, submit } = commandsWith({ visible: false });
    const ids: string[] = [];
    for (let i = 0; i < MAX_ACCEPTED_NOT_RECORDED + 2; i++) ids.push((await submit(`n${i}`)).jobId);
    expect(commands.jobOrAccepted(ids[0]!)).toBeUndefined();
    expect(commands.jobOrAccepted(ids[1]!)).toBeUndefined();
    expect(commands.jobOrAccepted(ids[2]!)?.name).toBe('n2');
    expect(commands.jobOrAccepted(ids.at(-1)!)?.name).toBe(`n${MAX_ACCEPTED_NOT_RECORDED + 1}`);
  });
});
