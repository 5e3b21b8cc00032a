/** Resource pools: named concurrency limits that hold across every worker process. */

/** The pool of a job whose type and submit name none. */
export const DEFAULT_POOL = 'default';
export const POOL_NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
export const MAX_POOL_LIMIT = 100_000;
export const MAX_POOL_WEIGHT = 1_000;

/** The event catalogue of a pool stream (stream id `pool:<name>`), written by the pool's workflow. */
export const PoolEvents = {
  created: 'PoolCreated',
  limitChanged: 'PoolLimitChanged',
  /** Slots the pool's pick gave out, recorded by the pick before it tells the jobs (see pickPoolWaiters). */
  slotsGranted: 'PoolSlotsGranted',
} as const;

export const poolStreamId = (name: string): string => `pool:${name}`;
/** The pool's workflow id: per task queue, since several engines may share a Temporal namespace. */
export const poolWorkflowId = (taskQueue: string, name: string): string => `${taskQueue}/pool:${name}`;

/** `gpu:2,default:50` → { gpu: 2, default: 50 }; throws on a malformed entry. */
export function parsePoolLimits(text: string | undefined): Record<string, number> {
  const pools: Record<string, number> = {};
  for (const entry of (text ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const [name, limit] = entry.split(':').map((p) => p.trim());
    const n = Number(limit);
    if (!name || !POOL_NAME_PATTERN.test(name) || !Number.isInteger(n) || n < 0 || n > MAX_POOL_LIMIT)
      throw new Error(`POOLS: expected name:limit entries like "gpu:2,default:50", got ${JSON.stringify(entry)}`);
    pools[name] = n;
  }
  return pools;
}
