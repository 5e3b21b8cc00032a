/** Cursor paging of list endpoints: a bad cursor is a 400, the next page is named in two headers. */
import type { Context } from 'hono';
import { InvalidCursorError } from '../projections/pageCursor.js';
import { badRequest } from './errors.js';

/** Reads a page; a cursor this API did not hand out is a 400 naming the field. */
export function paged<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof InvalidCursorError) throw badRequest(`cursor: ${error.message}`);
    throw error;
  }
}

/** `X-Next-Cursor` and `Link: <…>; rel="next"` when there is a next page. */
export function pageHeaders(c: Context, nextCursor: string | null): void {
  if (!nextCursor) return;
  c.header('X-Next-Cursor', nextCursor);
  const next = new URL(c.req.url);
  next.searchParams.set('cursor', nextCursor);
  c.header('Link', `<${next.pathname}${next.search}>; rel="next"`);
}
