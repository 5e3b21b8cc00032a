import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { DomainError, poolWorkflowId } from '../domain/index.js';
import type { JobReadModel, PoolView } from '../projections/jobReadModel.js';
import { startPoolWorkflow } from '../activities/schedulerActivities.js';
import { setPoolLimitUpdate } from '../workflows/poolContract.js';
import type { ReadYourWrites } from './jobCommands.js';

export interface PoolCommandsDeps {
  client: Client;
  taskQueue: string;
  readModel: JobReadModel;
  projection: ReadYourWrites;
  storeAccess: 'local' | 'remote';
  /** Pools created here pick by local activity (this process runs the workers). */
  pickLocally?: boolean;
  /** Temporal priority key of the pools' workflows (see POOL_PRIORITY_KEY). */
  poolPriorityKey?: number;
  visibilityTimeoutMs?: number;
}

/** Pools change through their workflow (which records PoolCreated / PoolLimitChanged); reads are the
 * read model's. */
export class PoolCommands {
  constructor(private readonly deps: PoolCommandsDeps) {}

  /** Creates the pool with `limit`, or changes its limit; returns the pool once the change is readable. */
  async setLimit(name: string, limit: number, actor: string, reason?: string): Promise<PoolView> {
    const timeout = this.deps.visibilityTimeoutMs ?? 15_000;
    if (!this.deps.readModel.getPool(name)) {
      await startPoolWorkflow(this.deps, name, limit, actor);
      await this.deps.projection.waitUntil(() => this.deps.readModel.getPool(name) !== undefined, timeout);
    }
    if (this.deps.readModel.getPool(name)?.limit !== limit) {
      let result;
      try {
        result = await this.deps.client.workflow
          .getHandle(poolWorkflowId(this.deps.taskQueue, name))
          .executeUpdate(setPoolLimitUpdate, { args: [{ limit, actor, reason }] });
      } catch (error) {
        if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure)
          throw new DomainError('invalid', error.cause.message);
        throw error;
      }
      await this.deps.projection.waitFor(result.position, timeout);
    }
    const pool = this.deps.readModel.getPool(name);
    if (!pool) throw new DomainError('unavailable', `Pool ${name} is not recorded yet (is a worker running?)`);
    return pool;
  }
}
