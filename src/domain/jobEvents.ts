/** The event catalogue of a job stream (stream id = job id). Who writes which: see the README. */
export const JobEvents = {
  submitted: 'JobSubmitted',
  retried: 'JobRetried',
  /** Waiting for dependencies: data.waitingFor lists the unmet ones. */
  blocked: 'JobBlocked',
  /** One dependency reached the state its dependent needs (no status change). */
  dependencyMet: 'JobDependencyMet',
  /** Waiting for its time: data.runAt. */
  scheduled: 'JobScheduled',
  /** In its pool's line: data.pool, data.weight. The line is ordered by this event's position. */
  queued: 'JobQueued',
  /** Got a slot in its pool: it runs now. */
  started: 'JobStarted',
  progress: 'JobProgress',
  /** Progress inside a running step, with the step's message (written by the step activity). */
  stepProgress: 'JobStepProgress',
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
  /**
   * The job goes on in a new run from an earlier point of its history (`temporal workflow reset`, the
   * Web UI's Reset): data.status and the counters are the new run's. Recorded by that run, ahead of its
   * first events (its earlier ones are its base run's, already in the log).
   */
  reset: 'JobReset',
  deleted: 'JobDeleted',
} as const;
export type JobEventType = (typeof JobEvents)[keyof typeof JobEvents];

export const isJobEventType = (type: string): type is JobEventType => (Object.values(JobEvents) as string[]).includes(type);
