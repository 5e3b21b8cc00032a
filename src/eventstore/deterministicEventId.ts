/** `deterministicEventId(runId, seq)` → `${runId}:${seq}`: the same step always yields the same id. */
export const deterministicEventId = (...parts: (string | number)[]): string => parts.join(':');
