/**
 * POST /jobs/bulk has one bound per request: with no worker taking controls, the jobs after the wait
 * are not sent (instead of each waiting the bound, 8 at a time); one stuck job among live ones does
 * not stop the others. Fake commands stand in for Temporal (the real path: controlWait.int.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { OpenAPIHono } from '@hono/zod-openapi';
import { bulkRoutes } from '../../src/api/routes/bulk.js';
import { onError } from '../../src/api/errors.js';
import type { ApiDeps, AppEnv } from '../../src/api/context.js';
import { ControlNotTakenYet } from '../../src/commands/controlWait.js';
import type { JobRow } from '../../src/projections/jobReadModel.js';

const WAIT_MS = 250;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The bulk route over jobs whose ids starting with `stuck` never take their control. */
function bulkApp() {
  const sent: string[] = [];
  const row = (id: string) => ({ id, status: 'running', owner: 'u' }) as JobRow;
  const deps = {
    readModel: { getJob: row },
    commands: {
      controlWaitMs: WAIT_MS,
      jobOrAccepted: row,
      async control(target: JobRow) {
        sent.push(target.id);
        if (target.id.startsWith('stuck')) {
          await sleep(WAIT_MS);
          throw new ControlNotTakenYet(target.id, WAIT_MS);
        }
        await sleep(50); // 61 jobs, 8 at a time: the request outlasts the wait (400 ms against 250)
        return { ...target, status: 'paused' };
      },
    },
  } as unknown as ApiDeps;
  const app = new OpenAPIHono<AppEnv>();
  app.use('*', async (c, next) => {
    c.set('user', { id: 'u', role: 'admin' });
    await next();
  });
  app.route('/', bulkRoutes(deps));
  app.onError(onError);
  const pause = async (ids: string[]) => {
    const response = await app.request('/jobs/bulk', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'pause', ids }),
    });
    return { status: response.status, body: (await response.json()) as any };
  };
  return { pause, sent };
}

describe('POST /jobs/bulk: one bound per request', () => {
  it('with no job taking its control, the jobs after the wait are not sent', async () => {
    const { pause, sent } = bulkApp();
    const ids = Array.from({ length: 12 }, (_, i) => `stuck-${i}`);
    const { status, body } = await pause(ids);
    expect(status).toBe(200);
    expect(sent).toEqual(ids.slice(0, 8)); // the first 8 (its concurrency) only
    expect(body.results.slice(0, 8).every((r: any) => r.pending === true && r.success === true)).toBe(true);
    expect(body.results.slice(8).map((r: any) => r.error)).toEqual(Array(4).fill(expect.stringMatching(/^not sent:/)));
    expect(body).toMatchObject({ matched: 12, succeeded: 8, failed: 4 });
  });

  it('one stuck job among live ones does not stop the others', async () => {
    const { pause, sent } = bulkApp();
    const ids = ['stuck-0', ...Array.from({ length: 60 }, (_, i) => `live-${i}`)];
    const { body } = await pause(ids);
    expect(sent).toHaveLength(61);
    expect(body.results[0]).toMatchObject({ job_id: 'stuck-0', success: true, pending: true });
    expect(body.results.slice(1).every((r: any) => r.success === true && r.status === 'paused')).toBe(true);
    expect(body).toMatchObject({ matched: 61, succeeded: 61, failed: 0 });
  });
});
