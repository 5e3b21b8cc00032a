/**
 * The controls a batch forwards to its jobs, sent from the process that owns the read model (it holds
 * a Temporal client; on `<queue>-scheduler`): one signal per job and control, straight to the job.
 *
 * A batch used to send each as a SignalExternal command of its own workflow. Each of those is a
 * transfer task on the batch: it must lock the batch's history — busy with its children's starts and
 * ends — to record that the signal went out, and it records two events there per job. Under load the
 * fan-out crawled: a resume of 101 paused jobs, initiated at once, arrived at 5–12 jobs a second,
 * the last 40 s later and after a reprioritize the batch had sent after it. From here a signal costs
 * the job's history alone, and the batch's history one activity per fan-out.
 */
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import type { ControlPayload, ReprioritizePayload } from '../domain/index.js';
import { jobControl } from '../workflows/jobContract.js';
import { eachAtMost } from '../commands/eachAtMost.js';
import { signalWithTries } from './signalWithTries.js';

/** The job controls a batch forwards (the signals of the job's public contract, same names). */
export type JobControlName = 'pause' | 'resume' | 'reprioritize' | 'cancel';

export interface JobSignalRequest {
  jobId: string;
  control: JobControlName;
  /**
   * The signal's payload. It carries a `requestId` unique to this control of this job, so a send
   * repeated by a retry of the activity is taken once (the job remembers the ids it took).
   * `cancel` with `closeAsCanceled` is followed by Temporal's cancel request of the job's execution.
   */
  payload: ControlPayload | ReprioritizePayload;
}

export interface SignalJobsResult {
  /** Signals (and cancel requests) that reached their job. */
  sent: number;
  /** Jobs that had finished or were gone: nothing more to tell them. */
  gone: string[];
}

/** Jobs told at once; a job's own controls go one after the other, in the order given. */
const JOBS_IN_PARALLEL = 32;
/** Tries per signal before the activity fails (and Temporal retries it: the ids keep it taken once). */
const TRIES = 3;

export function createJobSignalActivities(client: Client) {
  return {
    /**
     * Sends each request's control to its job. Per job in the order given (a pause and then a resume
     * must arrive in that order); jobs in parallel. A finished job is reported gone, not retried.
     */
    async signalJobs(request: { requests: JobSignalRequest[] }): Promise<SignalJobsResult> {
      const byJob = new Map<string, JobSignalRequest[]>();
      for (const r of request.requests) {
        const list = byJob.get(r.jobId);
        if (list) list.push(r);
        else byJob.set(r.jobId, [r]);
      }
      const gone: string[] = [];
      let sent = 0;
      await eachAtMost([...byJob.entries()], JOBS_IN_PARALLEL, async ([jobId, controls]) => {
        const handle = client.workflow.getHandle(jobId);
        try {
          for (const control of controls) {
            await signalWithTries(() => sendOne(handle, control), TRIES);
            sent++;
          }
        } catch (error) {
          if (!(error instanceof WorkflowNotFoundError)) throw error;
          gone.push(jobId);
        }
      });
      return { sent, gone };
    },
  };
}

export type JobSignalActivities = ReturnType<typeof createJobSignalActivities>;

async function sendOne(handle: WorkflowHandle, { control, payload }: JobSignalRequest): Promise<void> {
  await handle.signal(jobControl.signals[control] as SignalDefinition<[JobSignalRequest['payload']]>, payload);
  // A cancel that closes the job's execution as Canceled (see ControlPayload.closeAsCanceled).
  if (control === 'cancel' && payload.closeAsCanceled) await handle.cancel();
}
