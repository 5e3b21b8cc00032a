import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { DomainError, poolWorkflowId } from '../domain/index.js';
import type { JobReadModel, PoolView } from '../projections/jobReadModel.js';
import { startPoolWorkflow } from '../activities/schedulerActivities.js';
import { setPoolLimitUpdate } from '../workflows/poolContract.js';
import type { ReadYourWrites } from './jobCommands.js';
import { ControlNotTakenYet, DEFAULT_CONTROL_WAIT_MS, withinControlWait } from './controlWait.js';

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
  /** How long a limit change waits for the pool's workflow to take it (see JobCommandsDeps.controlWaitMs). */
  controlWaitMs?: number;
}

/** Temporal's failure type for an Update accepted by a run that closed before it completed. */
const UPDATE_OUTLIVED_RUN = 'AcceptedUpdateCompletedWorkflow';

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
    if (this.deps.readModel.getPool(name)?.limit !== limit) await this.changeLimit(name, limit, actor, reason, timeout);
    const pool = this.deps.readModel.getPool(name);
    if (!pool) throw new DomainError('unavailable', `Pool ${name} is not recorded yet (is a worker running?)`);
    return pool;
  }

  /** The pool's Update; resolves once the read model shows the change. */
  private async changeLimit(name: string, limit: number, actor: string, reason: string | undefined, timeout: number) {
    let position: number;
    try {
      const handle = this.deps.client.workflow.getHandle(poolWorkflowId(this.deps.taskQueue, name));
      const wait = this.deps.controlWaitMs ?? DEFAULT_CONTROL_WAIT_MS;
      ({ position } = await withinControlWait(this.deps.client, `pool ${name}`, wait, () =>
        handle.executeUpdate(setPoolLimitUpdate, { args: [{ limit, actor, reason }] }),
      ));
    } catch (error) {
      // A 503 (the same PUT may be sent again): the change may still be taken when a worker runs the pool.
      if (error instanceof ControlNotTakenYet) throw new DomainError('unavailable', `Limit change ${error.message}`);
      if (!(error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure)) throw error;
      if (error.cause.type !== UPDATE_OUTLIVED_RUN) throw new DomainError('invalid', error.cause.message);
      // Accepted, then the pool's run closed (continued as new) before it answered. A pool flushes its
      // events before it closes a run and the new run carries the limit, so the change is in the log:
      // wait for it in the read model rather than call a valid request invalid. Not there: the run was
      // ended from outside (terminated) before it wrote the change.
      const recorded = await this.deps.projection.waitUntil(() => this.deps.readModel.getPool(name)?.limit === limit, timeout);
      if (!recorded) throw new DomainError('unavailable', `Pool ${name} closed before it recorded the new limit; try again`);
      return;
    }
    await this.deps.projection.waitFor(position, timeout);
  }
}
