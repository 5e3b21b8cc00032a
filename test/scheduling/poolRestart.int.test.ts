import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine.js';
import { restartTestEngine, startTestEngine, type TestEngine } from '../support/testEngine.js';
import { poolWorkflowId } from '../../src/domain/index.js';
import { poolStateQuery } from '../../src/workflows/poolContract.js';

/**
 * A configured pool whose workflow is not running when the engine starts (Temporal lost it, or it was
 * terminated while the engine was down) starts with the limit recorded for it — the one GET /pools
 * shows — not the configured seed.
 */
let first: TestEngine;
let second: Engine | undefined;

beforeAll(async () => {
  first = await startTestEngine({ pools: { seeded: 3 } });
});
afterAll(async () => {
  await second?.stop();
  rmSync(first.dir, { recursive: true, force: true });
});

describe('a configured pool started again with the engine', () => {
  it('takes the limit recorded for it (PUT at run time), not POOLS', async () => {
    expect((await first.api('PUT', '/api/v1/pools/seeded', { limit: 1 })).status).toBe(200);
    const pool = first.client.workflow.getHandle(poolWorkflowId(first.taskQueue, 'seeded'));
    expect((await pool.query(poolStateQuery)).limit).toBe(1);
    await pool.terminate('test: gone while the engine is down');
    await first.stop();
    second = await restartTestEngine(first, { pools: { seeded: 3 } });
    const started = second.client.workflow.getHandle(poolWorkflowId(first.taskQueue, 'seeded'));
    expect((await started.describe()).status.name).toBe('RUNNING');
    expect((await started.query(poolStateQuery)).limit).toBe(1);
    const shown = await second.app.request('/api/v1/pools/seeded');
    expect(((await shown.json()) as { limit: number }).limit).toBe(1);
  });
});
