/** How a delivery is retried (pure: used by the workflow, the config reader and the docs). */
export interface WebhookRetryPolicy {
  /** Wait after the first failed attempt (ms). */
  initialIntervalMs: number;
  /** Each wait is this many times the previous one… */
  backoffCoefficient: number;
  /** …up to this (ms). */
  maxIntervalMs: number;
  /** No attempt starts later than this after the first one (ms): then the delivery has failed. */
  maxDurationMs: number;
  /** 0..1: each wait is shortened by a random part of up to this fraction (spreads receivers' load). */
  jitter: number;
}

/** About 30 attempts over 24 hours: 5 s, 10 s, 20 s … doubling up to one an hour (each up to half shorter). */
export const DEFAULT_WEBHOOK_RETRY: WebhookRetryPolicy = {
  initialIntervalMs: 5_000,
  backoffCoefficient: 2,
  maxIntervalMs: 3_600_000,
  maxDurationMs: 24 * 3_600_000,
  jitter: 0.5,
};

/** The wait after failed attempt `attempt` (1-based); `random` in [0, 1). */
export function webhookRetryDelayMs(policy: WebhookRetryPolicy, attempt: number, random: number): number {
  const base = Math.min(policy.maxIntervalMs, policy.initialIntervalMs * policy.backoffCoefficient ** (attempt - 1));
  return Math.max(1, Math.round(base * (1 - policy.jitter * random)));
}
