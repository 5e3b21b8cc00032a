/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): secrets are `whsec_<base64>`, the
 * signature is `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` keyed by the decoded secret.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const PREFIX = 'whsec_';

/** A fresh secret: 32 random bytes. */
export const generateWebhookSecret = (): string => PREFIX + randomBytes(32).toString('base64');

/** The key bytes of a secret, or an error message saying what is wrong with it. */
export function webhookSecretKey(secret: string): Buffer | string {
  if (!secret.startsWith(PREFIX)) return `a secret starts with ${PREFIX}`;
  const encoded = secret.slice(PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return `after ${PREFIX}, a secret is base64`;
  const key = Buffer.from(encoded, 'base64');
  if (key.length < 24 || key.length > 64) return 'a secret is 24 to 64 bytes (base64-encoded)';
  return key;
}

/** The `webhook-signature` header's value for one message. */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = webhookSecretKey(secret);
  if (typeof key === 'string') throw new Error(`webhook secret: ${key}`);
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

/** The three Standard Webhooks headers of one attempt. */
export function webhookHeaders(secret: string, id: string, timestampSeconds: number, body: string): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': signWebhook(secret, id, timestampSeconds, body),
  };
}

/** True when one of the header's space-separated `v1,` signatures is the message's (what a receiver does). */
export function verifyWebhook(secret: string, headers: Record<string, string | undefined>, body: string): boolean {
  const id = headers['webhook-id'];
  const timestamp = Number(headers['webhook-timestamp']);
  const given = headers['webhook-signature'];
  if (!id || !Number.isInteger(timestamp) || !given) return false;
  const expected = Buffer.from(signWebhook(secret, id, timestamp, body));
  return given.split(' ').some((candidate) => {
    const c = Buffer.from(candidate);
    return c.length === expected.length && timingSafeEqual(c, expected);
  });
}
