/** A batch's statuses and its event catalogue (stream id = batch id). */
export const BATCH_STATUSES = ['created', 'queued', 'running', 'paused', 'completed', 'failed', 'cancelled'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];
export const TERMINAL_BATCH_STATUSES: readonly BatchStatus[] = ['completed', 'failed', 'cancelled'];
export const isTerminalBatchStatus = (s: string) => (TERMINAL_BATCH_STATUSES as readonly string[]).includes(s);

export const BatchEvents = {
  created: 'BatchCreated',
  started: 'BatchStarted',
  paused: 'BatchPaused',
  resumed: 'BatchResumed',
  reprioritized: 'BatchReprioritized',
  cancelRequested: 'BatchCancelled',
  completed: 'BatchCompleted',
  failed: 'BatchFailed',
  retryStarted: 'BatchRetryStarted',
  signalIgnored: 'BatchSignalIgnored',
} as const;
