import { Context } from '@temporalio/activity';
import { guardedRequest } from '../jobs/egressGuard.js';
import { PermanentJobError } from '../jobs/jobType.js';
import type { WebhookReadModel } from '../projections/webhookReadModel.js';
import { webhookHeaders } from '../webhooks/signature.js';

export interface WebhookActivityDeps {
  /** The subscriptions (their secrets, and whether they still exist). */
  webhooks: Pick<WebhookReadModel, 'getWebhook'>;
  /** Signs the deliveries to jobs' callback_url (one secret per engine). */
  callbackSecret: string;
}

export interface PostWebhookRequest {
  deliveryId: string;
  /** null: a job's callback_url (signed with the engine's callback secret). */
  webhookId: string | null;
  url: string;
  body: string;
  /** The longest a POST may take (ms). */
  timeoutMs: number;
}

export interface PostWebhookOutcome {
  /** The receiver answered 2xx. */
  ok: boolean;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  /** The start of the answer (at most 1 KiB). */
  response: string | null;
  /** Set when no later attempt can succeed: why (refused URL, subscription deleted). */
  giveUp?: string;
}

const RESPONSE_KEPT = 1024;

/**
 * One POST of a delivery: signed (Standard Webhooks headers; the timestamp is this attempt's),
 * through the egress guard of the `http` job type. It never throws for the receiver's sake — every
 * outcome is data the workflow records — so Temporal runs it once per attempt; served by the process
 * that owns the read model (`<queue>-webhooks`), where the secrets are.
 */
export function createWebhookActivities(deps: WebhookActivityDeps) {
  return {
    async postWebhook(request: PostWebhookRequest): Promise<PostWebhookOutcome> {
      let secret = deps.callbackSecret;
      if (request.webhookId !== null) {
        const row = deps.webhooks.getWebhook(request.webhookId);
        if (!row || row.deleted_at)
          return {
            ok: false,
            statusCode: null,
            durationMs: 0,
            error: null,
            response: null,
            giveUp: 'the subscription was deleted',
          };
        secret = row.secret;
      }
      const timestamp = Math.floor(Date.now() / 1000);
      const started = performance.now();
      const signal = AbortSignal.any([AbortSignal.timeout(request.timeoutMs), Context.current().cancellationSignal]);
      try {
        const response = await guardedRequest(request.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'job-engine-webhooks/1',
            ...webhookHeaders(secret, request.deliveryId, timestamp, request.body),
          },
          body: request.body,
          signal,
        });
        const ok = response.status >= 200 && response.status < 300;
        return {
          ok,
          statusCode: response.status,
          durationMs: Math.round(performance.now() - started),
          error: ok ? null : `HTTP ${response.status}`,
          response: response.body.slice(0, RESPONSE_KEPT) || null,
        };
      } catch (error) {
        const message = (error as Error).message.replace(/^http job: /, '');
        const durationMs = Math.round(performance.now() - started);
        if (error instanceof PermanentJobError)
          return { ok: false, statusCode: null, durationMs, error: message, response: null, giveUp: message };
        return { ok: false, statusCode: null, durationMs, error: message || String(error), response: null };
      }
    },
  };
}

export type WebhookActivities = ReturnType<typeof createWebhookActivities>;
