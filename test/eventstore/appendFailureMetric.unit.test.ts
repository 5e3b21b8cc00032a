import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/api/metrics.js';
import { appendHealth, recordAppendFailure } from '../../src/eventstore/appendHealth.js';
import { EventIdConflictError } from '../../src/eventstore/index.js';

describe('eventstore_append_failures_total', () => {
  it('counts failed appends by error name, so a store that keeps refusing the record shows on /metrics', async () => {
    const metrics = createMetrics({ countByStatus: () => ({}), lastPosition: () => 0, checkpoint: () => 0 });
    const before = await metrics.registry.metrics();
    recordAppendFailure(new EventIdConflictError('e-1', 'stored with type X'));
    recordAppendFailure(new EventIdConflictError('e-2', 'stored with type Y'));
    recordAppendFailure(Object.assign(new Error('database is locked'), { name: 'SqliteError' }));
    const after = await metrics.registry.metrics();
    const value = (text: string, error: string) =>
      Number(new RegExp(`eventstore_append_failures_total\\{error="${error}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    expect(value(after, 'EventIdConflictError') - value(before, 'EventIdConflictError')).toBe(2);
    expect(value(after, 'SqliteError') - value(before, 'SqliteError')).toBe(1);
  });
});

describe('appendHealth (what /readyz reads)', () => {
  it('marks the store failing for a refusal, not for an event-id conflict (the outbox forks and goes on)', () => {
    recordAppendFailure(Object.assign(new Error('disk I/O error'), { name: 'SqliteError' }));
    const refusal = appendHealth().lastFailureAt;
    expect(refusal).not.toBeNull();
    expect(appendHealth().lastError).toBe('disk I/O error');
    recordAppendFailure(new EventIdConflictError('e-3', 'stored with type X'));
    expect(appendHealth().lastError).toBe('disk I/O error');
    expect(appendHealth().lastFailureAt).toBe(refusal);
  });
});
