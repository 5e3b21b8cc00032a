import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { EventStore } from '../eventstore/index.js';
import { staticEgressRefusal } from '../jobs/egressGuard.js';
import type { DeliveryRow, WebhookReadModel, WebhookRow } from '../projections/webhookReadModel.js';
import { webhookDeliveryWorkflow } from '../workflows/webhookDeliveryWorkflow.js';
import {
  SUBSCRIBABLE_EVENT_TYPES,
  WebhookEvents,
  webhookStreamId,
  type WebhookCreatedData,
  type WebhookDeletedData,
  type WebhookFilter,
} from '../webhooks/webhookEvents.js';
import { generateWebhookSecret, webhookSecretKey } from '../webhooks/signature.js';
import type { WebhookRetryPolicy } from '../webhooks/retryPolicy.js';
import type { ReadYourWrites } from './jobCommands.js';
import { badRequest, conflict } from './commandErrors.js';
import { appendCommandEvent } from './commandEvents.js';
import { pollUntil } from './pollUntil.js';

/** How long a redelivery waits for a finished delivery's run to close before it answers 409. */
const RUN_CLOSE_WAIT_MS = 5_000;

export interface WebhookCommandsDeps {
  client: Client;
  /** Task queue of job workflows: a redelivery's workflow runs there. */
  taskQueue: string;
  /** The log: this command side writes the subscription streams (`webhook-<id>`). */
  eventStore: EventStore;
  readModel: WebhookReadModel;
  projection: ReadYourWrites;
  /** A redelivery's retry schedule and POST timeout (the engine's). */
  retry: WebhookRetryPolicy;
  requestTimeoutMs: number;
  storeAccess?: 'local' | 'remote';
  /** How long a command waits for its event to show in the read model (ms). */
  visibilityTimeoutMs?: number;
}

export interface CreateWebhookCommand {
  url: string;
  eventTypes: string[];
  filter: WebhookFilter;
  /** Default: a fresh `whsec_` secret. */
  secret?: string;
  description?: string;
  owner: string;
  /** An admin's subscription hears every owner's jobs. */
  admin: boolean;
  actor: string;
}

/** A URL a webhook may be sent to: 400 naming `field` when it can be told unsafe without connecting. */
export function assertDeliverableUrl(url: string, field: string): void {
  const refusal = staticEgressRefusal(url);
  if (refusal) throw badRequest(`${field}: ${refusal}`);
}

/**
 * The write side of webhook subscriptions: WebhookCreated / WebhookDeleted in the subscription's
 * stream (`webhook-<id>`, event id `webhook-<id>:<version>`, appended with that expected version), then
 * a wait until the read model shows it; and redeliveries, through Temporal.
 */
export class WebhookCommands {
  private readonly visibilityTimeoutMs: number;

  constructor(private readonly deps: WebhookCommandsDeps) {
    this.visibilityTimeoutMs = deps.visibilityTimeoutMs ?? 15_000;
  }

  async create(command: CreateWebhookCommand): Promise<WebhookRow> {
    assertDeliverableUrl(command.url, 'url');
    const unknown = command.eventTypes.filter((t) => t !== '*' && !SUBSCRIBABLE_EVENT_TYPES.includes(t));
    if (unknown.length > 0)
      throw badRequest(`event_types: unknown ${unknown.join(', ')}; valid: *, ${SUBSCRIBABLE_EVENT_TYPES.join(', ')}`);
    if (command.secret !== undefined) {
      const key = webhookSecretKey(command.secret);
      if (typeof key === 'string') throw badRequest(`secret: ${key}`);
    }
    const webhookId = `wh_${randomUUID()}`;
    const data: WebhookCreatedData = {
      webhookId,
      owner: command.owner,
      scope: command.admin ? 'all' : 'owner',
      url: command.url,
      eventTypes: [...new Set(command.eventTypes)],
      filter: command.filter,
      secret: command.secret ?? generateWebhookSecret(),
      description: command.description ?? null,
      at: new Date().toISOString(),
    };
    await this.record(webhookId, WebhookEvents.created, data, command.actor);
    return this.deps.readModel.getWebhook(webhookId)!;
  }

  /** Deliveries not started yet stop at once (the dispatcher skips it from this event on); running
   * ones give up at their next attempt. */
  async delete(row: WebhookRow, actor: string): Promise<void> {
    const data: WebhookDeletedData = { webhookId: row.id, at: new Date().toISOString() };
    await this.record(row.id, WebhookEvents.deleted, data, actor);
  }

  /** Sends a delivery again as a new run of its workflow (same delivery id, same body); 409 while one runs. */
  async redeliver(delivery: DeliveryRow, actor: string): Promise<void> {
    const start = () =>
      this.deps.client.workflow.start(webhookDeliveryWorkflow, {
        workflowId: delivery.id,
        taskQueue: this.deps.taskQueue,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
        args: [
          {
            deliveryId: delivery.id,
            webhookId: delivery.webhook_id,
            jobId: delivery.job_id,
            batchId: delivery.batch_id,
            eventType: delivery.event_type,
            eventPosition: delivery.event_position,
            url: delivery.url,
            body: delivery.body,
            redelivery: delivery.redeliveries + 1,
            actor,
            retry: this.deps.retry,
            requestTimeoutMs: this.deps.requestTimeoutMs,
            ...(this.deps.storeAccess ? { storeAccess: this.deps.storeAccess } : {}),
          },
        ],
      });
    const stillRunning = () => conflict(`Delivery ${delivery.id} is still being delivered`);
    try {
      await start();
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      // The read model shows a delivery's outcome as soon as its run records it, a moment before the
      // run closes: a finished delivery is redelivered once that run has closed.
      // Temporal's own state, as a job's or a batch's retry waits for its previous run.
      const closed =
        delivery.status !== 'pending' &&
        (await pollUntil(
          async () => (await this.deps.client.workflow.getHandle(delivery.id).describe()).status.name !== 'RUNNING',
          RUN_CLOSE_WAIT_MS,
        ));
      if (!closed) throw stillRunning();
      try {
        await start();
      } catch (again) {
        throw again instanceof WorkflowExecutionAlreadyStartedError ? stillRunning() : again;
      }
    }
    await this.deps.projection.waitUntil(
      () => (this.deps.readModel.getDelivery(delivery.id)?.redeliveries ?? 0) > delivery.redeliveries,
      this.visibilityTimeoutMs,
    );
  }

  /** Appends one event to `webhook-<id>` (see appendCommandEvent), then waits for the read model. */
  private async record(webhookId: string, type: string, data: object, actor: string): Promise<void> {
    const position = appendCommandEvent(this.deps.eventStore, webhookStreamId(webhookId), type, data, {
      actor,
      correlationId: webhookId,
    });
    await this.deps.projection.waitFor(position, this.visibilityTimeoutMs);
  }
}
