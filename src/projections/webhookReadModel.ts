import { ReadModelHolder, type ReadModelSource } from './readModelHolder.js';

/** The webhook tables of the read model (derived from the webhook streams; rebuildable). */
export const WEBHOOK_SCHEMA = `
-- Webhook subscriptions, from their streams (webhook-<id>). A deleted one keeps its row (deleted_at).
CREATE TABLE IF NOT EXISTS webhooks (
  id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  scope TEXT NOT NULL,
  url TEXT NOT NULL,
  event_types TEXT NOT NULL,
  job_type TEXT,
  batch_id TEXT,
  tag TEXT,
  secret TEXT NOT NULL,
  description TEXT,
  created_at TEXT NOT NULL,
  created_position INTEGER NOT NULL,
  deleted_at TEXT,
  deleted_position INTEGER,
  last_position INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS webhooks_by_created ON webhooks (created_at DESC, id DESC);

-- Deliveries of subscriptions and of jobs' callback_url, from the delivery streams.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
  id TEXT PRIMARY KEY,
  webhook_id TEXT,
  job_id TEXT,
  batch_id TEXT,
  event_type TEXT NOT NULL,
  event_position INTEGER NOT NULL,
  url TEXT NOT NULL,
  body TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  redeliveries INTEGER NOT NULL,
  last_status_code INTEGER,
  last_error TEXT,
  last_response TEXT,
  last_duration_ms INTEGER,
  last_attempt_at TEXT,
  next_attempt_at TEXT,
  delivered_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  last_position INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_webhook
  ON webhook_deliveries (webhook_id, event_position DESC, id DESC) WHERE webhook_id IS NOT NULL;
`;

/** A webhooks row as stored (event_types is JSON text). */
export interface WebhookRow {
  id: string;
  owner: string;
  scope: 'all' | 'owner';
  url: string;
  event_types: string;
  job_type: string | null;
  batch_id: string | null;
  tag: string | null;
  secret: string;
  description: string | null;
  created_at: string;
  /** Log positions of its WebhookCreated / WebhookDeleted: it hears the events between them. */
  created_position: number;
  deleted_at: string | null;
  deleted_position: number | null;
  last_position: number;
}

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface DeliveryRow {
  id: string;
  webhook_id: string | null;
  job_id: string | null;
  batch_id: string | null;
  event_type: string;
  event_position: number;
  url: string;
  body: string;
  status: DeliveryStatus;
  /** Attempts of every run (first delivery and redeliveries). */
  attempts: number;
  redeliveries: number;
  last_status_code: number | null;
  last_error: string | null;
  last_response: string | null;
  last_duration_ms: number | null;
  last_attempt_at: string | null;
  next_attempt_at: string | null;
  delivered_at: string | null;
  created_at: string;
  updated_at: string;
  last_position: number;
}

/** A list of subscriptions is not paged: an owner has a few. */
export const MAX_WEBHOOKS_LISTED = 1000;

/** Queries of the webhook tables. Reads only; webhookProjection is the only writer. */
export class WebhookReadModel {
  private readonly holder: ReadModelHolder;

  /** Statements are prepared per call through the holder: they follow an online rebuild's swap. */
  constructor(source: ReadModelSource) {
    this.holder = ReadModelHolder.of(source);
  }

  private get byId() {
    return this.holder.prepare<[string], WebhookRow>('SELECT * FROM webhooks WHERE id = ?');
  }

  private get deliveryById() {
    return this.holder.prepare<[string], DeliveryRow>('SELECT * FROM webhook_deliveries WHERE id = ?');
  }

  private get existedBetween() {
    return this.holder.prepare<[number, number], WebhookRow>(
      'SELECT * FROM webhooks WHERE created_position < ? AND (deleted_position IS NULL OR deleted_position > ?)',
    );
  }

  /** The row, deleted or not. */
  getWebhook(id: string): WebhookRow | undefined {
    return this.byId.get(id);
  }

  /** The subscriptions that existed when some event in positions `first`..`last` was recorded: those
   * created before `last` and not deleted before `first`. The event at position p is heard by those
   * with created_position < p and no deleted_position <= p. */
  subscribedBetween(first: number, last: number): WebhookRow[] {
    return this.existedBetween.all(last, first);
  }

  /** Subscriptions not deleted, newest first (at most MAX_WEBHOOKS_LISTED). */
  listWebhooks(owner?: string): WebhookRow[] {
    return this.holder
      .prepare<Record<string, unknown>, WebhookRow>(
        `SELECT * FROM webhooks WHERE deleted_at IS NULL ${owner !== undefined ? 'AND owner = @owner' : ''}
         ORDER BY created_at DESC, id DESC LIMIT ${MAX_WEBHOOKS_LISTED}`,
      )
      .all(owner !== undefined ? { owner } : {});
  }

  getDelivery(id: string): DeliveryRow | undefined {
    return this.deliveryById.get(id);
  }

  /** A subscription's deliveries, newest event first. */
  listDeliveries(webhookId: string, filter: { status?: DeliveryStatus; limit: number }): DeliveryRow[] {
    return this.holder
      .prepare<Record<string, unknown>, DeliveryRow>(
        `SELECT * FROM webhook_deliveries WHERE webhook_id = @webhookId ${filter.status ? 'AND status = @status' : ''}
         ORDER BY event_position DESC, id DESC LIMIT @limit`,
      )
      .all({ webhookId, limit: filter.limit, ...(filter.status ? { status: filter.status } : {}) });
  }
}
