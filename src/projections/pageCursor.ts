/** The opaque cursor of a newest-first page (created_at DESC, id DESC): the last row's two keys. */
export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
}

export const encodeCursor = (row: { created_at: string; id: string }): string =>
  Buffer.from(JSON.stringify([row.created_at, row.id])).toString('base64url');

/** [created_at, id] of the row a page ended at; InvalidCursorError for anything else. */
export function decodeCursor(cursor: string): [string, string] {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string') {
      return [value[0], value[1]];
    }
  } catch {
    // fall through
  }
  throw new InvalidCursorError('cursor is not one this API returned');
}
