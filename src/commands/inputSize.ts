import { tooLarge } from './commandErrors.js';

/** Largest job input as JSON by default (MAX_JOB_INPUT_BYTES): it travels in Temporal payloads (2 MB hard limit). */
export const DEFAULT_MAX_JOB_INPUT_BYTES = 256 * 1024;

/** A job's input larger than `maxBytes` as JSON is refused (413); `field` names it in the message. */
export function assertInputSize(input: unknown, maxBytes: number, field: string): void {
  const bytes = Buffer.byteLength(JSON.stringify(input ?? {}));
  if (bytes > maxBytes)
    throw tooLarge(`${field}: ${bytes} bytes of JSON, more than the ${maxBytes} allowed (MAX_JOB_INPUT_BYTES)`);
}
