/** The webhook endpoints' payloads: one zod schema each (validation, types and the OpenAPI document). */
import { z } from '@hono/zod-openapi';
import { DELIVERY_STATUSES } from '../projections/webhookReadModel.js';

const HttpUrl = z
  .url({ protocol: /^https?$/, error: 'an http or https URL' })
  .max(2000)
  .openapi({ example: 'https://hooks.example.com/job-engine' });

/** A job's callback_url at submit (and per batch item): its end is POSTed there, signed. */
export const CallbackUrl = HttpUrl.openapi({
  description:
    "The job's end (JobCompleted, JobFailed, JobCancelled, JobTerminated, JobTimedOut) is POSTed here, signed with the engine's callback secret (WEBHOOK_CALLBACK_SECRET).",
});

export const CreateWebhookBody = z
  .object({
    url: HttpUrl,
    event_types: z
      .array(z.string().min(1).max(100))
      .min(1)
      .max(50)
      .openapi({
        example: ['JobCompleted', 'JobFailed'],
        description: 'Event types of the store (JobCompleted, BatchCompleted, …) or `*`',
      }),
    job_type: z.string().min(1).max(100).optional().openapi({ description: 'Only jobs of this type' }),
    batch_id: z.string().min(1).max(200).optional().openapi({ description: 'Only this batch and its jobs' }),
    tag: z.string().min(1).max(64).optional().openapi({ description: 'Only jobs with this tag' }),
    secret: z
      .string()
      .max(200)
      .optional()
      .openapi({ description: 'whsec_<base64 of 24-64 bytes>; generated when left out. Shown once, in this answer.' }),
    description: z.string().max(1000).optional(),
  })
  .strict()
  .openapi('CreateWebhookRequest');

export const WebhookIdParam = z.object({
  webhook_id: z
    .string()
    .min(1)
    .max(200)
    .openapi({ param: { name: 'webhook_id', in: 'path' } }),
});
export const DeliveryIdParam = WebhookIdParam.extend({
  delivery_id: z
    .string()
    .min(1)
    .max(500)
    .openapi({ param: { name: 'delivery_id', in: 'path' } }),
});

export const WebhookResource = z
  .object({
    id: z.string(),
    url: z.string(),
    event_types: z.array(z.string()),
    job_type: z.string().nullable(),
    batch_id: z.string().nullable(),
    tag: z.string().nullable(),
    description: z.string().nullable(),
    user_id: z.string(),
    scope: z.enum(['all', 'owner']).openapi({ description: "all: an admin's subscription, every owner's jobs" }),
    created_at: z.string(),
  })
  .openapi('Webhook');

export const CreatedWebhookResource = WebhookResource.extend({
  secret: z.string().openapi({ description: 'The signing secret; shown only here' }),
}).openapi('CreatedWebhook');

export const ListDeliveriesQuery = z.object({
  status: z.enum(DELIVERY_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const DeliveryResource = z
  .object({
    id: z.string().openapi({ description: 'The delivery id: the webhook-id header of every attempt' }),
    webhook_id: z.string().nullable(),
    event_type: z.string(),
    event_position: z.number().int(),
    job_id: z.string().nullable(),
    batch_id: z.string().nullable(),
    url: z.string(),
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.number().int(),
    redeliveries: z.number().int(),
    last_status_code: z.number().int().nullable(),
    last_error: z.string().nullable(),
    last_response: z.string().nullable(),
    last_duration_ms: z.number().int().nullable(),
    last_attempt_at: z.string().nullable(),
    next_attempt_at: z.string().nullable(),
    delivered_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('WebhookDelivery');

export const DeliveryAttempt = z.object({
  attempt: z.number().int(),
  status_code: z.number().int().nullable(),
  duration_ms: z.number().int(),
  error: z.string().nullable(),
  response: z.string().nullable(),
  next_attempt_at: z.string().nullable(),
  at: z.string(),
});

export const DeliveryDetail = DeliveryResource.extend({
  body: z.string().openapi({ description: 'The JSON body sent on every attempt' }),
  attempt_log: z.array(DeliveryAttempt).openapi({ description: 'Every attempt, oldest first (from the delivery stream)' }),
}).openapi('WebhookDeliveryDetail');
