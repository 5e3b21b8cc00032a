import type { Hook } from '@hono/zod-openapi';
import { ApiError } from './errors.js';

/** Turns a failed zod validation into our 400, naming each field. */
export const validationHook: Hook<any, any, any, any> = (result) => {
  if (!result.success) {
    const issues = result.error.issues as { path: PropertyKey[]; message: string }[];
    throw new ApiError(
      400,
      issues.map((i) => `${i.path.length ? i.path.map(String).join('.') : '(body)'}: ${i.message}`).join('; '),
    );
  }
};
