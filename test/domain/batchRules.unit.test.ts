import { describe, expect, it } from 'vitest';
import {
  BATCH_STATUSES,
  INVALID_ARGUMENT,
  INVALID_TRANSITION,
  isTerminalBatchStatus,
  refuseBatchControl,
  type BatchStatus,
} from '../../src/domain/index.js';

const batch = (status: BatchStatus, extra: Partial<{ finishing: boolean; cancelRequested: boolean; priority: number }> = {}) => ({
  status,
  priority: extra.priority ?? 2,
  finishing: extra.finishing ?? isTerminalBatchStatus(status),
  cancelRequested: extra.cancelRequested ?? false,
});

describe('refuseBatchControl: what a batch allows', () => {
  it('pause: a running batch that is not winding down', () => {
    expect(refuseBatchControl('pause', batch('running'))).toBeUndefined();
    expect(refuseBatchControl('pause', batch('paused'))?.message).toBe('Batch is already paused');
    for (const status of BATCH_STATUSES.filter(isTerminalBatchStatus))
      expect(refuseBatchControl('pause', batch(status))?.type).toBe(INVALID_TRANSITION);
  });
  it('a cancel in progress refuses everything and says cancelled', () => {
    const cancelling = batch('running', { finishing: true, cancelRequested: true });
    expect(refuseBatchControl('pause', cancelling)?.message).toBe('Batch is cancelled; it cannot be paused');
    expect(refuseBatchControl('cancel', cancelling)?.message).toBe('Batch is already cancelled');
    expect(refuseBatchControl('reprioritize', cancelling, 4)?.type).toBe(INVALID_TRANSITION);
  });
  it('resume: only a paused batch not winding down', () => {
    expect(refuseBatchControl('resume', batch('paused'))).toBeUndefined();
    expect(refuseBatchControl('resume', batch('running'))?.message).toBe('Batch is running, not paused');
  });
  it('reprioritize checks the argument first, then the state', () => {
    expect(refuseBatchControl('reprioritize', batch('completed'), 9)?.type).toBe(INVALID_ARGUMENT);
    expect(refuseBatchControl('reprioritize', batch('running', { priority: 4 }), 4)?.message).toBe(
      'Batch already has priority 4',
    );
    expect(refuseBatchControl('reprioritize', batch('running'), 1)).toBeUndefined();
  });
});
