import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { DomainError, poolWorkflowId } from '../domain/index.js';
import type { JobReadModel, PoolView } from '../projections/jobReadModel.js';
import { startPoolWorkflow } from '../activities/schedulerActivities.js';
import { setPoolLimitSignal, setPoolLimitUpdate } from '../workflows/poolContract.js';
import type { ReadYourWrites } from './jobCommands.js';
import { ControlNotTakenYet, DEFAULT_CONTROL_WAIT_MS, sendControl, withinControlWait } from './controlWait.js';

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

/** A pool's limit change: the pool after it, or as it is with `pending` when its workflow did not take
 * the change in time (it was sent again as a signal, kept in the pool's history). */
export interface PoolChange {
  pool: PoolView;
  /** Not taken yet: the 202's message. */
  pending?: string;
}

/** Pools change through their workflow (which records PoolCreated / PoolLimitChanged); reads are the
 * read model's. */
export class PoolCommands {
  constructor(private readonly deps: PoolCommandsDeps) {}

  /** Creates the pool with `limit`, or changes its limit; returns the pool once the change is readable. */
  async setLimit(name: string, limit: number, actor: string, reason?: string): Promise<PoolChange> {
    const timeout = this.deps.visibilityTimeoutMs ?? 15_000;
    if (!this.deps.readModel.getPool(name)) {
      await startPoolWorkflow(this.deps, name, limit, actor);
      await this.deps.projection.waitUntil(() => this.deps.readModel.getPool(name) !== undefined, timeout);
    }
    const pending =
      this.deps.readModel.getPool(name)?.limit !== limit
        ? await this.changeLimit(name, limit, actor, reason, timeout)
        : undefined;
    const pool = this.deps.readModel.getPool(name);
    if (!pool) throw new DomainError('unavailable', `Pool ${name} is not recorded yet (is a worker running?)`);
    return { pool, ...(pending ? { pending } : {}) };
  }

  /**
   * The pool's Update; resolves once the read model shows the change. Not taken within the control wait:
   * sent again as the setLimit signal with the Update's id (the pool takes the pair once), and the 202's
   * message is returned.
   */
  private async changeLimit(
    name: string,
    limit: number,
    actor: string,
    reason: string | undefined,
    timeout: number,
  ): Promise<string | undefined> {
    let position: number;
    try {
      const handle = this.deps.client.workflow.getHandle(poolWorkflowId(this.deps.taskQueue, name));
      const wait = this.deps.controlWaitMs ?? DEFAULT_CONTROL_WAIT_MS;
      const definitions = { update: setPoolLimitUpdate, signal: setPoolLimitSignal };
      ({ position } = await sendControl(handle, definitions, { limit, actor, reason }, randomUUID(), (call) =>
        withinControlWait(this.deps.client, `pool ${name}`, wait, call),
      ));
    } catch (error) {
      if (error instanceof ControlNotTakenYet) {
        // Kept in the pool's history: a 202. Not even the signal went out: a 503 (the same PUT may be sent again).
        if (error.kept) return `Limit change ${error.message}`;
        throw new DomainError('unavailable', `Limit change ${error.message}`);
      }
      if (!(error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure)) throw error;
      if (error.cause.type !== UPDATE_OUTLIVED_RUN) throw new DomainError('invalid', error.cause.message);
      // Accepted, then the pool's run closed (continued as new) before it answered. A pool flushes its
      // events before it closes a run and the new run carries the limit, so the change is in the log:
      // wait for it in the read model rather than call a valid request invalid. Not there: the run was
      // ended from outside (terminated) before it wrote the change.
      const recorded = await this.deps.projection.waitUntil(() => this.deps.readModel.getPool(name)?.limit === limit, timeout);
      if (!recorded) throw new DomainError('unavailable', `Pool ${name} closed before it recorded the new limit; try again`);
      return undefined;
    }
    await this.deps.projection.waitFor(position, timeout);
    return undefined;
  }
}
