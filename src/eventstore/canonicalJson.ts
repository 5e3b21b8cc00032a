/**
 * JSON text with object keys sorted at every depth. Used only to decide whether a re-sent event
 * carries the same payload as the stored one: a retry may rebuild its data object with the keys in
 * another order, and that must still count as the same event.
 */
export const canonicalJson = (jsonText: string): string => JSON.stringify(sortKeys(JSON.parse(jsonText)));

const sortKeys = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const record = value as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(record)
      .sort()
      .map((key) => [key, sortKeys(record[key])]),
  );
};

export const isSameJson = (left: string, right: string): boolean =>
  left === right || canonicalJson(left) === canonicalJson(right);
