import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateWebhookSecret, webhookSecretKey } from './signature.js';

/**
 * The engine's secret for jobs' callback_url deliveries: WEBHOOK_CALLBACK_SECRET if set, else the one
 * kept in `file` (created with a fresh secret on the first start, readable by its owner only), so it
 * stays the same across restarts. An unreadable configured secret stops the start.
 */
export function loadCallbackSecret(configured: string | undefined, file: string): string {
  const secret = configured ?? (existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined);
  if (secret !== undefined) {
    const key = webhookSecretKey(secret);
    if (typeof key === 'string') throw new Error(`WEBHOOK_CALLBACK_SECRET: ${key}`);
    return secret;
  }
  const fresh = generateWebhookSecret();
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${fresh}\n`, { mode: 0o600 });
  return fresh;
}
