/** The event catalogue of a job stream (stream id = job id). Who writes which: see the README. */
export const JobEvents = {
  submitted: 'JobSubmitted',
  retried: 'JobRetried',
  started: 'JobStarted',
  progress: 'JobProgress',
  paused: 'JobPaused',
  resumed: 'JobResumed',
  reprioritized: 'JobReprioritized',
  attemptFailed: 'JobAttemptFailed',
  completed: 'JobCompleted',
  failed: 'JobFailed',
  cancelled: 'JobCancelled',
  terminated: 'JobTerminated',
  timedOut: 'JobTimedOut',
  signalIgnored: 'JobSignalIgnored',
  deleted: 'JobDeleted',
} as const;
export type JobEventType = (typeof JobEvents)[keyof typeof JobEvents];

export const isJobEventType = (type: string): type is JobEventType => (Object.values(JobEvents) as string[]).includes(type);
