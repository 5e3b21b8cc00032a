import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import {
  CreateWebhookBody,
  CreatedWebhookResource,
  DeliveryDetail,
  DeliveryIdParam,
  DeliveryResource,
  ListDeliveriesQuery,
  WebhookIdParam,
  WebhookResource,
} from '../webhookSchemas.js';
import { actorOf, type ApiUser, type AppEnv } from '../context.js';
import { ApiError, notFound } from '../errors.js';
import { validationHook } from '../validation.js';
import { errorResponses, json } from '../openapi.js';
import type { EventStore } from '../../eventstore/index.js';
import type { DeliveryRow, WebhookReadModel, WebhookRow } from '../../projections/webhookReadModel.js';
import type { WebhookCommands } from '../../commands/webhookCommands.js';
import { WebhookEvents, type DeliveryAttemptedData } from '../../webhooks/webhookEvents.js';

const errors = errorResponses('webhook');

export interface WebhookRouteDeps {
  webhooks: WebhookReadModel;
  commands: WebhookCommands;
  /** The log: a delivery's attempts are read from its stream. */
  events: EventStore;
}

/** A subscription the user may see: 404 when absent or deleted, 403 when it is someone else's. */
function loadWebhook(readModel: WebhookReadModel, user: ApiUser, webhookId: string): WebhookRow {
  const row = readModel.getWebhook(webhookId);
  if (!row || row.deleted_at) throw notFound(`Webhook not found: ${webhookId}`);
  if (user.role !== 'admin' && row.owner !== user.id) throw new ApiError(403, 'Access denied to this webhook');
  return row;
}

function loadDelivery(readModel: WebhookReadModel, webhook: WebhookRow, deliveryId: string): DeliveryRow {
  const row = readModel.getDelivery(deliveryId);
  if (!row || row.webhook_id !== webhook.id) throw notFound(`Delivery not found: ${deliveryId}`);
  return row;
}

const toWebhookResource = (row: WebhookRow): z.infer<typeof WebhookResource> => ({
  id: row.id,
  url: row.url,
  event_types: JSON.parse(row.event_types),
  job_type: row.job_type,
  batch_id: row.batch_id,
  tag: row.tag,
  description: row.description,
  user_id: row.owner,
  scope: row.scope,
  created_at: row.created_at,
});

const toDeliveryResource = (row: DeliveryRow): z.infer<typeof DeliveryResource> => {
  const { body: _body, last_position: _position, ...resource } = row;
  return resource;
};

/** Webhook subscriptions, their delivery log and redelivery. */
export function webhookRoutes(deps: WebhookRouteDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/webhooks',
      tags: ['webhooks'],
      summary: 'Subscribe a URL to events of your jobs and batches (signed, retried deliveries)',
      request: { body: { content: { 'application/json': { schema: CreateWebhookBody } }, required: true } },
      responses: { 201: json(CreatedWebhookResource, 'Recorded; the secret is shown only here'), ...errors },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const user = c.get('user');
      const row = await deps.commands.create({
        url: body.url,
        eventTypes: body.event_types,
        filter: { jobType: body.job_type ?? null, batchId: body.batch_id ?? null, tag: body.tag ?? null },
        secret: body.secret,
        description: body.description,
        owner: user.id,
        admin: user.role === 'admin',
        actor: actorOf(user),
      });
      return c.json({ ...toWebhookResource(row), secret: row.secret }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/webhooks',
      tags: ['webhooks'],
      summary: "Your subscriptions (an admin's: all), newest first",
      responses: { 200: json(z.array(WebhookResource), 'Subscriptions') },
    }),
    (c) => {
      const user = c.get('user');
      return c.json(deps.webhooks.listWebhooks(user.role === 'admin' ? undefined : user.id).map(toWebhookResource), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/webhooks/{webhook_id}',
      tags: ['webhooks'],
      summary: 'One subscription (without its secret)',
      request: { params: WebhookIdParam },
      responses: { 200: json(WebhookResource, 'The subscription'), ...errors },
    }),
    (c) => c.json(toWebhookResource(loadWebhook(deps.webhooks, c.get('user'), c.req.valid('param').webhook_id)), 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/webhooks/{webhook_id}',
      tags: ['webhooks'],
      summary: 'Delete a subscription: no new deliveries; retries in progress give up at their next attempt',
      request: { params: WebhookIdParam },
      responses: { 200: json(z.object({ success: z.literal(true), message: z.string() }), 'Deleted'), ...errors },
    }),
    async (c) => {
      const user = c.get('user');
      const row = loadWebhook(deps.webhooks, user, c.req.valid('param').webhook_id);
      await deps.commands.delete(row, actorOf(user));
      return c.json({ success: true as const, message: 'Webhook deleted' }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/webhooks/{webhook_id}/deliveries',
      tags: ['webhooks'],
      summary: "The subscription's deliveries, newest event first: status, attempts, last response",
      request: { params: WebhookIdParam, query: ListDeliveriesQuery },
      responses: { 200: json(z.array(DeliveryResource), 'Deliveries'), ...errors },
    }),
    (c) => {
      const row = loadWebhook(deps.webhooks, c.get('user'), c.req.valid('param').webhook_id);
      const query = c.req.valid('query');
      return c.json(deps.webhooks.listDeliveries(row.id, query).map(toDeliveryResource), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/webhooks/{webhook_id}/deliveries/{delivery_id}',
      tags: ['webhooks'],
      summary: 'One delivery, its body and every attempt',
      request: { params: DeliveryIdParam },
      responses: { 200: json(DeliveryDetail, 'The delivery'), ...errors },
    }),
    (c) => {
      const { webhook_id, delivery_id } = c.req.valid('param');
      const delivery = loadDelivery(deps.webhooks, loadWebhook(deps.webhooks, c.get('user'), webhook_id), delivery_id);
      const attemptLog = deps.events
        .readStream(delivery.id)
        .filter((e) => e.type === WebhookEvents.deliveryAttempted)
        .map((e) => {
          const d = e.data as DeliveryAttemptedData;
          return {
            attempt: d.attempt,
            status_code: d.statusCode,
            duration_ms: d.durationMs,
            error: d.error,
            response: d.response,
            next_attempt_at: d.nextAttemptAt,
            at: d.at,
          };
        });
      return c.json({ ...toDeliveryResource(delivery), body: delivery.body, attempt_log: attemptLog }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver',
      tags: ['webhooks'],
      summary: 'Send a delivery again (same delivery id and body, a new retry schedule); 409 while it is being delivered',
      request: { params: DeliveryIdParam },
      responses: { 202: json(z.object({ delivery_id: z.string(), message: z.string() }), 'Redelivery started'), ...errors },
    }),
    async (c) => {
      const user = c.get('user');
      const { webhook_id, delivery_id } = c.req.valid('param');
      const delivery = loadDelivery(deps.webhooks, loadWebhook(deps.webhooks, user, webhook_id), delivery_id);
      await deps.commands.redeliver(delivery, actorOf(user));
      return c.json({ delivery_id: delivery.id, message: 'Redelivery started' }, 202);
    },
  );

  return app;
}
