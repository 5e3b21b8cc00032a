/**
 * webhookDeliveryWorkflow: one delivery of one event to one URL (a subscription's, or a job's
 * callback_url). Workflow id = delivery id, so the dispatcher starting it twice is a no-op. It POSTs
 * through an activity (one try each) and waits between attempts on durable timers — exponential
 * backoff with jitter drawn from the workflow's seeded random (deterministic on replay) — until a 2xx,
 * a reason to give up, or the retry window is over. It is the only writer of the delivery's stream
 * (stream id = delivery id): WebhookDeliveryRequested, one WebhookDeliveryAttempted per POST, then
 * WebhookDelivered or WebhookDeliveryFailed; event ids are derived from the run and a sequence, so a
 * replay never doubles one and a redelivery (a new run of the same id) adds its own.
 */
import { proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { NewEvent } from '../eventstore/index.js';
import type { PostWebhookOutcome, WebhookActivities } from '../activities/webhookActivities.js';
import { storeActivities, type StoreAccess } from './eventOutbox.js';
import {
  WebhookEvents,
  type DeliveryAttemptedData,
  type DeliveryEndedData,
  type DeliveryRequestedData,
} from '../webhooks/webhookEvents.js';
import { webhookRetryDelayMs, type WebhookRetryPolicy } from '../webhooks/retryPolicy.js';

/** What is delivered (as WebhookDeliveryRequested records it), and how. */
export interface WebhookDeliveryInput extends Omit<DeliveryRequestedData, 'at'> {
  /** Who asked for it (`webhooks` for the dispatcher, `user:<id>` for a redelivery). */
  actor: string;
  retry: WebhookRetryPolicy;
  /** The longest one POST may take (ms). */
  requestTimeoutMs: number;
  storeAccess?: StoreAccess;
}

export interface WebhookDeliveryResult {
  delivered: boolean;
  attempts: number;
}

const RESPONSE_GRACE_MS = 10_000;

export async function webhookDeliveryWorkflow(input: WebhookDeliveryInput): Promise<WebhookDeliveryResult> {
  const info = workflowInfo();
  const store = storeActivities(input.storeAccess);
  const http = proxyActivities<WebhookActivities>({
    taskQueue: `${info.taskQueue}-webhooks`,
    startToCloseTimeout: input.requestTimeoutMs + RESPONSE_GRACE_MS,
    // One try per attempt: the workflow's own backoff (with jitter) decides when the next one starts.
    retry: { maximumAttempts: 1 },
  });
  let seq = 0;
  const record = async (events: { type: string; data: object }[]) => {
    const recorded: NewEvent[] = events.map(({ type, data }) => ({
      eventId: `${input.deliveryId}:${info.runId}:${++seq}`,
      type,
      data: data as Record<string, unknown>,
      metadata: { actor: input.actor, correlationId: input.deliveryId, workflowId: info.workflowId, runId: info.runId },
    }));
    await store.appendEvents({ streamId: input.deliveryId, events: recorded });
  };
  const { actor: _actor, retry: _retry, requestTimeoutMs: _timeout, storeAccess: _access, ...delivered } = input;
  const requested: DeliveryRequestedData = { ...delivered, at: new Date().toISOString() };
  await record([{ type: WebhookEvents.deliveryRequested, data: requested }]);

  const firstAttemptAt = Date.now();
  for (let attempt = 1; ; attempt++) {
    let outcome: PostWebhookOutcome;
    try {
      outcome = await http.postWebhook({
        deliveryId: input.deliveryId,
        webhookId: input.webhookId,
        url: input.url,
        body: input.body,
        timeoutMs: input.requestTimeoutMs,
      });
    } catch (error) {
      // The attempt's worker went away (or the activity timed out): an attempt without an answer.
      outcome = {
        ok: false,
        statusCode: null,
        durationMs: 0,
        error: `attempt lost: ${(error as Error).message}`,
        response: null,
      };
    }
    const delayMs = outcome.ok || outcome.giveUp ? null : webhookRetryDelayMs(input.retry, attempt, Math.random());
    const retryAt = delayMs === null ? null : Date.now() + delayMs;
    const willRetry = retryAt !== null && retryAt - firstAttemptAt <= input.retry.maxDurationMs;
    const attempted: DeliveryAttemptedData = {
      deliveryId: input.deliveryId,
      attempt,
      statusCode: outcome.statusCode,
      durationMs: outcome.durationMs,
      error: outcome.error,
      response: outcome.response,
      nextAttemptAt: willRetry ? new Date(retryAt).toISOString() : null,
      at: new Date().toISOString(),
    };
    const events: { type: string; data: object }[] = [{ type: WebhookEvents.deliveryAttempted, data: attempted }];
    const ended: DeliveryEndedData = { deliveryId: input.deliveryId, attempts: attempt, at: attempted.at };
    if (outcome.ok) events.push({ type: WebhookEvents.delivered, data: ended });
    else if (!willRetry) {
      const why = outcome.giveUp ?? `no 2xx in ${attempt} attempts within the retry window; last: ${outcome.error}`;
      events.push({ type: WebhookEvents.deliveryFailed, data: { ...ended, error: why } });
    }
    await record(events);
    if (!willRetry) return { delivered: outcome.ok, attempts: attempt };
    await sleep(delayMs!);
  }
}
