import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScheduleNotFoundError } from '@temporalio/client';
import type { TypedSearchAttributes } from '@temporalio/common';
import { mintToken } from '../../src/api/auth.js';
import { rebuildReadModel } from '../../src/projections/rebuildReadModel.js';
import { openReadModelDb } from '../../src/projections/readModelDb.js';
import { eventually, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { jwtAppOptions, testUsers, type AuthHeaders } from '../support/users.js';
import { temporalCli } from '../support/temporalCli.js';

/** The schedules API: validation (ours and Temporal's, never a 500), owners, changes through
 * handle.update, the record of every change, and the read model rebuilt from it. */
const secret = 'schedule-api-secret';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
let engine: TestEngine;
let alice: AuthHeaders;
let bob: AuthHeaders;
let admin: AuthHeaders;

beforeAll(async () => {
  engine = await startTestEngine({ appOptions: jwtAppOptions(secret) });
  ({ alice, bob, admin } = await testUsers(secret));
});
afterAll(async () => {
  for (const row of engine?.readModelDb.prepare<[], { id: string }>('SELECT id FROM schedules').all() ?? [])
    await engine.client.schedule
      .getHandle(row.id)
      .delete()
      .catch(() => {});
  await engine?.dispose();
});

const newId = (prefix = 'api') => `${prefix}-${randomUUID().slice(0, 8)}`;
/** A schedule that does not act during the test (1 January, 00:00). */
const yearly = (extra: Record<string, unknown> = {}) => ({
  spec: { cron_expressions: ['0 0 1 1 *'] },
  job: { name: 'yearly report', type: 'sleep', input: { steps: 1, step_ms: 10 } },
  ...extra,
});
const create = async (who: Record<string, string>, body: Record<string, unknown>) => {
  const r = await engine.api('POST', '/api/v1/schedules', body, who);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
};
const temporalKnows = (id: string) =>
  engine.client.schedule
    .getHandle(id)
    .describe()
    .then(
      () => true,
      (error) => {
        if (error instanceof ScheduleNotFoundError) return false;
        throw error;
      },
    );

describe('validation', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['bad cron (Temporal)', { spec: { cron_expressions: ['61 * * * *'] } }, /^spec: .*Minute/],
    ['not a cron (Temporal)', { spec: { cron_expressions: ['every day please'] } }, /^spec: .*fields/],
    ['unknown time zone', { spec: { cron_expressions: ['0 9 * * *'], time_zone: 'Mars/Olympus' } }, /^spec\.time_zone: unknown/],
    ['bad duration', { spec: { intervals: [{ every: '1 hour' }] } }, /^spec\.intervals\.0\.every: must be a duration/],
    ['interval under 1s', { spec: { intervals: [{ every: '500ms' }] } }, /^spec\.intervals\.0\.every: must be at least 1s/],
    ['offset not below every', { spec: { intervals: [{ every: '1m', offset: '2m' }] } }, /^spec\.intervals\.0\.offset/],
    ['bad jitter', { spec: { cron_expressions: ['@daily'], jitter: 'soon' } }, /^spec\.jitter: must be a duration/],
    ['no times at all', { spec: { time_zone: 'UTC' } }, /^spec: give cron_expressions or intervals/],
    [
      'end before start',
      { spec: { intervals: [{ every: '1h' }], start_at: '2030-01-02T00:00:00Z', end_at: '2030-01-01T00:00:00Z' } },
      /^spec\.end_at: must be after start_at/,
    ],
    ['bad overlap policy', { policy: { overlap: 'sometimes' } }, /^policy\.overlap/],
    ['bad catchup window', { policy: { catchup_window: '1 minute' } }, /^policy\.catchup_window/],
    ['unknown job type', { job: { name: 'x', type: 'no_such_type' } }, /^job\.type: /],
    ['invalid job input', { job: { name: 'x', type: 'sleep', input: { steps: -1 } } }, /^job\.input\.steps: /],
    ['input and config', { job: { name: 'x', type: 'sleep', input: {}, config: {} } }, /^job\.input: give input or config/],
    ['delay_seconds is not for schedules', { job: { name: 'x', type: 'sleep', delay_seconds: 5 } }, /^job: .*delay_seconds/],
    ['unknown pool', { job: { name: 'x', type: 'sleep', pool: 'nope' } }, /^job\.pool: no pool named "nope"/],
    ['scheduled_at is not for schedules', { job: { name: 'x', scheduled_at: '2030-01-01T00:00:00Z' } }, /^job: .*scheduled_at/],
    ['depends_on is not for schedules', { job: { name: 'x', depends_on: [{ job_id: 'job_x' }] } }, /^job: .*depends_on/],
    ['priority out of range', { job: { name: 'x', type: 'sleep', priority: 9 } }, /^job\.priority: Priority must be/],
    ['bad schedule id', { schedule_id: 'no spaces please' }, /^schedule_id: /],
    ['schedule id like a stream', { schedule_id: 'schedule-x' }, /^schedule_id: must not start with "schedule-"/],
    ['unknown field', { every: '1h' }, /Unrecognized key/],
  ];
  it.each(cases)('%s → 400 naming the field, no schedule in Temporal, no event', async (_label, change, details) => {
    const id = newId('bad');
    const r = await engine.api('POST', '/api/v1/schedules', { ...yearly({ schedule_id: id }), ...change }, alice);
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(Object.keys(r.body).sort()).toEqual(['details', 'error', 'timestamp']);
    expect(r.body.details).toMatch(details);
    if (!('schedule_id' in change)) expect(await temporalKnows(id)).toBe(false);
    expect(engine.eventStore.streamVersion(`schedule-${id}`)).toBe(0);
  });

  it('a second create with the same schedule_id is a 409; one made outside the API too', async () => {
    const id = newId('dup');
    await create(alice, yearly({ schedule_id: id }));
    const again = await engine.api('POST', '/api/v1/schedules', yearly({ schedule_id: id }), bob);
    expect(again.status).toBe(409);
    expect(again.body.details).toBe(`Schedule ${id} exists already`);
    const outside = newId('cli');
    await engine.client.schedule.create({
      scheduleId: outside,
      spec: { cronExpressions: ['0 0 1 1 *'] },
      action: { type: 'startWorkflow', workflowType: 'jobWorkflow', taskQueue: engine.taskQueue, args: [] },
    });
    expect((await engine.api('POST', '/api/v1/schedules', yearly({ schedule_id: outside }), alice)).status).toBe(409);
    expect((await engine.api('GET', `/api/v1/schedules/${outside}`, undefined, admin)).status).toBe(404); // not ours
    await engine.client.schedule.getHandle(outside).delete();
  });
});

describe('job submits share the validation', () => {
  it('a plain submit still names its fields without a prefix, and its job has schedule_id null', async () => {
    const submit = (body: Record<string, unknown>) => engine.api('POST', '/api/v1/jobs/submit', body, alice);
    expect((await submit({ name: 'x', type: 'no_such_type' })).body.details).toMatch(/^type: /);
    expect((await submit({ name: 'x', type: 'sleep', input: { steps: -1 } })).body.details).toMatch(/^input\.steps: /);
    const ok = await submit({ name: 'plain', type: 'sleep', input: { steps: 1, step_ms: 1 } });
    expect(ok.status).toBe(201);
    const job = (await engine.api('GET', `/api/v1/jobs/${ok.body.job_id}`, undefined, alice)).body;
    expect(job).toMatchObject({ name: 'plain', schedule_id: null, input: { steps: 1, step_ms: 1 } });
    expect((await engine.api('GET', '/api/v1/jobs/list?schedule_id=nothing', undefined, alice)).body).toEqual([]);
  });
});

describe('owners', () => {
  it("bob cannot see or change alice's schedule (403); lists are per owner; an admin sees and changes all", async () => {
    const id = newId('owned');
    await create(alice, yearly({ schedule_id: id }));
    const denied = await engine.api('GET', `/api/v1/schedules/${id}`, undefined, bob);
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ error: 'Forbidden', details: 'Access denied to this schedule' });
    for (const [method, url, body] of [
      ['PATCH', `/api/v1/schedules/${id}`, { name: 'mine now' }],
      ['DELETE', `/api/v1/schedules/${id}`, undefined],
      ['POST', `/api/v1/schedules/${id}/pause`, undefined],
      ['POST', `/api/v1/schedules/${id}/unpause`, undefined],
      ['POST', `/api/v1/schedules/${id}/trigger`, undefined],
      ['GET', `/api/v1/schedules/${id}/runs`, undefined],
    ] as const) {
      expect((await engine.api(method, url, body, bob)).status, `${method} ${url}`).toBe(403);
    }
    expect(await temporalKnows(id)).toBe(true);
    expect((await engine.api('GET', '/api/v1/schedules', undefined, bob)).body.map((s: any) => s.id)).not.toContain(id);
    expect((await engine.api('GET', '/api/v1/schedules', undefined, alice)).body.map((s: any) => s.id)).toContain(id);
    expect((await engine.api('GET', '/api/v1/schedules', undefined, admin)).body.map((s: any) => s.id)).toContain(id);
    const byAdmin = await engine.api('POST', `/api/v1/schedules/${id}/pause`, { reason: 'audit' }, admin);
    expect(byAdmin.status).toBe(200);
    expect(engine.eventStore.readStream(`schedule-${id}`).at(-1)!.metadata).toMatchObject({
      actor: 'user:root',
      reason: 'audit',
    });
    expect((await engine.api('GET', '/api/v1/schedules/nope-nope', undefined, alice)).status).toBe(404);
  });

  it('pages the list with a cursor', async () => {
    const carol = bearer(await mintToken(secret, 'carol'));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await create(carol, yearly({ name: `page-${i}` }))).id);
    const seen: string[] = [];
    let url: string | undefined = '/api/v1/schedules?limit=2';
    while (url) {
      const r = await engine.api('GET', url, undefined, carol);
      expect(r.status).toBe(200);
      seen.push(...r.body.map((s: any) => s.id));
      const next = r.headers.get('x-next-cursor');
      url = next ? `/api/v1/schedules?limit=2&cursor=${encodeURIComponent(next)}` : undefined;
    }
    expect(seen).toEqual([...ids].reverse());
    expect((await engine.api('GET', '/api/v1/schedules?cursor=garbage', undefined, carol)).status).toBe(400);
  });
});

describe('changes', () => {
  it('PATCH changes spec, policy and job in Temporal (handle.update) and records ScheduleUpdated', async () => {
    const id = newId('patch');
    const created = await create(alice, yearly({ schedule_id: id, policy: { overlap: 'buffer_one' } }));
    expect(created.policy).toEqual({ overlap: 'buffer_one', catchup_window: null, pause_on_failure: false });
    const r = await engine.api(
      'PATCH',
      `/api/v1/schedules/${id}`,
      {
        spec: { cron_expressions: ['0 9 * * MON-FRI'], time_zone: 'Europe/Berlin', jitter: '30s' },
        policy: { catchup_window: '10m' },
        job: { priority: 4, input: { steps: 2, step_ms: 5 }, timeout_seconds: 60 },
        reason: 'office hours',
      },
      alice,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({
      spec_summary: 'cron "0 9 * * MON-FRI" in Europe/Berlin, jitter 30s',
      policy: { overlap: 'buffer_one', catchup_window: '10m', pause_on_failure: false },
      job: { name: 'yearly report', type: 'sleep', input: { steps: 2, step_ms: 5 }, priority: 4, timeout_seconds: 60 },
    });
    // 09:00 in Berlin is 07:00 or 08:00 UTC; weekdays only.
    for (const t of r.body.info.next_action_times as string[]) {
      const at = new Date(t);
      expect([7, 8]).toContain(at.getUTCHours());
      expect(at.getUTCMinutes() * 60 + at.getUTCSeconds()).toBeLessThanOrEqual(30);
      expect([0, 6]).not.toContain(at.getUTCDay());
    }
    const described = await engine.client.schedule.getHandle(id).describe();
    expect(described.spec.timezone).toBe('Europe/Berlin');
    expect(described.spec.jitter).toBe(30_000);
    expect(described.policies).toMatchObject({ overlap: 'BUFFER_ONE', catchupWindow: 600_000 });
    expect(described.action.args?.[0]).toMatchObject({
      jobId: '',
      scheduleId: id,
      priority: 4,
      timeoutMs: 60_000,
      input: { steps: 2, step_ms: 5 },
      owner: 'alice',
    });
    expect(described.action.workflowId).toBe(id);
    expect(described.action.taskQueue).toBe(engine.taskQueue);
    const attributes = described.action.typedSearchAttributes as TypedSearchAttributes;
    expect(attributes.getAll().map((p) => [p.key.name, p.value])).toEqual(
      expect.arrayContaining([
        ['JobPriority', 4],
        ['JobStatus', 'pending'],
        ['Owner', 'alice'],
      ]),
    );
    const updated = engine.eventStore.readStream(`schedule-${id}`).at(-1)!;
    expect(updated).toMatchObject({
      type: 'ScheduleUpdated',
      eventId: `schedule-${id}:2`,
      metadata: { actor: 'user:alice', reason: 'office hours' },
    });
    expect(Object.keys(updated.data).sort()).toEqual(['at', 'job', 'policy', 'scheduleId', 'spec']);

    // Invalid changes: 400, nothing changed in Temporal or the record.
    const before = engine.eventStore.streamVersion(`schedule-${id}`);
    for (const [change, details] of [
      [{ job: { input: { steps: 'many' } } }, /^job\.input\.steps: /],
      [{ job: { pool: 'nope' } }, /^job\.pool: no pool named/],
      [{ spec: { cron_expressions: ['0 25 * * *'] } }, /^spec: .*Hour/],
      [{}, /give at least one of name, spec, policy, job/],
    ] as const) {
      const bad = await engine.api('PATCH', `/api/v1/schedules/${id}`, change, alice);
      expect(bad.status, JSON.stringify(bad.body)).toBe(400);
      expect(bad.body.details).toMatch(details);
    }
    expect(engine.eventStore.streamVersion(`schedule-${id}`)).toBe(before);
    expect((await engine.client.schedule.getHandle(id).describe()).spec.timezone).toBe('Europe/Berlin');

    // Name only: recorded, Temporal untouched.
    const renamed = await engine.api('PATCH', `/api/v1/schedules/${id}`, { name: 'weekday report' }, alice);
    expect(renamed.body.name).toBe('weekday report');
    // timeout removed.
    const noTimeout = await engine.api('PATCH', `/api/v1/schedules/${id}`, { job: { timeout_seconds: null } }, alice);
    expect(noTimeout.body.job.timeout_seconds).toBeNull();
    expect((await engine.client.schedule.getHandle(id).describe()).action.args?.[0]).toMatchObject({ timeoutMs: null });
  });

  it('every change is an event of schedule-<id> with a deterministic id, actor and reason; a rebuild equals the live read model', async () => {
    const id = newId('audit');
    await create(alice, yearly({ schedule_id: id, paused: true, note: 'created paused' }));
    expect((await engine.api('POST', `/api/v1/schedules/${id}/unpause`, { reason: 'go' }, alice)).status).toBe(200);
    expect((await engine.api('POST', `/api/v1/schedules/${id}/unpause`, undefined, alice)).status).toBe(409);
    expect((await engine.api('POST', `/api/v1/schedules/${id}/pause`, undefined, alice)).status).toBe(200);
    const trig = await engine.api('POST', `/api/v1/schedules/${id}/trigger`, { overlap: 'skip' }, alice);
    expect(trig.status).toBe(200);
    expect((await engine.api('POST', `/api/v1/schedules/${id}/trigger`, { overlap: 'whenever' }, alice)).status).toBe(400);
    expect((await engine.api('PATCH', `/api/v1/schedules/${id}`, { policy: { pause_on_failure: true } }, alice)).status).toBe(
      200,
    );
    expect((await engine.api('DELETE', `/api/v1/schedules/${id}`, undefined, alice)).status).toBe(200);

    const stream = engine.eventStore.readStream(`schedule-${id}`);
    expect(stream.map((e) => [e.type, e.eventId, e.metadata.actor])).toEqual([
      ['ScheduleCreated', `schedule-${id}:1`, 'user:alice'],
      ['ScheduleUnpaused', `schedule-${id}:2`, 'user:alice'],
      ['SchedulePaused', `schedule-${id}:3`, 'user:alice'],
      ['ScheduleTriggered', `schedule-${id}:4`, 'user:alice'],
      ['ScheduleUpdated', `schedule-${id}:5`, 'user:alice'],
      ['ScheduleDeleted', `schedule-${id}:6`, 'user:alice'],
    ]);
    expect(stream[0]!.data).toMatchObject({
      scheduleId: id,
      owner: 'alice',
      name: 'yearly report',
      paused: true,
      note: 'created paused',
      spec: { cron_expressions: ['0 0 1 1 *'] },
      job: { name: 'yearly report', type: 'sleep', priority: 2, timeout_seconds: null },
    });
    expect(stream[1]!).toMatchObject({ data: { note: 'go' }, metadata: { reason: 'go' } });
    expect(stream[2]!.data.note).toBe('paused by user:alice');
    expect(stream[3]!.data).toMatchObject({ overlap: 'skip' });
    const run = stream[3]!.data.jobId as string;
    expect(run).toMatch(new RegExp(`^${id}-`));
    await eventually(
      async () => (await engine.api('GET', `/api/v1/jobs/${run}`, undefined, alice)).body.status === 'completed',
      20_000,
      'the triggered run completed',
    );

    // The read model is derived from these events only: a rebuild gives the same rows.
    await eventually(() => engine.projector.checkpoint() === engine.eventStore.lastPosition(), 10_000, 'projector caught up');
    const target = path.join(engine.dir, 'rebuilt.db');
    await rebuildReadModel(engine.eventStore, target);
    const rebuilt = openReadModelDb(target);
    const dump = (db: typeof rebuilt, sql: string) => db.prepare(sql).all();
    const schedules = 'SELECT * FROM schedules ORDER BY id';
    expect(dump(engine.readModelDb, schedules).length).toBeGreaterThan(3);
    expect(dump(rebuilt, schedules)).toEqual(dump(engine.readModelDb, schedules));
    const runs = 'SELECT id, schedule_id, status FROM jobs WHERE schedule_id IS NOT NULL ORDER BY id';
    expect(dump(rebuilt, runs)).toEqual(dump(engine.readModelDb, runs));
    expect(dump(engine.readModelDb, runs)).toContainEqual({ id: run, schedule_id: id, status: 'completed' });
    rebuilt.close();
  });
});

describe('changes made outside the API', () => {
  it('temporal schedule toggle is recorded by the reconciler (actor external, the reason as note)', async () => {
    const id = newId('cli');
    await create(alice, yearly({ schedule_id: id }));
    await temporalCli(['schedule', 'toggle', '--schedule-id', id, '--pause', '--reason', 'from the cli']);
    const paused = await eventually(
      async () => {
        const r = await engine.api('GET', `/api/v1/schedules/${id}`, undefined, alice);
        return r.body.paused ? r.body : undefined;
      },
      10_000,
      'pause recorded',
    );
    expect(paused).toMatchObject({ note: 'from the cli', info: { paused: true, note: 'from the cli' } });
    expect(engine.eventStore.readStream(`schedule-${id}`).at(-1)!).toMatchObject({
      type: 'SchedulePaused',
      data: { note: 'from the cli' },
      metadata: { actor: 'external', reason: 'from the cli' },
    });
    // The API sees Temporal's state: pausing again is a 409, unpausing works.
    expect((await engine.api('POST', `/api/v1/schedules/${id}/pause`, undefined, alice)).status).toBe(409);
    expect((await engine.api('POST', `/api/v1/schedules/${id}/unpause`, undefined, alice)).status).toBe(200);
    // One change at a time, each waited for: two toggles between two scans would leave the state as
    // recorded, and nothing to record.
    const last = () => engine.eventStore.readStream(`schedule-${id}`).at(-1)!;
    await temporalCli(['schedule', 'toggle', '--schedule-id', id, '--pause', '--reason', 'again']);
    await eventually(() => last().metadata.reason === 'again', 10_000, 'second pause recorded');
    await temporalCli(['schedule', 'toggle', '--schedule-id', id, '--unpause', '--reason', 'and back']);
    await eventually(() => last().metadata.reason === 'and back', 10_000, 'unpause recorded');
    expect(engine.eventStore.readStream(`schedule-${id}`).map((e) => [e.type, e.metadata.actor])).toEqual([
      ['ScheduleCreated', 'user:alice'],
      ['SchedulePaused', 'external'],
      ['ScheduleUnpaused', 'user:alice'],
      ['SchedulePaused', 'external'],
      ['ScheduleUnpaused', 'external'],
    ]);
  });

  it('a delete through the API of a schedule already gone from Temporal is recorded too (alreadyGone)', async () => {
    const id = newId('gone');
    await create(alice, yearly({ schedule_id: id }));
    // So that the API's delete, not the reconciler, finds it gone (and no scan is still under way).
    await engine.reconciler.stop();
    await engine.reconciler.scanOnce();
    try {
      await engine.client.schedule.getHandle(id).delete();
      const r = await engine.api('GET', `/api/v1/schedules/${id}`, undefined, alice);
      expect(r.status).toBe(200);
      expect(r.body.info).toBeNull();
      expect((await engine.api('POST', `/api/v1/schedules/${id}/pause`, undefined, alice)).status).toBe(404);
      const del = await engine.api('DELETE', `/api/v1/schedules/${id}`, undefined, alice);
      expect(del.status).toBe(200);
      expect(engine.eventStore.readStream(`schedule-${id}`).at(-1)!).toMatchObject({
        type: 'ScheduleDeleted',
        data: { alreadyGone: true },
        metadata: { actor: 'user:alice' },
      });
    } finally {
      engine.reconciler.start();
    }
  });
});
