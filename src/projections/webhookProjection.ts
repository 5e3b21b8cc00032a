import type { ScannedEvent } from '../eventstore/index.js';
import {
  WebhookEvents,
  type DeliveryAttemptedData,
  type DeliveryEndedData,
  type DeliveryRequestedData,
  type WebhookCreatedData,
} from '../webhooks/webhookEvents.js';
import type { Projection } from './jobProjection.js';
import type { ReadModelDb } from './readModelDb.js';
import type { DeliveryRow, WebhookRow } from './webhookReadModel.js';

const upsertSql = (table: string, columns: readonly string[]) =>
  `INSERT OR REPLACE INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`;

const WEBHOOK_COLUMNS = [
  'id',
  'owner',
  'scope',
  'url',
  'event_types',
  'job_type',
  'batch_id',
  'tag',
  'secret',
  'description',
  'created_at',
  'created_position',
  'deleted_at',
  'deleted_position',
  'last_position',
] as const;

const DELIVERY_COLUMNS = [
  'id',
  'webhook_id',
  'job_id',
  'batch_id',
  'event_type',
  'event_position',
  'url',
  'body',
  'status',
  'attempts',
  'redeliveries',
  'last_status_code',
  'last_error',
  'last_response',
  'last_duration_ms',
  'last_attempt_at',
  'next_attempt_at',
  'delivered_at',
  'created_at',
  'updated_at',
  'last_position',
] as const;

const atOf = (event: ScannedEvent): string => (event.data as { at?: string }).at ?? event.recordedAt;

/** The fold of a subscription stream. A WebhookCreated on a row that exists is ignored (never clobber). */
export function evolveWebhook(row: WebhookRow | undefined, event: ScannedEvent): WebhookRow | undefined {
  if (row && event.globalPosition <= row.last_position) return row;
  if (event.type === WebhookEvents.created) {
    if (row) return row;
    const d = event.data as WebhookCreatedData;
    return {
      id: d.webhookId,
      owner: d.owner,
      scope: d.scope,
      url: d.url,
      event_types: JSON.stringify(d.eventTypes),
      job_type: d.filter.jobType,
      batch_id: d.filter.batchId,
      tag: d.filter.tag,
      secret: d.secret,
      description: d.description,
      created_at: atOf(event),
      created_position: event.globalPosition,
      deleted_at: null,
      deleted_position: null,
      last_position: event.globalPosition,
    };
  }
  if (!row || event.type !== WebhookEvents.deleted || row.deleted_at) return row;
  return { ...row, deleted_at: atOf(event), deleted_position: event.globalPosition, last_position: event.globalPosition };
}

/** The fold of a delivery stream: a redelivery (a later WebhookDeliveryRequested) puts it back to pending. */
export function evolveDelivery(row: DeliveryRow | undefined, event: ScannedEvent): DeliveryRow | undefined {
  if (row && event.globalPosition <= row.last_position) return row;
  const at = atOf(event);
  const touched = { updated_at: at, last_position: event.globalPosition };
  if (event.type === WebhookEvents.deliveryRequested) {
    const d = event.data as DeliveryRequestedData;
    if (row) return { ...row, status: 'pending', redeliveries: d.redelivery, delivered_at: null, ...touched };
    return {
      id: d.deliveryId,
      webhook_id: d.webhookId,
      job_id: d.jobId,
      batch_id: d.batchId,
      event_type: d.eventType,
      event_position: d.eventPosition,
      url: d.url,
      body: d.body,
      status: 'pending',
      attempts: 0,
      redeliveries: d.redelivery,
      last_status_code: null,
      last_error: null,
      last_response: null,
      last_duration_ms: null,
      last_attempt_at: null,
      next_attempt_at: null,
      delivered_at: null,
      created_at: at,
      ...touched,
    };
  }
  if (!row) return undefined;
  switch (event.type) {
    case WebhookEvents.deliveryAttempted: {
      const d = event.data as DeliveryAttemptedData;
      return {
        ...row,
        attempts: row.attempts + 1,
        last_status_code: d.statusCode,
        last_error: d.error,
        last_response: d.response,
        last_duration_ms: d.durationMs,
        last_attempt_at: at,
        next_attempt_at: d.nextAttemptAt,
        ...touched,
      };
    }
    case WebhookEvents.delivered:
      return { ...row, status: 'delivered', delivered_at: at, next_attempt_at: null, ...touched };
    case WebhookEvents.deliveryFailed:
      return {
        ...row,
        status: 'failed',
        next_attempt_at: null,
        last_error: (event.data as DeliveryEndedData).error ?? row.last_error,
        ...touched,
      };
    default:
      return row;
  }
}

/** webhooks and webhook_deliveries, from the webhook and delivery streams. Idempotent by last_position. */
export function webhookProjection(): Projection {
  let preparedFor: ReadModelDb | undefined;
  let s: ReturnType<typeof prepare>;
  function prepare(db: ReadModelDb) {
    return {
      webhook: db.prepare<[string], WebhookRow>('SELECT * FROM webhooks WHERE id = ?'),
      delivery: db.prepare<[string], DeliveryRow>('SELECT * FROM webhook_deliveries WHERE id = ?'),
      upsertWebhook: db.prepare(upsertSql('webhooks', WEBHOOK_COLUMNS)),
      upsertDelivery: db.prepare(upsertSql('webhook_deliveries', DELIVERY_COLUMNS)),
    };
  }
  return {
    name: 'webhooks',
    eventTypePrefixes: ['Webhook'],
    apply(db, event) {
      if (!event.type.startsWith('Webhook')) return;
      if (preparedFor !== db) {
        s = prepare(db);
        preparedFor = db;
      }
      if (event.type === WebhookEvents.created || event.type === WebhookEvents.deleted) {
        const id = (event.data as { webhookId: string }).webhookId;
        const before = s.webhook.get(id);
        const after = evolveWebhook(before, event);
        if (after && after !== before) s.upsertWebhook.run(after);
        return;
      }
      const id = (event.data as { deliveryId?: string }).deliveryId ?? event.streamId;
      const before = s.delivery.get(id);
      const after = evolveDelivery(before, event);
      if (after && after !== before) s.upsertDelivery.run(after);
    },
  };
}
