/** Building blocks of the route modules' OpenAPI definitions, and of their optional bodies. */
import { z } from '@hono/zod-openapi';
import { ErrorResponse } from './schemas.js';
import { badRequest } from './errors.js';

/** A JSON response of `schema`. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});

/** The error responses of a route about one kind of resource (401, 413, 415, 500 are added to every
 * operation by withGlobalResponses). */
export const errorResponses = (resource: 'job' | 'batch' | 'pool' | 'schedule' | 'webhook') => ({
  400: json(ErrorResponse, 'Invalid request'),
  403: json(ErrorResponse, `Not your ${resource}`),
  404: json(ErrorResponse, `No such ${resource}`),
  409: json(ErrorResponse, `Not possible in the ${resource}’s current state`),
});

/** A JSON body that may be left out. */
export const optionalBody = <T extends z.ZodType>(schema: T) => ({
  body: { content: { 'application/json': { schema } }, required: false },
});

export function formatIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues.map((i) => `${i.path.length ? i.path.map(String).join('.') : '(body)'}: ${i.message}`).join('; ');
}

/** Control bodies are optional: an empty POST is the same as `{}`; anything else is validated (400). */
export async function optionalJson<T extends z.ZodType>(text: string, schema: T): Promise<z.infer<T>> {
  if (!text.trim()) return schema.parse({});
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw badRequest(`Malformed JSON body: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw badRequest(formatIssues(parsed.error.issues));
  return parsed.data;
}
