import type { WorkflowHandle } from '@temporalio/client';
import type { PoolRequest } from '../../src/workflows/poolContract.js';

/** The `poolRequest` signals a pool's run received (wake-ups and jobs' own asks), in order. */
export async function poolRequestsOf(pool: WorkflowHandle): Promise<PoolRequest[]> {
  return (await pool.fetchHistory()).events!.flatMap((e) => {
    const signal = e.workflowExecutionSignaledEventAttributes;
    const data = signal?.signalName === 'poolRequest' ? signal.input?.payloads?.[0]?.data : undefined;
    return data ? [JSON.parse(Buffer.from(data).toString('utf8')) as PoolRequest] : [];
  });
}
