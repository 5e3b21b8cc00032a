/**
 * Runs `each` on every item, at most `limit` at once, taking the items in order (a slow item holds one
 * lane, the others go on). Resolves when all are done; the first rejection rejects it, as Promise.all
 * does (the other lanes go on meanwhile).
 */
export async function eachAtMost<T>(items: readonly T[], limit: number, each: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await each(items[next++]!);
    }),
  );
}
