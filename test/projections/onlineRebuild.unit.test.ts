import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import type { JobCommands } from '../../src/commands/jobCommands.js';
import { openEventStore, type EventStore, type NewEvent } from '../../src/eventstore/index.js';
import { ReadModelRebuilder } from '../../src/projections/onlineRebuild.js';
import { JobReadModel } from '../../src/projections/jobReadModel.js';
import { openReadModelDb, type ReadModelDb } from '../../src/projections/readModelDb.js';
import { ReadModelHolder } from '../../src/projections/readModelHolder.js';
import { Projector } from '../../src/projections/projector.js';
import { readModelProjections } from '../../src/projections/readModelProjections.js';
import { rebuildReadModel } from '../../src/projections/rebuildReadModel.js';

let dir: string;
let store: EventStore;
let holder: ReadModelHolder;
let projector: Projector;
let rebuilder: ReadModelRebuilder;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'online-rebuild-'));
  store = openEventStore(path.join(dir, 'events.db'));
  holder = new ReadModelHolder(openReadModelDb(path.join(dir, 'readmodel.db')));
  projector = new Projector(store, holder, readModelProjections(), { idleWaitMs: 50 });
  rebuilder = new ReadModelRebuilder({ store, holder, projector, readModelPath: path.join(dir, 'readmodel.db'), threads: 2 });
});

afterEach(async () => {
  await rebuilder.stop();
  await projector.stop();
  holder.db.close();
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
const jobEvents = (owner: string): NewEvent[] => {
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, seq % 60)).toISOString();
  const id = ++seq;
  return [
    {
      eventId: `e${id}a`,
      type: 'JobSubmitted',
      data: { at, name: 'n', type: 'sleep', input: {}, priority: 2, owner, batchId: null, totalSteps: 1, maxAttempts: 3 },
    },
    { eventId: `e${id}b`, type: 'JobStarted', data: { at, attempt: 1 } },
  ];
};

const dump = (db: ReadModelDb) =>
  Object.fromEntries(
    ['jobs', 'job_counts', 'batch_job_counts', 'batches', 'pools', 'schedules', 'projection_checkpoints'].map((t) => [
      t,
      db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all(),
    ]),
  );

const noCommands = new Proxy({} as JobCommands, {
  get: () => () => {
    throw new Error('no commands in this test');
  },
});

describe('online read-model rebuild', () => {
  it('given a non-admin caller, when it asks for a rebuild, then 403 and nothing starts', async () => {
    const deps = { readModel: new JobReadModel(holder), commands: noCommands, events: store, readModelRebuild: rebuilder };
    const app = createApp(
      { ...deps, workers: async () => ({ active: 1, total: 1 }) },
      { authenticate: () => ({ id: 'u', role: 'user' }) },
    );
    const response = await app.request('/api/v1/admin/read-model/rebuild', { method: 'POST' });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { details: string }).details).toBe('Only admins rebuild the read model');
    expect(rebuilder.status()).toBeUndefined();
  });

  it('given requests and appends going on, when rebuilt online, then no request fails, no event is missed, and it equals an offline rebuild', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 1500; i++) {
      ids.push(`job_${i}`);
      store.appendToStream(`job_${i}`, jobEvents(`owner-${i % 5}`));
    }
    projector.start();
    await projector.waitFor(store.lastPosition());
    const app = createApp({
      readModel: new JobReadModel(holder),
      commands: noCommands,
      events: store,
      workers: async () => ({ active: 1, total: 1 }),
      readModelRebuild: rebuilder,
    });

    // Readers: a loop of GETs (one job, the stats, a list) for as long as the rebuild runs.
    let reading = true;
    const served = { building: 0, catchingUp: 0, afterSwap: 0 };
    const failures: string[] = [];
    const readers = (async () => {
      for (let i = 0; reading; i++) {
        const paths = [`/api/v1/jobs/${ids[i % ids.length]}`, '/api/v1/jobs/stats', '/api/v1/jobs/list?limit=20'];
        const response = await app.request(paths[i % 3]!);
        if (response.status !== 200) failures.push(`${paths[i % 3]}: ${response.status} ${await response.text()}`);
        else await response.arrayBuffer();
        if (holder.generation > 0) served.afterSwap++;
        else if (rebuilder.status()?.state === 'catching-up') served.catchingUp++;
        else served.building++;
        await sleep(0);
      }
    })();
    // A writer: new jobs keep arriving during the rebuild (the tail it must not miss).
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        ids.push(`job_late_${i}`);
        store.appendToStream(`job_late_${i}`, jobEvents('late'));
        await sleep(2);
      }
    })();

    const started = await app.request('/api/v1/admin/read-model/rebuild', { method: 'POST' });
    expect(started.status).toBe(202);
    const { id, built_to } = (await started.json()) as { id: string; built_to: number };
    expect(started.headers.get('location')).toBe(`/api/v1/admin/read-model/rebuild/${id}`);
    expect((await app.request('/api/v1/admin/read-model/rebuild', { method: 'POST' })).status).toBe(409);

    let status: Record<string, unknown> = {};
    while (status.state !== 'completed' && status.state !== 'failed') {
      await sleep(20);
      status = (await (await app.request(`/api/v1/admin/read-model/rebuild/${id}`)).json()) as Record<string, unknown>;
    }
    await sleep(100); // reads and appends after the swap, on the new model
    writing = false;
    await writer;
    await projector.waitFor(store.lastPosition());
    reading = false;
    await readers;

    expect(status).toMatchObject({ state: 'completed', error: null, jobs: 1500 + (built_to - 3000) / 2 });
    expect(status.tail_events as number).toBeGreaterThan(0); // appends went on during the build
    expect(holder.generation).toBe(1);
    expect(failures).toEqual([]);
    expect(served.building).toBeGreaterThan(0);
    expect(served.afterSwap).toBeGreaterThan(0);

    // Every job appended before, during and after the rebuild is in the read model that now serves.
    const readModel = new JobReadModel(holder);
    expect(ids.filter((jobId) => !readModel.getJob(jobId))).toEqual([]);
    // And it equals a rebuild from scratch; the file on disk is the one that serves.
    const fresh = path.join(dir, 'fresh.db');
    await rebuildReadModel(store, fresh, { threads: 0 });
    const offline = openReadModelDb(fresh);
    const onDisk = openReadModelDb(path.join(dir, 'readmodel.db'));
    try {
      expect(dump(holder.db)).toEqual(dump(offline));
      expect(dump(onDisk)).toEqual(dump(offline));
      expect(fs.existsSync(path.join(dir, 'readmodel.db.rebuild'))).toBe(false);
    } finally {
      offline.close();
      onDisk.close();
    }
  });
});
