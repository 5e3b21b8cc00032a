/**
 * The event catalogue of webhooks. A subscription's stream (`webhook-<id>`) is written by
 * WebhookCommands (the API's command side); a delivery's stream (its delivery id) only by its
 * webhookDeliveryWorkflow. Pure data: imported by the command side, the workflow and the projection.
 */
import { BatchEvents, JOB_END_EVENT_TYPES, JobEvents } from '../domain/index.js';

export const WebhookEvents = {
  created: 'WebhookCreated',
  deleted: 'WebhookDeleted',
  /** A delivery (or a redelivery of it) began: what is sent, to where. */
  deliveryRequested: 'WebhookDeliveryRequested',
  /** One POST: status code, duration, error, when the next one is due. */
  deliveryAttempted: 'WebhookDeliveryAttempted',
  delivered: 'WebhookDelivered',
  /** Given up: out of time, refused by the egress policy, or its subscription was deleted. */
  deliveryFailed: 'WebhookDeliveryFailed',
} as const;

/** The events a subscription may name in `event_types` (or `*`: every one of them). */
export const SUBSCRIBABLE_EVENT_TYPES: readonly string[] = [...Object.values(JobEvents), ...Object.values(BatchEvents)];

/** The job events a `callback_url` hears: the job's end, however it ended. */
export const TERMINAL_JOB_EVENT_TYPES: readonly string[] = JOB_END_EVENT_TYPES;

/** The stream of one subscription's changes. */
export const webhookStreamId = (webhookId: string) => `webhook-${webhookId}`;

/** A delivery's id: stable per (subscription, event), so starting its workflow twice is a no-op.
 * It is the workflow id, the delivery's stream id and the `webhook-id` header. */
export const subscriptionDeliveryId = (webhookId: string, eventPosition: number) => `webhook-${webhookId}-${eventPosition}`;
/** The delivery of a job's end to its `callback_url`. */
export const callbackDeliveryId = (jobId: string, eventPosition: number) => `callback-${jobId}-${eventPosition}`;

/** Which of an owner's jobs and batches a subscription hears (all filters must hold). */
export interface WebhookFilter {
  jobType: string | null;
  batchId: string | null;
  tag: string | null;
}

/** data of WebhookCreated. The secret is kept in the log (the deliveries are signed with it after a
 * rebuild too); the API shows it once, in the answer to the create. */
export interface WebhookCreatedData {
  webhookId: string;
  owner: string;
  /** `all`: an admin's subscription, hears every owner's jobs; `owner`: only its owner's. */
  scope: 'all' | 'owner';
  url: string;
  eventTypes: string[];
  filter: WebhookFilter;
  secret: string;
  description: string | null;
  at: string;
}

export interface WebhookDeletedData {
  webhookId: string;
  at: string;
}

/** data of WebhookDeliveryRequested. */
export interface DeliveryRequestedData {
  deliveryId: string;
  /** null for a job's callback_url. */
  webhookId: string | null;
  jobId: string | null;
  batchId: string | null;
  eventType: string;
  eventPosition: number;
  url: string;
  /** The JSON body, exactly as signed and sent on every attempt. */
  body: string;
  /** 0 for the first delivery, n for the n-th redelivery. */
  redelivery: number;
  at: string;
}

export interface DeliveryAttemptedData {
  deliveryId: string;
  attempt: number;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  /** The start of the receiver's answer (at most 1 KiB). */
  response: string | null;
  /** ISO; null when there is no next attempt. */
  nextAttemptAt: string | null;
  at: string;
}

export interface DeliveryEndedData {
  deliveryId: string;
  attempts: number;
  error?: string;
  at: string;
}
