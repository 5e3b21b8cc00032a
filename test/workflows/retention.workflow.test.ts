import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventStoreActivities } from '../../src/activities/eventStoreActivities.js';
import { createJobStepActivities } from '../../src/activities/jobStepActivities.js';
import { createRetentionActivities } from '../../src/activities/retentionActivities.js';
import { createBatchActivities } from '../../src/activities/batchActivities.js';
import { BatchItemStore } from '../../src/batches/batchItemStore.js';
import { openReadModelDb, type ReadModelDb } from '../../src/projections/readModelDb.js';
import { Projector } from '../../src/projections/projector.js';
import { readModelProjections } from '../../src/projections/readModelProjections.js';
import { openEventStore, type EventStore } from '../../src/eventstore/index.js';
import { JobTypeRegistry } from '../../src/jobs/registry.js';
import { resolveTestServer } from '../../src/temporal/cliBinary.js';
import { installRuntime } from '../../src/worker/engineWorkers.js';
import { deleteJobsWorkflow } from '../../src/workflows/deleteJobsWorkflow.js';

/**
 * deleteJobsWorkflow's retention rounds against a real store and read model: one cutoff from the
 * first run's start kept through continue-as-new, pages of the read model read after the previous
 * round's tombstones, young and unfinished jobs left alone.
 */
const DAY = 86_400_000;
let env: TestWorkflowEnvironment;
let workers: Worker[];
let running: Promise<unknown>;
let store: EventStore;
let readModelDb: ReadModelDb;
let projector: Projector;
let batchItems: BatchItemStore;
let dir: string;
const taskQueue = `retention-${randomUUID()}`;

beforeAll(async () => {
  const server = resolveTestServer();
  if (!server) throw new Error('No Java test server: run `node scripts/install-temporal.mjs`');
  installRuntime('WARN');
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: server.path } },
  });
  dir = mkdtempSync(path.join(os.tmpdir(), 'job-engine-retention-'));
  store = openEventStore(path.join(dir, 'events.db'));
  readModelDb = openReadModelDb(path.join(dir, 'readmodel.db'));
  projector = new Projector(store, readModelDb, readModelProjections());
  projector.start();
  batchItems = new BatchItemStore(path.join(dir, 'batch-items.db'));
  const common = { connection: env.nativeConnection };
  workers = [
    await Worker.create({
      ...common,
      taskQueue,
      workflowsPath: fileURLToPath(new URL('../../src/workflows/index.ts', import.meta.url)),
      activities: createJobStepActivities({ registry: new JobTypeRegistry(), resultsDir: path.join(dir, 'results') }),
    }),
    await Worker.create({
      ...common,
      taskQueue: `${taskQueue}-store`,
      activities: { ...createEventStoreActivities(store), ...createBatchActivities(batchItems) },
    }),
    await Worker.create({
      ...common,
      taskQueue: `${taskQueue}-scheduler`,
      activities: createRetentionActivities({ readModelDb, waitFor: (p, t) => projector.waitFor(p, t) }),
    }),
  ];
  running = Promise.all(workers.map((w) => w.run()));
}, 120_000);
afterAll(async () => {
  for (const w of workers ?? []) w.shutdown();
  await running;
  await projector?.stop();
  readModelDb?.close();
  batchItems?.close();
  store?.close();
  await env?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

/** A job recorded as submitted and, unless `endedAt` is null, completed then. */
function recordJob(id: string, endedAt: number | null, batchId: string | null = null) {
  const at = new Date((endedAt ?? Date.now()) - 1000).toISOString();
  const events = [
    {
      eventId: `${id}:submitted`,
      type: 'JobSubmitted',
      data: { at, name: id, type: 'noop', input: {}, priority: 2, owner: 'alice', batchId, totalSteps: 1, maxAttempts: 1 },
      metadata: { actor: 'test' },
    },
  ];
  if (endedAt !== null)
    events.push({
      eventId: `${id}:completed`,
      type: 'JobCompleted',
      data: { at: new Date(endedAt).toISOString(), completedSteps: 1 } as any,
      metadata: { actor: 'test' },
    });
  store.appendToStream(id, events);
}

function recordBatch(id: string, endedAt: number | null) {
  const at = new Date(Date.now() - 20 * DAY).toISOString();
  const events = [
    {
      eventId: `${id}:created`,
      type: 'BatchCreated',
      data: { at, batchId: id, name: id, owner: 'alice', priority: 2, total: 1, concurrency: 1, failurePolicy: 'continue' },
      metadata: { actor: 'test' },
    },
  ];
  if (endedAt !== null)
    events.push({
      eventId: `${id}:completed`,
      type: 'BatchCompleted',
      data: { at: new Date(endedAt).toISOString(), batchId: id, summary: {} } as any,
      metadata: { actor: 'test' },
    });
  store.appendToStream(id, events);
  batchItems.put(id, [{ name: 'item', type: 'noop', input: {} } as any]);
}

describe('deleteJobsWorkflow with retention', () => {
  it('deletes every job finished before its cutoff over several runs, and the items of batches finished before it', async () => {
    const now = Date.now();
    const old = Array.from({ length: 7 }, (_, i) => `job_old_${i}`);
    for (const id of old) recordJob(id, now - 10 * DAY);
    recordJob('job_young', now - DAY / 2);
    recordJob('job_unfinished', null);
    recordBatch('batch_old', now - 10 * DAY);
    recordBatch('batch_young', now - DAY / 2);
    recordBatch('batch_running', null);
    expect(await projector.waitFor(store.lastPosition())).toBe(true);

    const handle = await env.client.workflow.start(deleteJobsWorkflow, {
      taskQueue,
      workflowId: `retention-${randomUUID()}`,
      args: [
        { jobIds: [], actor: 'system:retention', reason: 'test', retention: { maxAgeMs: DAY, pageSize: 2, maxJobsPerRun: 3 } },
      ],
    });
    const result = await handle.result();

    const tombstones = old.map((id) => store.readStream(id).find((e) => e.type === 'JobDeleted'));
    expect(tombstones.every((t) => t?.metadata.actor === 'system:retention')).toBe(true);
    // A run continues as new once it has deleted 3 (pages of 2): 4 in the first, 3 in the second, the
    // third finds none — all with the first run's cutoff.
    const runIds = new Set(tombstones.map((t) => t!.metadata.runId));
    expect(runIds.size).toBe(2);
    expect((await env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).describe()).status.name).toBe(
      'CONTINUED_AS_NEW',
    );
    const cutoff = Date.parse(result.cutoff!);
    expect(cutoff).toBeGreaterThan(now - 10 * DAY);
    expect(cutoff).toBeLessThan(now - DAY / 2);
    expect(result.deleted).toBe(0); // the last run's share
    for (const id of ['job_young', 'job_unfinished'])
      expect(
        store.readStream(id).some((e) => e.type === 'JobDeleted'),
        id,
      ).toBe(false);
    await projector.waitFor(store.lastPosition());
    const left = readModelDb.prepare<[], { id: string }>('SELECT id FROM jobs ORDER BY id').all();
    expect(left.map((r) => r.id)).toEqual(['job_unfinished', 'job_young']);

    expect(result.batchItemsRemoved).toBe(1);
    expect(batchItems.load('batch_old', 0, 10)).toHaveLength(0);
    expect(batchItems.load('batch_young', 0, 10)).toHaveLength(1);
    expect(batchItems.load('batch_running', 0, 10)).toHaveLength(1);
  });
});
